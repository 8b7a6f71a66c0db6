using System.Diagnostics;
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
/// Two nodes in session mode, with and without direct tool calls, serving Streamable HTTP and
/// legacy SSE. Sessions idle for 6 s are closed, and keep-alive comments go out every second.
/// </summary>
public sealed class FrontDoorDirectSessionNodesFixture : DirectSwitchNodesFixture
{
    /// <summary>A second caller (anonymous callers stay on): another caller than the one who opened a session.</summary>
    public const string EveKey = "direct-eve-key-5c81a09d3e";

    protected override string FrontDoor => "idle-timeout = 6s, keep-alive = 1s";

    protected override string Extra => $$"""
        sark.auth.api-keys = [ { sha256 = "{{Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(EveKey)))}}", subject = eve, roles = [developer] } ]
        """;
}

/// <summary>
/// Direct tool calls in sessions: a plain <c>tools/call</c> of a Streamable HTTP or legacy SSE
/// session gets, byte for byte, the answer the session's MCP server gives; the session's
/// <c>notifications/cancelled</c> and its end still cancel the call; a long call gets its headers
/// and keep-alive comments; and a session busy with direct calls is not closed as idle.
/// </summary>
public sealed partial class FrontDoorDirectSessionSpecs(FrontDoorDirectSessionNodesFixture fixture) : IClassFixture<FrontDoorDirectSessionNodesFixture>
{
    private const string DirectCalls = "sark_frontdoor_direct_calls_total";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    /// <summary>A call each: its JSON body, the session's protocol revision and what it shows.</summary>
    public static TheoryData<string, string, string> Calls => new()
    {
        { "echo, numeric id", """{"jsonrpc":"2.0","id":41,"method":"tools/call","params":{"name":"demo__echo","arguments":{"message":"direct \"quoted\" é ✓"}}}""", "2025-06-18" },
        { "echo, string id, 2025-11-25 (resumable revision)", """{"jsonrpc":"2.0","id":"call-a","method":"tools/call","params":{"name":"demo__echo","arguments":{"message":"hi"}}}""", "2025-11-25" },
        { "echo, 2025-03-26", """{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"name":"demo__echo","arguments":{"message":"older"},"_meta":{"trace":"x"}}}""", "2025-03-26" },
        { "unknown server (JSON-RPC error, our code in data)", """{"jsonrpc":"2.0","id":43,"method":"tools/call","params":{"name":"nobody__echo"}}""", "2025-06-18" },
        { "tool without separator (JSON-RPC error)", """{"jsonrpc":"2.0","id":44,"method":"tools/call","params":{"name":"echo"}}""", "2025-11-25" },
        { "upstream error result (isError)", """{"jsonrpc":"2.0","id":45,"method":"tools/call","params":{"name":"demo__fail","arguments":{"message":"boom"}}}""", "2025-06-18" },
        { "policy refusal (isError, policy_denied)", """{"jsonrpc":"2.0","id":46,"method":"tools/call","params":{"name":"demo__add","arguments":{"a":1,"b":2}}}""", "2025-06-18" },
        { "upstream JSON-RPC error (missing argument)", """{"jsonrpc":"2.0","id":47,"method":"tools/call","params":{"name":"demo__echo"}}""", "2025-06-18" },
    };

