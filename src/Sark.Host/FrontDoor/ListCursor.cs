using System.Buffers.Text;
using System.Text;

namespace Sark.Host.FrontDoor;

/// <summary>Which listing a front-door cursor belongs to; a cursor of one is not accepted by another.</summary>
internal enum ListKind : byte
{
    Tools = (byte)'t',
    Resources = (byte)'r',
    ResourceTemplates = (byte)'u',
    Prompts = (byte)'p',
}

/// <summary>
/// The cursors of the front door's listings (<c>tools/list</c>, <c>resources/list</c>,
/// <c>resources/templates/list</c>, <c>prompts/list</c>): opaque to the client, base64url (no
/// padding) of a version byte, the listing's <see cref="ListKind"/> and the UTF-8 key (name or URI)
/// of the last item served. A listing is sorted by key in ordinal order and the next page starts
/// after that key, so a list that changes between pages neither repeats nor skips an item that
/// stays. Pure: no I/O, no state.
/// </summary>
internal static class ListCursor
{
    /// <summary>The format of the cursors issued now; any other version is refused.</summary>
    public const byte Version = 1;

    /// <summary>Characters of a cursor accepted at most (a key of about 12,000 bytes); a longer one is not ours.</summary>
    public const int MaxLength = 16 * 1024;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>The cursor that resumes <paramref name="kind"/> after <paramref name="after"/>.</summary>
    public static string Encode(ListKind kind, string after)
    {
        // A lone surrogate (never in a key that came through JSON intact) becomes U+FFFD.
        var bytes = new byte[2 + Encoding.UTF8.GetByteCount(after)];
        bytes[0] = Version;
        bytes[1] = (byte)kind;
        Encoding.UTF8.GetBytes(after, bytes.AsSpan(2));
        return Base64Url.EncodeToString(bytes);
    }

    /// <summary>
    /// The key after which <paramref name="cursor"/> resumes <paramref name="kind"/>; false when it
    /// is not a cursor that <see cref="Encode"/> made for that listing (bad base64url, another
    /// version or listing, a key that is not UTF-8, or too long).
    /// </summary>
    public static bool TryDecode(ListKind kind, string? cursor, out string after)
    {
        after = "";
        if (string.IsNullOrEmpty(cursor) || cursor.Length > MaxLength)
            return false;
        // TryDecodeFromChars throws on a character outside base64url: check first.
        if (!Base64Url.IsValid(cursor.AsSpan(), out var length) || length < 2)
            return false;
        var bytes = new byte[length];
        if (!Base64Url.TryDecodeFromChars(cursor, bytes, out var written) || written != length || bytes[0] != Version || bytes[1] != (byte)kind)
            return false;
        try
        {
            after = StrictUtf8.GetString(bytes, 2, written - 2);
        }
        catch (DecoderFallbackException)
        {
            return false;
        }

        // One spelling per cursor: padding, white space or stray bits make it one we did not issue.
        return string.Equals(Encode(kind, after), cursor, StringComparison.Ordinal);
    }

    /// <summary>
    /// The key after which <paramref name="cursor"/> resumes <paramref name="kind"/>, null without a
    /// cursor; a cursor that is not ours is an InvalidParams error with <c>invalid_request</c>.
    /// </summary>
    public static string? Read(ListKind kind, string? cursor, string method, string requestId)
    {
        if (cursor is null)
            return null;
        if (TryDecode(kind, cursor, out var after))
            return after;
        var shown = cursor.Length <= 64 ? cursor : string.Concat(cursor.AsSpan(0, 64), "…");
        throw FrontDoorErrors.Protocol(
            $"The cursor '{shown}' is not one that {method} returned; start the listing again without a cursor.",
            ModelContextProtocol.McpErrorCode.InvalidParams, Sark.Actors.Errors.SarkErrorCode.InvalidRequest, requestId);
    }

    /// <summary>
    /// One page of <paramref name="sorted"/> (ordered by <paramref name="key"/>, ordinal, each key
    /// once): at most <paramref name="pageSize"/> items whose key comes after
    /// <paramref name="after"/> (all from the start when null), and the cursor of the next page
    /// when more remain.
    /// </summary>
    public static List<T> Page<T>(IReadOnlyList<T> sorted, Func<T, string> key, string? after, int pageSize, ListKind kind, out string? next)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(pageSize, 1);
        var start = after is null ? 0 : FirstAfter(sorted, key, after);
        var count = Math.Min(pageSize, sorted.Count - start);
        var page = new List<T>(count);
        for (var i = start; i < start + count; i++)
            page.Add(sorted[i]);
        next = start + count < sorted.Count ? Encode(kind, key(page[^1])) : null;
        return page;
    }

    /// <summary>The index of the first item whose key is after <paramref name="after"/> (binary search).</summary>
    private static int FirstAfter<T>(IReadOnlyList<T> sorted, Func<T, string> key, string after)
    {
        int low = 0, high = sorted.Count;
        while (low < high)
        {
            var middle = low + ((high - low) / 2);
            if (string.CompareOrdinal(key(sorted[middle]), after) <= 0)
                low = middle + 1;
            else
                high = middle;
        }

        return low;
    }
}
