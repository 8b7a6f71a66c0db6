using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using Sark.Integration.Tests.Infrastructure;

namespace Sark.Integration.Tests.FrontDoor;

/// <summary>
/// Two nodes on the demo upstream, the same in all but <c>direct-tool-calls</c>: one answers plain
/// tool calls itself, the other sends every request through the SDK's MCP server. The caller may
/// not call <c>demo__add</c> (a policy refusal to compare).
/// </summary>
public abstract class DirectSwitchNodesFixture : IAsyncLifetime
{
    private NodeProcess? _direct;
    private NodeProcess? _sdk;

    public NodeProcess Direct => _direct ?? throw new InvalidOperationException("The node has not started.");

    public NodeProcess Sdk => _sdk ?? throw new InvalidOperationException("The node has not started.");

    /// <summary>The keys of <c>sark.front-door</c> both nodes have.</summary>
    protected abstract string FrontDoor { get; }

    /// <summary>More configuration both nodes have.</summary>
    protected virtual string Extra => "";

    private string Config(bool direct) => NodeConfigs.Demo() + $$"""

        sark.front-door { {{FrontDoor}}, direct-tool-calls = {{(direct ? "true" : "false")}} }
        sark.policy.embedded.rules = [
          { name = no-add, effect = deny, subjects = [local], servers = [demo], tools = [add] }
          { name = spec-local-caller, effect = allow, subjects = [local] }
        ]
        {{Extra}}
        """;

    public async Task InitializeAsync()
    {
        var direct = NodeProcess.StartAsync(Config(direct: true));
        var sdk = NodeProcess.StartAsync(Config(direct: false));
        _direct = await direct.ConfigureAwait(false);
        _sdk = await sdk.ConfigureAwait(false);
        await Task.WhenAll(DemoNodeFixture.WaitUntilReadyAsync(_direct), DemoNodeFixture.WaitUntilReadyAsync(_sdk)).ConfigureAwait(false);
    }

    public async Task DisposeAsync()
    {
        if (_direct is not null)
            await _direct.DisposeAsync().ConfigureAwait(false);
        if (_sdk is not null)
            await _sdk.DisposeAsync().ConfigureAwait(false);
    }
}

/// <summary>Two stateless nodes, with and without direct tool calls.</summary>
public sealed class FrontDoorDirectCallNodesFixture : DirectSwitchNodesFixture
{
    protected override string FrontDoor => "stateless = true, legacy-sse.enabled = false";
}

/// <summary>
/// <c>sark.front-door.direct-tool-calls</c>: a stateless <c>tools/call</c> that the front door
/// answers itself gets, byte for byte, the answer the SDK's per-request server gives; anything
/// else still goes to the SDK.
/// </summary>
public sealed class FrontDoorDirectCallSpecs(FrontDoorDirectCallNodesFixture fixture) : IClassFixture<FrontDoorDirectCallNodesFixture>
{
    private const string DirectCalls = "sark_frontdoor_direct_calls_total";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private const string Modern = """
        "_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"sark-spec","version":"1"},"io.modelcontextprotocol/clientCapabilities":{}}
        """;

    /// <summary>A request each: its JSON body, its MCP-Protocol-Version header (none, a handshake revision, 2026-07-28) and what it shows.</summary>
    public static TheoryData<string, string, string?> Calls => new()
    {
        { "echo, no version header, numeric id", """{"jsonrpc":"2.0","id":41,"method":"tools/call","params":{"name":"demo__echo","arguments":{"message":"direct \"quoted\" é ✓"}}}""", null },
        { "echo, 2025-06-18, string id", """{"jsonrpc":"2.0","id":"call-a","method":"tools/call","params":{"name":"demo__echo","arguments":{"message":"hi"}}}""", "2025-06-18" },
        { "echo, 2026-07-28 (resultType, serverInfo)", $$$"""{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"name":"demo__echo","arguments":{"message":"modern"},{{{Modern}}}}}""", "2026-07-28" },
        { "unknown tool, 2026-07-28 (JSON-RPC error, our code in data)", $$$"""{"jsonrpc":"2.0","id":43,"method":"tools/call","params":{"name":"nobody__echo",{{{Modern}}}}}""", "2026-07-28" },
        { "tool without separator (JSON-RPC error)", """{"jsonrpc":"2.0","id":44,"method":"tools/call","params":{"name":"echo"}}""", "2025-11-25" },
        { "upstream error result (isError)", """{"jsonrpc":"2.0","id":45,"method":"tools/call","params":{"name":"demo__fail","arguments":{"message":"boom"}}}""", "2025-06-18" },
        { "policy refusal (isError, policy_denied)", """{"jsonrpc":"2.0","id":46,"method":"tools/call","params":{"name":"demo__add","arguments":{"a":1,"b":2}}}""", null },
        { "upstream JSON-RPC error (missing argument)", $$$"""{"jsonrpc":"2.0","id":47,"method":"tools/call","params":{"name":"demo__echo",{{{Modern}}}}}""", "2026-07-28" },
    };