    [Theory]
    [MemberData(nameof(Calls))]
    public async Task A_direct_call_in_a_session_gets_the_answer_the_sessions_server_gives(string what, string body, string version)
    {
        using var timeout = new CancellationTokenSource(Timeout);
        var before = await RawMcp.GaugeAsync(fixture.Direct.Http, DirectCalls);
        // The direct node's session last: its call follows a request that went to the SDK (EchoAsync says why).
        var sdkSession = await OpenAsync(fixture.Sdk, version, timeout.Token);
        var directSession = await OpenAsync(fixture.Direct, version, timeout.Token);

        var requestId = $"direct-session-spec-{Guid.NewGuid():N}";
        using var direct = await fixture.Direct.Http.SendAsync(Post(fixture.Direct, body, directSession, version, requestId), timeout.Token);
        using var sdk = await fixture.Sdk.Http.SendAsync(Post(fixture.Sdk, body, sdkSession, version, requestId), timeout.Token);
        // A keep-alive comment may fall into either stream (they tick every second): it is not part of the answer.
        var directBody = WithoutComments(await direct.Content.ReadAsStringAsync(timeout.Token));
        var sdkBody = WithoutComments(await sdk.Content.ReadAsStringAsync(timeout.Token));

        Assert.True(sdk.StatusCode == HttpStatusCode.OK, $"{what}: the SDK answered {(int)sdk.StatusCode}: {sdkBody}");
        Assert.Equal(sdk.StatusCode, direct.StatusCode);
        Assert.Equal(sdk.Content.Headers.ContentType?.ToString(), direct.Content.Headers.ContentType?.ToString());
        Assert.Equal(sdkBody, directBody);
        Assert.Contains("event: message\ndata: ", directBody, StringComparison.Ordinal);
        Assert.Equal(directSession, Assert.Single(direct.Headers.GetValues("Mcp-Session-Id")));
        Assert.Equal(sdkSession, Assert.Single(sdk.Headers.GetValues("Mcp-Session-Id")));
        await Eventually.UntilAsync(() => RawMcp.GaugeAsync(fixture.Direct.Http, DirectCalls), v => v > before, Timeout, "the direct call being counted");
        Assert.Equal(0, await RawMcp.GaugeAsync(fixture.Sdk.Http, DirectCalls));
        await DeleteAsync(fixture.Direct, directSession, version, timeout.Token);
        await DeleteAsync(fixture.Sdk, sdkSession, version, timeout.Token);
    }

    [Theory]
    [MemberData(nameof(Calls))]
    public async Task A_direct_call_of_a_legacy_session_gets_the_event_the_sessions_server_sends(string what, string body, string version)
    {
        using var timeout = new CancellationTokenSource(Timeout);
        var before = await RawMcp.GaugeAsync(fixture.Direct.Http, DirectCalls);

        var direct = await LegacyAnswerAsync(fixture.Direct, body, version, timeout.Token);
        var sdk = await LegacyAnswerAsync(fixture.Sdk, body, version, timeout.Token);

        Assert.StartsWith("data: {", sdk, StringComparison.Ordinal);
        // A legacy session's calls run with its GET request, so each gets a request id of its own.
        direct = RequestIds().Replace(direct, "\"request_id\":\"…\"");
        sdk = RequestIds().Replace(sdk, "\"request_id\":\"…\"");
        Assert.True(sdk == direct, $"{what}: the SDK sent {sdk}, the direct call {direct}");
        await Eventually.UntilAsync(() => RawMcp.GaugeAsync(fixture.Direct.Http, DirectCalls), v => v > before, Timeout, "the direct call being counted");
        Assert.Equal(0, await RawMcp.GaugeAsync(fixture.Sdk.Http, DirectCalls));
    }

    [Theory]
    [InlineData(HttpTransportMode.StreamableHttp)]
    [InlineData(HttpTransportMode.Sse)]
    public async Task The_sdk_clients_calls_are_direct_and_its_cancellation_reaches_the_upstream(HttpTransportMode mode)
    {
        using var timeout = new CancellationTokenSource(Timeout);
        await using var observer = await FrontDoorClients.ConnectAsync(fixture.Direct, timeout.Token);
        await using var client = await FrontDoorClients.ConnectAsync(fixture.Direct, timeout.Token, mode: mode, path: mode == HttpTransportMode.Sse ? "/sse" : "/mcp");
        var stats = await FrontDoorClients.DemoStatsAsync(observer, timeout.Token);
        var before = await FreshCountAsync(client, timeout.Token);

        var echo = await EchoAsync(client, $"sdk client over {mode}", timeout.Token);
        var after = await Eventually.UntilAsync(() => RawMcp.GaugeAsync(fixture.Direct.Http, DirectCalls), v => v > before, Timeout, "the client's call being direct");

        var slow = await FrontDoorClients.CancelSlowCallAsync(client, observer, stats, Timeout, timeout.Token);

        Assert.Equal($"Echo: sdk client over {mode}", Assert.IsType<TextContentBlock>(Assert.Single(echo.Content)).Text);
        Assert.True(after > before, "the plain call went direct");
        var cancelled = await Eventually.UntilAsync(() => FrontDoorClients.DemoStatsAsync(observer, timeout.Token), s => s.Cancellations > stats.Cancellations, Timeout,
            "the demo server seeing the call cancelled");
        Assert.Equal(stats.Cancellations + 1, cancelled.Cancellations);
        Assert.False(slow.IsCompletedSuccessfully, "a cancelled request gets no result");
    }

