using System.Text;
using ModelContextProtocol;
using Sark.Host.FrontDoor;

namespace Sark.Actors.Tests.FrontDoor;

/// <summary>
/// <see cref="ListCursor"/>, compiled in from Sark.Host: the opaque, versioned cursors of the
/// front door's listings, and the pages they resume.
/// </summary>
public sealed class ListCursorSpecs
{
    [Theory]
    [InlineData("demo__echo")]
    [InlineData("sark://everything/demo://resource/static/document/architecture.md")]
    [InlineData("prompt-é-日本-🙂")]
    [InlineData("")]
    public void A_cursor_round_trips_its_key(string key)
    {
        var cursor = ListCursor.Encode(ListKind.Tools, key);

        Assert.True(ListCursor.TryDecode(ListKind.Tools, cursor, out var after));
        Assert.Equal(key, after);
        if (key.Length > 0)
            Assert.DoesNotContain(key, cursor, StringComparison.Ordinal);
        Assert.All(cursor, c => Assert.True(char.IsAsciiLetterOrDigit(c) || c is '-' or '_', $"'{c}' is not base64url"));
    }

    [Theory]
    [InlineData("0")]
    [InlineData("500")]
    [InlineData("not base64 at all!")]
    [InlineData("AQ")]
    [InlineData("====")]
    [InlineData(" ")]
    public void Anything_but_a_cursor_we_issued_is_refused(string cursor) =>
        Assert.False(ListCursor.TryDecode(ListKind.Tools, cursor, out _));

    [Fact]
    public void A_cursor_of_another_version_or_listing_is_refused()
    {
        var other = Base64(2, (byte)ListKind.Tools, "demo__echo");
        var ours = Base64(ListCursor.Version, (byte)ListKind.Tools, "demo__echo");

        Assert.False(ListCursor.TryDecode(ListKind.Tools, other, out _));
        Assert.True(ListCursor.TryDecode(ListKind.Tools, ours, out _));
        Assert.False(ListCursor.TryDecode(ListKind.Prompts, ours, out _));
    }

    [Fact]
    public void A_cursor_spelled_otherwise_than_we_issue_it_is_refused()
    {
        var cursor = ListCursor.Encode(ListKind.Tools, "demo__a");

        Assert.False(ListCursor.TryDecode(ListKind.Tools, cursor + "=", out _));
        Assert.False(ListCursor.TryDecode(ListKind.Tools, cursor[..2] + " " + cursor[2..], out _));
        Assert.False(ListCursor.TryDecode(ListKind.Tools, new string('A', ListCursor.MaxLength + 4), out _));
    }

    [Fact]
    public void A_key_that_is_not_utf8_is_refused() =>
        Assert.False(ListCursor.TryDecode(ListKind.Tools, Convert.ToBase64String([ListCursor.Version, (byte)ListKind.Tools, 0xC3, 0x28]).TrimEnd('=').Replace('+', '-').Replace('/', '_'), out _));

    [Fact]
    public void Read_refuses_a_foreign_cursor_with_invalid_params_and_invalid_request()
    {
        var ex = Assert.Throws<McpProtocolException>(() => ListCursor.Read(ListKind.Tools, "12", "tools/list", "req-1"));

        Assert.Equal(McpErrorCode.InvalidParams, ex.ErrorCode);
        Assert.Equal("invalid_request", ex.Data["code"]);
        Assert.Equal("req-1", ex.Data["request_id"]);
        Assert.Contains("tools/list", ex.Message, StringComparison.Ordinal);
        Assert.Null(ListCursor.Read(ListKind.Tools, null, "tools/list", "req-1"));
    }

    [Fact]
    public void Pages_cover_the_list_once_in_order()
    {
        var all = Enumerable.Range(0, 11).Select(i => $"s__t{i:D2}").ToList();

        var seen = Walk(() => all, pageSize: 3);

        Assert.Equal(all, seen);
    }

    [Fact]
    public void A_list_that_changes_between_pages_neither_repeats_nor_skips_what_stays()
    {
        var list = new List<string> { "a", "c", "e", "g", "i", "k" };
        var page1 = ListCursor.Page(list, k => k, null, 2, ListKind.Tools, out var next);
        Assert.Equal(["a", "c"], page1);

        // Before the next page: one name before the cursor and one after it appear, one after it goes.
        list = ["0", "a", "c", "d", "e", "i", "k"];
        Assert.True(ListCursor.TryDecode(ListKind.Tools, next, out var after));
        var page2 = ListCursor.Page(list, k => k, after, 2, ListKind.Tools, out next);
        Assert.True(ListCursor.TryDecode(ListKind.Tools, next, out after));
        var page3 = ListCursor.Page(list, k => k, after, 2, ListKind.Tools, out next);

        Assert.Equal(["d", "e"], page2);
        Assert.Equal(["i", "k"], page3);
        Assert.Null(next);
    }

    [Fact]
    public void A_cursor_past_the_last_item_gives_an_empty_last_page()
    {
        var page = ListCursor.Page(new[] { "a", "b" }, k => k, "zz", 5, ListKind.Tools, out var next);

        Assert.Empty(page);
        Assert.Null(next);
    }

    [Fact]
    public void Non_ascii_keys_resume_in_ordinal_order()
    {
        var all = new[] { "p__a", "p__z", "p__é", "p__日本", "p__🙂" }.Order(StringComparer.Ordinal).ToList();

        Assert.Equal(all, Walk(() => all, pageSize: 1));
    }

    private static List<string> Walk(Func<List<string>> list, int pageSize)
    {
        var seen = new List<string>();
        string? after = null;
        for (var i = 0; i < 100; i++)
        {
            seen.AddRange(ListCursor.Page(list(), k => k, after, pageSize, ListKind.Tools, out var next));
            if (next is null)
                return seen;
            Assert.True(ListCursor.TryDecode(ListKind.Tools, next, out var key));
            after = key;
        }

        throw new InvalidOperationException("more than 100 pages");
    }

    private static string Base64(byte version, byte kind, string key) =>
        Convert.ToBase64String([version, kind, .. Encoding.UTF8.GetBytes(key)]).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