    [Theory]
    [MemberData(nameof(Calls))]
    public async Task A_direct_call_gets_the_answer_the_sdk_gives(string what, string body, string? version)
    {
        using var timeout = new CancellationTokenSource(Timeout);
        var requestId = $"direct-spec-{Guid.NewGuid():N}";
        var before = await RawMcp.GaugeAsync(fixture.Direct.Http, DirectCalls);

        var (directStatus, directType, directBody) = await SendAsync(fixture.Direct, body, version, requestId, timeout.Token);
        var (sdkStatus, sdkType, sdkBody) = await SendAsync(fixture.Sdk, body, version, requestId, timeout.Token);

        Assert.True(sdkStatus == HttpStatusCode.OK, $"{what}: the SDK answered {(int)sdkStatus}: {sdkBody}");
        Assert.Equal(sdkStatus, directStatus);
        Assert.Equal(sdkType, directType);
        Assert.Equal(sdkBody, directBody);
        Assert.StartsWith("event: message\ndata: ", directBody, StringComparison.Ordinal);
        await Eventually.UntilAsync(() => RawMcp.GaugeAsync(fixture.Direct.Http, DirectCalls), v => v > before, Timeout, "the direct call being counted");
        Assert.Equal(0, await RawMcp.GaugeAsync(fixture.Sdk.Http, DirectCalls));
    }

    [Fact]
    public async Task The_sdk_client_calls_through_the_direct_path_and_a_progress_token_goes_through_the_sdk()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        await using var client = await FrontDoorClients.ConnectAsync(fixture.Direct, timeout.Token);
        var before = await FreshCountAsync(timeout.Token);

        var progress = new List<ProgressNotificationValue>();
        var withProgress = await client.CallToolAsync(
            "demo__echo", new Dictionary<string, object?> { ["message"] = "with progress" }, new SyncProgress(progress), cancellationToken: timeout.Token);
        var plain = await client.CallToolAsync("demo__echo", new Dictionary<string, object?> { ["message"] = "sdk client" }, cancellationToken: timeout.Token);