    [Fact]
    public async Task A_cancelled_notification_cancels_a_direct_call_and_its_response_ends_without_an_answer()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        await using var observer = await FrontDoorClients.ConnectAsync(fixture.Direct, timeout.Token);
        var stats = await FrontDoorClients.DemoStatsAsync(observer, timeout.Token);
        var session = await OpenAsync(fixture.Direct, RawMcp.ProtocolVersion, timeout.Token);

        var call = await SlowCallAsync(session, "\"slow-1\"", observer, stats, timeout.Token);
        using var cancelled = await fixture.Direct.Http.SendAsync(
            Post(fixture.Direct, """{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"slow-1","reason":"spec"}}""", session, RawMcp.ProtocolVersion),
            timeout.Token);
        using var response = await call;
        var body = await response.Content.ReadAsStringAsync(timeout.Token);

        Assert.Equal(HttpStatusCode.Accepted, cancelled.StatusCode);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.DoesNotContain("event: message", body, StringComparison.Ordinal);
        await Eventually.UntilAsync(() => FrontDoorClients.DemoStatsAsync(observer, timeout.Token), s => s.Cancellations > stats.Cancellations, Timeout,
            "the demo server seeing the call cancelled");
        await DeleteAsync(fixture.Direct, session, RawMcp.ProtocolVersion, timeout.Token);
    }

    [Fact]
    public async Task A_call_in_another_callers_session_gets_the_sdks_403_not_an_answer()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        var session = await OpenAsync(fixture.Direct, RawMcp.ProtocolVersion, timeout.Token);
        const string Call = """{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"demo__echo","arguments":{"message":"not yours"}}}""";

        using var eve = Post(fixture.Direct, Call, session, RawMcp.ProtocolVersion);
        eve.Headers.Add("X-API-Key", FrontDoorDirectSessionNodesFixture.EveKey);
        using var refused = await fixture.Direct.Http.SendAsync(eve, timeout.Token);
        using var owner = await fixture.Direct.Http.SendAsync(Post(fixture.Direct, Call, session, RawMcp.ProtocolVersion), timeout.Token);

        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.DoesNotContain("not yours", await refused.Content.ReadAsStringAsync(timeout.Token), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, owner.StatusCode);
        Assert.Contains("Echo: not yours", await owner.Content.ReadAsStringAsync(timeout.Token), StringComparison.Ordinal);
        await DeleteAsync(fixture.Direct, session, RawMcp.ProtocolVersion, timeout.Token);
    }

    [Fact]
    public async Task Deleting_the_session_cancels_its_direct_call()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        await using var observer = await FrontDoorClients.ConnectAsync(fixture.Direct, timeout.Token);
        var stats = await FrontDoorClients.DemoStatsAsync(observer, timeout.Token);
        var session = await OpenAsync(fixture.Direct, RawMcp.ProtocolVersion, timeout.Token);

        var call = await SlowCallAsync(session, "5", observer, stats, timeout.Token);
        await DeleteAsync(fixture.Direct, session, RawMcp.ProtocolVersion, timeout.Token);
        using var response = await call;

        Assert.DoesNotContain("event: message", await response.Content.ReadAsStringAsync(timeout.Token), StringComparison.Ordinal);
        await Eventually.UntilAsync(() => FrontDoorClients.DemoStatsAsync(observer, timeout.Token), s => s.Cancellations > stats.Cancellations, Timeout,
            "the demo server seeing the call cancelled");
    }

    [Fact]
    public async Task A_long_direct_call_sends_its_headers_and_keep_alives_before_its_answer()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        var session = await OpenAsync(fixture.Direct, RawMcp.ProtocolVersion, timeout.Token);
        var clock = Stopwatch.StartNew();

        // 3.5 s against ticks every second: the headers at a tick, a comment at a later one, then the answer.
        using var request = Post(fixture.Direct, """{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"demo__slow","arguments":{"ms":3500}}}""", session, RawMcp.ProtocolVersion);
        using var response = await fixture.Direct.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
        var headersAfter = clock.Elapsed;
        var body = await response.Content.ReadAsStringAsync(timeout.Token);

        Assert.True(headersAfter < TimeSpan.FromSeconds(3), $"the headers came after {headersAfter}, with the answer");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var comment = body.IndexOf(": keep-alive\n\n", StringComparison.Ordinal);
        var answer = body.IndexOf("event: message\ndata: ", StringComparison.Ordinal);
        Assert.True(comment >= 0 && answer > comment, $"a comment, then the answer: {body}");
        Assert.Contains("\"id\":6", body[answer..], StringComparison.Ordinal);
        await DeleteAsync(fixture.Direct, session, RawMcp.ProtocolVersion, timeout.Token);
    }

    [Fact]
    public async Task A_session_busy_with_direct_calls_outlives_the_idle_timeout_and_an_idle_one_does_not()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var busy = await OpenAsync(fixture.Direct, RawMcp.ProtocolVersion, timeout.Token);
        var idle = await OpenAsync(fixture.Direct, RawMcp.ProtocolVersion, timeout.Token);
        var before = await RawMcp.GaugeAsync(fixture.Direct.Http, DirectCalls);

        // 6 s idle timeout, and the SDK looks for idle sessions every 5 s: 13 s of a call every 200 ms.
        var clock = Stopwatch.StartNew();
        var calls = 0;
        while (clock.Elapsed < TimeSpan.FromSeconds(13) && calls < 200)
        {
            using var response = await fixture.Direct.Http.SendAsync(
                Post(fixture.Direct, """{"jsonrpc":"2.0","id":N,"method":"tools/call","params":{"name":"demo__echo","arguments":{"message":"busy N"}}}""".Replace("N", calls.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal), busy, RawMcp.ProtocolVersion),
                timeout.Token);
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"call {calls} after {clock.Elapsed}: {(int)response.StatusCode}");
            Assert.Contains($"Echo: busy {calls}", await response.Content.ReadAsStringAsync(timeout.Token), StringComparison.Ordinal);
            calls++;
            // Paces the calls (the SDK's idle clock runs on real time); no state is waited for here.
            await Task.Delay(200, timeout.Token);
        }

        using var gone = await fixture.Direct.Http.SendAsync(Post(fixture.Direct, RawMcp.ListToolsBody, idle, RawMcp.ProtocolVersion), timeout.Token);
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        var direct = await Eventually.UntilAsync(() => RawMcp.GaugeAsync(fixture.Direct.Http, DirectCalls), v => v >= before + calls / 2, Timeout, "most calls being direct");
        Assert.True(direct - before < calls, $"{direct - before} of {calls} calls were direct: some must have gone to the SDK to keep the session");
        await DeleteAsync(fixture.Direct, busy, RawMcp.ProtocolVersion, timeout.Token);
    }

    /// <summary>The direct calls counted so far, fresh: a scrape is cached for a moment, so this makes a direct call and waits for the count to pass it.</summary>
    private async Task<double> FreshCountAsync(McpClient client, CancellationToken cancellationToken)
    {
        var stale = await RawMcp.GaugeAsync(fixture.Direct.Http, DirectCalls);
        await EchoAsync(client, "count", cancellationToken);
        return await Eventually.UntilAsync(() => RawMcp.GaugeAsync(fixture.Direct.Http, DirectCalls), v => v > stale, Timeout, "a direct call being counted");
    }

    /// <summary>A 30 s <c>slow</c> call with request id <paramref name="id"/> (JSON) in <paramref name="session"/>, once the demo server has it.</summary>
    private async Task<Task<HttpResponseMessage>> SlowCallAsync(string session, string id, McpClient observer, FrontDoorClients.DemoStats stats, CancellationToken cancellationToken)
    {
        var call = fixture.Direct.Http.SendAsync(
            Post(fixture.Direct, """{"jsonrpc":"2.0","id":ID,"method":"tools/call","params":{"name":"demo__slow","arguments":{"ms":30000}}}""".Replace("ID", id, StringComparison.Ordinal),
                session, RawMcp.ProtocolVersion),
            cancellationToken);
        await Eventually.UntilAsync(() => FrontDoorClients.DemoStatsAsync(observer, cancellationToken), s => s.Slow > stats.Slow, Timeout, "the slow call reaching the demo server");
        return call;
    }

    /// <summary>
    /// <c>echo</c> right after a <c>tools/list</c>, which goes to the SDK: the session's idle clock
    /// there is fresh, so the call is direct (with the fixture's 6 s idle timeout, one request of a
    /// session goes to the SDK every 1.5 s).
    /// </summary>
    private static async Task<CallToolResult> EchoAsync(McpClient client, string message, CancellationToken cancellationToken)
    {
        await client.ListToolsAsync(cancellationToken: cancellationToken);
        return await client.CallToolAsync("demo__echo", new Dictionary<string, object?> { ["message"] = message }, cancellationToken: cancellationToken);
    }

    private static async Task<string> OpenAsync(NodeProcess node, string version, CancellationToken cancellationToken) =>
        await RawMcp.OpenSessionAsync(node.Http, new Uri(node.BaseAddress, "/mcp"), apiKey: null, cancellationToken, version);

    private static HttpRequestMessage Post(NodeProcess node, string body, string session, string version, string? requestId = null)
    {
        var request = RawMcp.Post(new Uri(node.BaseAddress, "/mcp"), body, apiKey: null, session, version);
        if (requestId is not null)
            request.Headers.Add("X-Request-ID", requestId);
        return request;
    }

    private static async Task DeleteAsync(NodeProcess node, string session, string version, CancellationToken cancellationToken)
    {
        using var request = RawMcp.WithSession(new HttpRequestMessage(HttpMethod.Delete, new Uri(node.BaseAddress, "/mcp")), apiKey: null, session, version);
        using var response = await node.Http.SendAsync(request, cancellationToken);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [System.Text.RegularExpressions.GeneratedRegex("\"request_id\":\"[0-9a-f]{32}\"")]
    private static partial System.Text.RegularExpressions.Regex RequestIds();

    private static string WithoutComments(string body) => body.Replace(": keep-alive\n\n", "", StringComparison.Ordinal);

    /// <summary>Opens a legacy session on <paramref name="version"/>, initializes it, posts <paramref name="body"/> and returns the <c>data:</c> line of its answer.</summary>
    private static async Task<string> LegacyAnswerAsync(NodeProcess node, string body, string version, CancellationToken cancellationToken)
    {
        await using var stream = await SseReader.OpenLegacyAsync(node.Http, new Uri(node.BaseAddress, "/sse"), apiKey: null, cancellationToken);
        var messages = new Uri(node.BaseAddress, await stream.ReadEndpointAsync(cancellationToken));
        await PostLegacyAsync(node, messages, RawMcp.InitializeBody.Replace(RawMcp.ProtocolVersion, version, StringComparison.Ordinal), cancellationToken);
        await stream.ReadUntilAsync("data: {", cancellationToken);
        await PostLegacyAsync(node, messages, RawMcp.InitializedBody, cancellationToken);
        await PostLegacyAsync(node, messages, body, cancellationToken);
        for (var i = 0; i < 100; i++)
        {
            var data = await stream.ReadUntilAsync("data: {", cancellationToken);
            if (data.Contains("\"result\"", StringComparison.Ordinal) || data.Contains("\"error\"", StringComparison.Ordinal))
                return data;
        }

        throw new InvalidOperationException("No answer in 100 events.");
    }

    private static async Task PostLegacyAsync(NodeProcess node, Uri messages, string body, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, messages) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        using var response = await node.Http.SendAsync(request, cancellationToken);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
    }
}
