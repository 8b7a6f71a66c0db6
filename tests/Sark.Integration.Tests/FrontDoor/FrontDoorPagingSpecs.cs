using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using Sark.Integration.Tests.Infrastructure;

namespace Sark.Integration.Tests.FrontDoor;

/// <summary>The demo server and server-everything behind a front door with pages of 2 (<c>sark.front-door.page-size</c>).</summary>
public sealed class FrontDoorPagingNodeFixture : FrontDoorNodeFixture
{
    public const int PageSize = 2;

    protected override string Config => $$"""
        sark {
          node.shutdown-drain = 2s
          front-door.page-size = {{PageSize}}
          {{NodeConfigs.DemoUpstream()}}
          {{NodeConfigs.EverythingUpstream()}}
        }
        """;
}

/// <summary>
/// The listings of the front door page with opaque cursors that resume after the last name
/// served (issue 7): every item once, a list that changes between pages neither repeats nor skips
/// what stays, and a cursor the node did not issue is an InvalidParams error with <c>invalid_request</c>.
/// </summary>
public sealed class FrontDoorPagingSpecs(FrontDoorPagingNodeFixture fixture) : IClassFixture<FrontDoorPagingNodeFixture>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Every_tool_is_listed_once_over_pages_of_the_configured_size_with_opaque_cursors()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        await using var client = await FrontDoorClients.ConnectAsync(fixture.Node, timeout.Token);

        var pages = await WalkToolsAsync(client, null, timeout.Token);
        var all = (await client.ListToolsAsync(cancellationToken: timeout.Token)).Select(t => t.Name).ToList();

        Assert.All(pages, p => Assert.InRange(p.Names.Count, 1, FrontDoorPagingNodeFixture.PageSize));
        var walked = pages.SelectMany(p => p.Names).ToList();
        Assert.Equal(walked.Distinct().Count(), walked.Count);
        Assert.Equal(all.Order(StringComparer.Ordinal), walked);
        Assert.Contains("demo__echo", walked);
        Assert.Contains("everything__echo", walked);
        foreach (var cursor in pages.Select(p => p.Next).OfType<string>())
        {
            Assert.False(int.TryParse(cursor, out _), $"the cursor '{cursor}' is an offset");
            Assert.DoesNotContain("__", cursor, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_tool_added_before_the_cursor_between_pages_neither_repeats_nor_skips_the_others()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        await using var client = await FrontDoorClients.ConnectAsync(fixture.Node, timeout.Token);
        var before = (await client.ListToolsAsync(cancellationToken: timeout.Token)).Select(t => t.Name).ToHashSet();
        var first = await client.ListToolsAsync(new ListToolsRequestParams(), timeout.Token);
        Assert.NotNull(first.NextCursor);

        // "demo__a0…" sorts before every name of the first page: an offset would now serve one twice.
        var name = $"a0{Guid.NewGuid():N}"[..16];
        var added = await client.CallToolAsync("demo__add_tool", new Dictionary<string, object?> { ["name"] = name }, cancellationToken: timeout.Token);
        Assert.NotEqual(true, added.IsError);
        await Eventually.UntilAsync(async () => (await client.ListToolsAsync(cancellationToken: timeout.Token)).Select(t => t.Name).ToList(),
            names => names.Contains($"demo__{name}"), Timeout, "the added tool listed");

        var rest = await WalkToolsAsync(client, first.NextCursor, timeout.Token);
        var walked = first.Tools.Select(t => t.Name).Concat(rest.SelectMany(p => p.Names)).ToList();

        Assert.Equal(walked.Distinct().Count(), walked.Count);
        Assert.Equal(before.Order(StringComparer.Ordinal), walked);
    }

    [Fact]
    public async Task Prompts_and_resources_page_the_same_way()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        await using var client = await FrontDoorClients.ConnectAsync(fixture.Node, timeout.Token);

        var prompts = await WalkAsync(async cursor =>
        {
            var page = await client.ListPromptsAsync(new ListPromptsRequestParams { Cursor = cursor }, timeout.Token);
            return (page.Prompts.Select(p => p.Name).ToList(), page.NextCursor);
        });
        var resources = await WalkAsync(async cursor =>
        {
            var page = await client.ListResourcesAsync(new ListResourcesRequestParams { Cursor = cursor }, timeout.Token);
            return (page.Resources.Select(r => r.Uri).ToList(), page.NextCursor);
        });

        var promptNames = prompts.SelectMany(p => p.Names).ToList();
        var uris = resources.SelectMany(p => p.Names).ToList();
        Assert.True(prompts.Count >= 2, $"{promptNames.Count} prompts came in {prompts.Count} page(s)");
        Assert.Contains("everything__simple-prompt", promptNames);
        Assert.Equal(promptNames.Order(StringComparer.Ordinal), promptNames);
        Assert.All(prompts.Concat(resources), p => Assert.InRange(p.Names.Count, 1, FrontDoorPagingNodeFixture.PageSize));
        Assert.Equal(uris.Distinct().Count(), uris.Count);
        Assert.Equal(uris.Order(StringComparer.Ordinal), uris);
        Assert.Equal((await client.ListResourcesAsync(cancellationToken: timeout.Token)).Count, uris.Count);
    }

    [Theory]
    [InlineData("tools/list", "2")]
    [InlineData("tools/list", "not a cursor!")]
    [InlineData("prompts/list", "AQ")]
    [InlineData("resources/list", "0")]
    public async Task A_cursor_the_node_did_not_issue_is_invalid_params_with_invalid_request(string method, string cursor)
    {
        using var timeout = new CancellationTokenSource(Timeout);
        await using var client = await FrontDoorClients.ConnectAsync(fixture.Node, timeout.Token);

        var ex = await Assert.ThrowsAsync<McpProtocolException>(() => method switch
        {
            "tools/list" => client.ListToolsAsync(new ListToolsRequestParams { Cursor = cursor }, timeout.Token).AsTask(),
            "prompts/list" => client.ListPromptsAsync(new ListPromptsRequestParams { Cursor = cursor }, timeout.Token).AsTask(),
            _ => client.ListResourcesAsync(new ListResourcesRequestParams { Cursor = cursor }, timeout.Token).AsTask(),
        });

        Assert.Equal(McpErrorCode.InvalidParams, ex.ErrorCode);
        Assert.Equal("invalid_request", ex.Data["code"]?.ToString());
        Assert.Contains(method, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_tools_cursor_is_not_a_prompts_cursor()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        await using var client = await FrontDoorClients.ConnectAsync(fixture.Node, timeout.Token);
        var tools = await client.ListToolsAsync(new ListToolsRequestParams(), timeout.Token);
        Assert.NotNull(tools.NextCursor);

        var ex = await Assert.ThrowsAsync<McpProtocolException>(() =>
            client.ListPromptsAsync(new ListPromptsRequestParams { Cursor = tools.NextCursor }, timeout.Token).AsTask());

        Assert.Equal(McpErrorCode.InvalidParams, ex.ErrorCode);
    }

    /// <summary>The pages of <c>tools/list</c> from <paramref name="cursor"/> to the end.</summary>
    private static Task<List<(List<string> Names, string? Next)>> WalkToolsAsync(McpClient client, string? cursor, CancellationToken cancellationToken) =>
        WalkAsync(async c =>
        {
            var page = await client.ListToolsAsync(new ListToolsRequestParams { Cursor = c }, cancellationToken);
            return (page.Tools.Select(t => t.Name).ToList(), page.NextCursor);
        }, cursor);

    /// <summary>Follows the cursors from <paramref name="cursor"/> to the end (at most 500 pages).</summary>
    private static async Task<List<(List<string> Names, string? Next)>> WalkAsync(Func<string?, Task<(List<string> Names, string? Next)>> list, string? cursor = null)
    {
        var pages = new List<(List<string> Names, string? Next)>();
        for (var i = 0; i < 500; i++)
        {
            var page = await list(cursor);
            pages.Add(page);
            if (page.Next is null)
                return pages;
            cursor = page.Next;
        }

        throw new InvalidOperationException("more than 500 pages");
    }
}