        Assert.Equal("Echo: with progress", Assert.IsType<TextContentBlock>(Assert.Single(withProgress.Content)).Text);
        Assert.Equal("Echo: sdk client", Assert.IsType<TextContentBlock>(Assert.Single(plain.Content)).Text);
        // Both calls are done before the first fresh scrape after them: it counts the plain call only.
        var after = await Eventually.UntilAsync(() => RawMcp.GaugeAsync(fixture.Direct.Http, DirectCalls), v => v > before, Timeout, "the SDK client's plain call being direct");
        Assert.Equal(before + 1, after);
    }

    [Fact]
    public async Task The_typescript_sdk_client_calls_through_the_direct_path()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        var before = await FreshCountAsync(timeout.Token);

        var run = await TsMcpClient.RunAsync("streamable-http", new Uri(fixture.Direct.BaseAddress, "/mcp"), null, "call", "demo__echo", """{"message":"from ts"}""");

        Assert.Equal("Echo: from ts", run.Result.GetProperty("content")[0].GetProperty("text").GetString());
        var after = await Eventually.UntilAsync(() => RawMcp.GaugeAsync(fixture.Direct.Http, DirectCalls), v => v > before, Timeout, "the TypeScript client's call being direct");
        Assert.Equal(before + 1, after);
    }

    [Fact]
    public async Task What_the_sdk_refuses_is_still_refused_by_the_sdk()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        const string call = """{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"demo__echo","arguments":{"message":"x"}}}""";

        // Accepts only JSON: 406 from the SDK. A 2026-07-28 request without its Mcp-Method header: 400.
        using var jsonOnly = new HttpRequestMessage(HttpMethod.Post, new Uri(fixture.Direct.BaseAddress, "/mcp")) { Content = new StringContent(call, Encoding.UTF8, "application/json") };
        jsonOnly.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        using var notAcceptable = await fixture.Direct.Http.SendAsync(jsonOnly, timeout.Token);
        using var noMethodHeader = await fixture.Direct.Http.SendAsync(Request(fixture.Direct, call, "2026-07-28", requestId: null, methodHeaders: false), timeout.Token);
        var (unsupportedStatus, _, unsupported) = await SendAsync(fixture.Direct, call, "1999-01-01", "direct-spec-old", timeout.Token);

        Assert.Equal(HttpStatusCode.NotAcceptable, notAcceptable.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, noMethodHeader.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, unsupportedStatus);
        Assert.Contains("1999-01-01", unsupported, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_caller_that_goes_away_mid_direct_call_has_its_upstream_call_cancelled()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        await using var observer = await FrontDoorClients.ConnectAsync(fixture.Direct, timeout.Token);
        var before = await FrontDoorClients.DemoStatsAsync(observer, timeout.Token);
        using var leaving = new CancellationTokenSource();

        var call = fixture.Direct.Http.SendAsync(
            Request(fixture.Direct, """{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"demo__slow","arguments":{"ms":30000}}}""", "2025-06-18", "direct-spec-leaves"),
            leaving.Token);
        await Eventually.UntilAsync(() => FrontDoorClients.DemoStatsAsync(observer, timeout.Token), s => s.Slow > before.Slow, Timeout, "the slow call reaching the demo server");
        await leaving.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);
        await Eventually.UntilAsync(() => FrontDoorClients.DemoStatsAsync(observer, timeout.Token), s => s.Cancellations > before.Cancellations, Timeout,
            "the demo server seeing the call cancelled after its caller left");
    }

    [Fact]
    public async Task An_oversized_direct_call_is_413_too_large()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        // Just over the front door's 1 MiB (sent chunked, so that Kestrel finds it while the front
        // door reads the body; little enough past it that the client has sent it all when the 413 comes).
        var body = """{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"demo__echo","arguments":{"message":"MESSAGE"}}}"""
            .Replace("MESSAGE", new string('x', 1024 * 1024 + 20 * 1024), StringComparison.Ordinal);
        using var request = Request(fixture.Direct, body, "2025-06-18", "direct-spec-large");
        request.Content = new StreamContent(new UnannouncedStream(Encoding.UTF8.GetBytes(body)));
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");

        using var response = await fixture.Direct.Http.SendAsync(request, timeout.Token);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal("too_large", await RawMcp.ErrorCodeAsync(response));
    }

    /// <summary>
    /// The direct calls counted so far, fresh: a scrape is cached for a moment, so this makes a
    /// direct call of its own and returns the first count that has moved past it. Nothing else
    /// calls the node meanwhile (a class's specs run one at a time).
    /// </summary>
    private async Task<double> FreshCountAsync(CancellationToken cancellationToken)
    {
        var stale = await RawMcp.GaugeAsync(fixture.Direct.Http, DirectCalls);
        await SendAsync(fixture.Direct, """{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"demo__echo","arguments":{"message":"count"}}}""",
            "2025-06-18", $"direct-spec-count-{Guid.NewGuid():N}", cancellationToken);
        return await Eventually.UntilAsync(() => RawMcp.GaugeAsync(fixture.Direct.Http, DirectCalls), v => v > stale, Timeout, "a direct call being counted");
    }

    private static HttpRequestMessage Request(NodeProcess node, string body, string? version, string? requestId, bool methodHeaders = true)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, new Uri(node.BaseAddress, "/mcp")) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        if (requestId is not null)
            request.Headers.Add("X-Request-ID", requestId);
        if (version is not null)
        {
            request.Headers.Add("MCP-Protocol-Version", version);
            if (version == "2026-07-28" && methodHeaders)
            {
                using var json = JsonDocument.Parse(body);
                request.Headers.Add("Mcp-Method", json.RootElement.GetProperty("method").GetString());
                request.Headers.Add("Mcp-Name", json.RootElement.GetProperty("params").GetProperty("name").GetString());
            }
        }

        return request;
    }

    private static async Task<(HttpStatusCode Status, string? ContentType, string Body)> SendAsync(
        NodeProcess node, string body, string? version, string requestId, CancellationToken cancellationToken)
    {
        using var response = await node.Http.SendAsync(Request(node, body, version, requestId), cancellationToken);
        return (response.StatusCode, response.Content.Headers.ContentType?.ToString(), await response.Content.ReadAsStringAsync(cancellationToken));
    }

    private sealed class SyncProgress(List<ProgressNotificationValue> values) : IProgress<ProgressNotificationValue>
    {
        public void Report(ProgressNotificationValue value)
        {
            lock (values)
                values.Add(value);
        }
    }
}
