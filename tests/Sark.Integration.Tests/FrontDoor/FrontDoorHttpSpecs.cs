using System.Net;
using System.Net.Http.Headers;
using System.Text;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using Sark.Integration.Tests.Infrastructure;

namespace Sark.Integration.Tests.FrontDoor;

/// <summary>Session mode with the demo upstream, two API-key callers, a 16 KiB body limit and 1 s keep-alives.</summary>
public sealed class FrontDoorHttpNodeFixture : FrontDoorNodeFixture
{
    protected override string Config => NodeConfigs.Demo() + "\n" + TwoCallers + """

        sark.front-door { max-request-body = 16KiB, keep-alive = 1s, resume-call-streams = true }
        """;
}

/// <summary>
/// The HTTP side of the MCP front door on a real node: sessions (id, DELETE, 404, owner), the
/// legacy SSE transport, Host/Origin validation, the body limit, keep-alives, through the
/// official C# and TypeScript SDK clients and raw HTTP.
/// </summary>
public sealed class FrontDoorHttpSpecs(FrontDoorHttpNodeFixture fixture) : IClassFixture<FrontDoorHttpNodeFixture>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private HttpClient Http => fixture.Node.Http;

    [Fact]
    public async Task A_session_has_an_id_serves_calls_and_once_deleted_its_id_is_404()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        string sessionId;
        await using (var client = await ConnectAsync(fixture.Mcp, FrontDoorNodeFixture.AliceKey, HttpTransportMode.StreamableHttp, timeout.Token))
        {
            sessionId = client.SessionId ?? throw new InvalidOperationException("The session has no Mcp-Session-Id.");
            var tools = await client.ListToolsAsync(cancellationToken: timeout.Token);
            Assert.Contains(tools, tool => tool.Name == "demo__echo");
            var result = await client.CallToolAsync("demo__echo", new Dictionary<string, object?> { ["message"] = "hi" }, cancellationToken: timeout.Token);
            Assert.Equal("Echo: hi", Assert.IsType<TextContentBlock>(Assert.Single(result.Content)).Text);
        }

        // Disposing the client sent DELETE: the id is gone.
        using var after = await Http.SendAsync(RawMcp.Post(fixture.Mcp, RawMcp.ListToolsBody, FrontDoorNodeFixture.AliceKey, sessionId), timeout.Token);
        Assert.Equal(HttpStatusCode.NotFound, after.StatusCode);
        Assert.Equal("-32001", await RawMcp.ErrorCodeAsync(after));
    }

    [Fact]
    public async Task Initialize_advertises_tools_resources_and_prompts_with_list_changed()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        await using var client = await ConnectAsync(fixture.Mcp, FrontDoorNodeFixture.AliceKey, HttpTransportMode.StreamableHttp, timeout.Token);

        Assert.True(client.ServerCapabilities.Tools?.ListChanged);
        Assert.True(client.ServerCapabilities.Resources?.ListChanged);
        Assert.True(client.ServerCapabilities.Prompts?.ListChanged);
    }

    [Fact]
    public async Task An_unknown_session_id_is_404()
    {
        using var response = await Http.SendAsync(RawMcp.Post(fixture.Mcp, RawMcp.ListToolsBody, FrontDoorNodeFixture.AliceKey, "no-such-session"));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("-32001", await RawMcp.ErrorCodeAsync(response));
    }

    [Theory]
    [InlineData("/mcp", "demo__echo")]
    [InlineData("/servers/demo/mcp", "\"echo\"")]
    public async Task A_session_belongs_to_the_caller_who_opened_it_and_another_caller_gets_403(string path, string listed)
    {
        using var timeout = new CancellationTokenSource(Timeout);
        var endpoint = new Uri(fixture.Node.BaseAddress, path);
        var sessionId = await RawMcp.OpenSessionAsync(Http, endpoint, FrontDoorNodeFixture.AliceKey, timeout.Token);

        using (var bob = await Http.SendAsync(RawMcp.Post(endpoint, RawMcp.ListToolsBody, FrontDoorNodeFixture.BobKey, sessionId), timeout.Token))
            Assert.Equal(HttpStatusCode.Forbidden, bob.StatusCode);
        using (var bobDelete = await Http.SendAsync(
            RawMcp.WithSession(new HttpRequestMessage(HttpMethod.Delete, endpoint), FrontDoorNodeFixture.BobKey, sessionId), timeout.Token))
            Assert.Equal(HttpStatusCode.Forbidden, bobDelete.StatusCode);
        using (var alice = await Http.SendAsync(RawMcp.Post(endpoint, RawMcp.ListToolsBody, FrontDoorNodeFixture.AliceKey, sessionId), timeout.Token))
        {
            Assert.Equal(HttpStatusCode.OK, alice.StatusCode);
            Assert.Contains(listed, await alice.Content.ReadAsStringAsync(timeout.Token), StringComparison.Ordinal);
        }

        await RawMcp.DeleteSessionAsync(Http, endpoint, FrontDoorNodeFixture.AliceKey, sessionId, timeout.Token);
    }

    [Fact]
    public async Task A_malformed_json_rpc_body_is_a_400_invalid_request_error()
    {
        using var response = await Http.SendAsync(RawMcp.Post(fixture.Mcp, "{not json", FrontDoorNodeFixture.AliceKey));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("-32600", await RawMcp.ErrorCodeAsync(response));
    }

    [Theory]
    [InlineData("/mcp", true)]
    [InlineData("/mcp", false)]
    [InlineData("/messages?sessionId=x", true)]
    [InlineData("/servers/demo/mcp", true)]
    [InlineData("/servers/demo/messages?sessionId=x", true)]
    public async Task A_body_over_max_request_body_is_413_too_large(string path, bool announced)
    {
        var body = Encoding.UTF8.GetBytes("""{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"pad":"PAD"}}""".Replace("PAD", new string('a', 20 * 1024), StringComparison.Ordinal));
        using var request = RawMcp.Post(new Uri(fixture.Node.BaseAddress, path), "", FrontDoorNodeFixture.AliceKey);
        request.Content = announced ? new ByteArrayContent(body) : new StreamContent(new UnannouncedStream(body));
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");

        using var response = await Http.SendAsync(request);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal("too_large", await RawMcp.ErrorCodeAsync(response));
    }

    [Theory]
    [InlineData("/mcp")]
    [InlineData("/sse")]
    [InlineData("/messages?sessionId=x")]
    [InlineData("/mcp/")]
    [InlineData("/servers/demo/mcp")]
    [InlineData("/servers/demo/sse")]
    [InlineData("/servers/demo/messages?sessionId=x")]
    public async Task A_foreign_host_is_421_host_not_allowed_even_before_authentication(string path)
    {
        using var request = new HttpRequestMessage(path.EndsWith("/sse", StringComparison.Ordinal) ? HttpMethod.Get : HttpMethod.Post, new Uri(fixture.Node.BaseAddress, path));
        request.Headers.Host = "rebound.evil.example";

        using var response = await Http.SendAsync(request);

        Assert.Equal(HttpStatusCode.MisdirectedRequest, response.StatusCode);
        Assert.Equal("host_not_allowed", await RawMcp.ErrorCodeAsync(response));
    }

    [Theory]
    [InlineData("https://evil.example", "/mcp")]
    [InlineData("null", "/mcp")]
    [InlineData("http://localhost.evil.example:8080", "/mcp")]
    [InlineData("https://evil.example", "/servers/demo/mcp")]
    [InlineData("https://evil.example", "/servers/demo/messages?sessionId=x")]
    public async Task A_foreign_origin_is_403_origin_not_allowed(string origin, string path)
    {
        using var request = RawMcp.Post(new Uri(fixture.Node.BaseAddress, path), RawMcp.InitializeBody, FrontDoorNodeFixture.AliceKey);
        request.Headers.Add("Origin", origin);

        using var response = await Http.SendAsync(request);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal("origin_not_allowed", await RawMcp.ErrorCodeAsync(response));
    }

    [Theory]
    [InlineData("localhost", "http://localhost:5173")]
    [InlineData("127.0.0.1", "http://127.0.0.1:3000")]
    [InlineData("localhost", null)]
    public async Task A_loopback_host_and_a_loopback_or_absent_origin_are_served(string host, string? origin)
    {
        using var timeout = new CancellationTokenSource(Timeout);
        using var request = RawMcp.Post(fixture.Mcp, RawMcp.InitializeBody, FrontDoorNodeFixture.AliceKey);
        request.Headers.Host = $"{host}:{fixture.Node.BaseAddress.Port}";
        if (origin is not null)
            request.Headers.Add("Origin", origin);

        using var response = await Http.SendAsync(request, timeout.Token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var sessionId = Assert.Single(response.Headers.GetValues("Mcp-Session-Id"));
        await RawMcp.DeleteSessionAsync(Http, fixture.Mcp, FrontDoorNodeFixture.AliceKey, sessionId, timeout.Token);
    }

    [Fact]
    public async Task An_open_get_stream_gets_keep_alive_comments()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        var sessionId = await RawMcp.OpenSessionAsync(Http, fixture.Mcp, FrontDoorNodeFixture.AliceKey, timeout.Token);
        var get = RawMcp.WithSession(new HttpRequestMessage(HttpMethod.Get, fixture.Mcp), FrontDoorNodeFixture.AliceKey, sessionId);
        get.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));

        await using (var stream = await SseReader.OpenAsync(Http, get, timeout.Token))
        {
            Assert.Equal(HttpStatusCode.OK, stream.Response.StatusCode);
            Assert.Equal(": keep-alive", await stream.ReadUntilAsync(":", timeout.Token));
        }

        await RawMcp.DeleteSessionAsync(Http, fixture.Mcp, FrontDoorNodeFixture.AliceKey, sessionId, timeout.Token);
    }

    [Fact]
    public async Task A_client_resumes_a_broken_stream_with_last_event_id_and_gets_what_it_missed()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        const string Version = RawMcp.ResumableProtocolVersion;
        var sessionId = await RawMcp.OpenSessionAsync(Http, fixture.Mcp, FrontDoorNodeFixture.AliceKey, timeout.Token, Version);
        const string Call = """{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"demo__echo","arguments":{"message":"resumed"}}}""";

        // The answer's stream: a priming event with an id, then the result. A client that lost the
        // connection after the priming event asks for everything after it.
        string primingId;
        using (var post = await Http.SendAsync(RawMcp.Post(fixture.Mcp, Call, FrontDoorNodeFixture.AliceKey, sessionId, Version), timeout.Token))
        {
            var lines = (await post.Content.ReadAsStringAsync(timeout.Token)).Split('\n');
            primingId = lines.First(line => line.StartsWith("id: ", StringComparison.Ordinal))["id: ".Length..];
        }

        var resume = RawMcp.WithSession(new HttpRequestMessage(HttpMethod.Get, fixture.Mcp), FrontDoorNodeFixture.AliceKey, sessionId, Version);
        resume.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        resume.Headers.Add("Last-Event-ID", primingId);
        await using (var stream = await SseReader.OpenAsync(Http, resume, timeout.Token))
        {
            Assert.Equal(HttpStatusCode.OK, stream.Response.StatusCode);
            var replayed = await stream.ReadUntilAsync("data: {", timeout.Token);
            Assert.Contains("Echo: resumed", replayed, StringComparison.Ordinal);
            Assert.Contains("\"id\":7", replayed, StringComparison.Ordinal);
        }

        await RawMcp.DeleteSessionAsync(Http, fixture.Mcp, FrontDoorNodeFixture.AliceKey, sessionId, timeout.Token);
    }

    [Theory]
    [InlineData("/sse", "/messages?sessionId=")]
    [InlineData("/servers/demo/sse", "/servers/demo/messages?sessionId=")]
    public async Task Legacy_sse_sends_deprecation_headers_an_endpoint_event_and_keep_alives(string sse, string messages)
    {
        using var timeout = new CancellationTokenSource(Timeout);
        await using var stream = await SseReader.OpenLegacyAsync(Http, new Uri(fixture.Node.BaseAddress, sse), FrontDoorNodeFixture.AliceKey, timeout.Token);
        var headers = stream.Response.Headers;

        Assert.Equal(HttpStatusCode.OK, stream.Response.StatusCode);
        Assert.Equal("@1742947200", Assert.Single(headers.GetValues("Deprecation")));
        Assert.Equal("Wed, 30 Jun 2027 00:00:00 GMT", Assert.Single(headers.GetValues("Sunset")));
        Assert.Contains("rel=\"deprecation\"", Assert.Single(headers.GetValues("Link")), StringComparison.Ordinal);
        Assert.StartsWith(messages, await stream.ReadEndpointAsync(timeout.Token), StringComparison.Ordinal);
        Assert.Equal(": keep-alive", await stream.ReadUntilAsync(":", timeout.Token));
    }

    [Theory]
    [InlineData("/sse", "/servers/demo/messages")]
    [InlineData("/servers/demo/sse", "/messages")]
    public async Task A_legacy_session_refuses_other_callers_unknown_ids_and_malformed_bodies(string sse, string otherMessages)
    {
        using var timeout = new CancellationTokenSource(Timeout);
        await using var stream = await SseReader.OpenLegacyAsync(Http, new Uri(fixture.Node.BaseAddress, sse), FrontDoorNodeFixture.AliceKey, timeout.Token);
        var messages = new Uri(fixture.Node.BaseAddress, await stream.ReadEndpointAsync(timeout.Token));

        // A session is known only at the messages path of the endpoint that opened it.
        using (var elsewhere = await Http.SendAsync(LegacyPost(new Uri(fixture.Node.BaseAddress, otherMessages + messages.Query), RawMcp.ListToolsBody, FrontDoorNodeFixture.AliceKey), timeout.Token))
        {
            Assert.Equal(HttpStatusCode.NotFound, elsewhere.StatusCode);
            Assert.Equal("not_found", await RawMcp.ErrorCodeAsync(elsewhere));
        }

        using (var bob = await Http.SendAsync(LegacyPost(messages, RawMcp.ListToolsBody, FrontDoorNodeFixture.BobKey), timeout.Token))
        {
            Assert.Equal(HttpStatusCode.Forbidden, bob.StatusCode);
            Assert.Equal("session_forbidden", await RawMcp.ErrorCodeAsync(bob));
            Assert.True(bob.Headers.Contains("Deprecation"));
        }

        using (var unknown = await Http.SendAsync(LegacyPost(new Uri(messages, "?sessionId=nope"), RawMcp.ListToolsBody, FrontDoorNodeFixture.AliceKey), timeout.Token))
        {
            Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
            Assert.Equal("not_found", await RawMcp.ErrorCodeAsync(unknown));
        }

        using (var malformed = await Http.SendAsync(LegacyPost(messages, "{not json", FrontDoorNodeFixture.AliceKey), timeout.Token))
        {
            Assert.Equal(HttpStatusCode.BadRequest, malformed.StatusCode);
            Assert.Equal("invalid_request", await RawMcp.ErrorCodeAsync(malformed));
        }

        using var alice = await Http.SendAsync(LegacyPost(messages, RawMcp.InitializeBody, FrontDoorNodeFixture.AliceKey), timeout.Token);
        Assert.Equal(HttpStatusCode.Accepted, alice.StatusCode);
        Assert.Contains("\"protocolVersion\"", await stream.ReadUntilAsync("data: {", timeout.Token), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_csharp_sdk_client_lists_and_calls_over_legacy_sse()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        await using var client = await ConnectAsync(fixture.Sse, FrontDoorNodeFixture.AliceKey, HttpTransportMode.Sse, timeout.Token);

        var tools = await client.ListToolsAsync(cancellationToken: timeout.Token);
        var result = await client.CallToolAsync("demo__echo", new Dictionary<string, object?> { ["message"] = "legacy" }, cancellationToken: timeout.Token);

        Assert.Contains(tools, tool => tool.Name == "demo__echo");
        Assert.Equal("Echo: legacy", Assert.IsType<TextContentBlock>(Assert.Single(result.Content)).Text);
    }

    [Theory]
    [InlineData(HttpTransportMode.Sse)]
    [InlineData(HttpTransportMode.StreamableHttp)]
    public async Task Calls_in_flight_at_once_on_one_session_each_get_their_own_reply(HttpTransportMode mode)
    {
        // A legacy session runs every request under its one GET /sse: they must not share a request id.
        using var timeout = new CancellationTokenSource(Timeout);
        await using var client = await ConnectAsync(mode == HttpTransportMode.Sse ? fixture.Sse : fixture.Mcp, FrontDoorNodeFixture.AliceKey, mode, timeout.Token);

        var calls = Enumerable.Range(0, 16).Select(i =>
            client.CallToolAsync("demo__echo", new Dictionary<string, object?> { ["message"] = $"m{i}" }, cancellationToken: timeout.Token).AsTask()).ToArray();
        var results = await Task.WhenAll(calls);

        for (var i = 0; i < results.Length; i++)
        {
            Assert.NotEqual(true, results[i].IsError);
            Assert.Equal($"Echo: m{i}", Assert.IsType<TextContentBlock>(Assert.Single(results[i].Content)).Text);
        }
    }

    [Theory]
    [InlineData("streamable-http", "/mcp")]
    [InlineData("sse", "/sse")]
    public async Task The_typescript_sdk_client_lists_the_aggregated_tools_and_calls_echo(string transport, string path)
    {
        var url = new Uri(fixture.Node.BaseAddress, path);
        var headers = new Dictionary<string, string> { ["X-API-Key"] = FrontDoorNodeFixture.BobKey };

        var list = await TsMcpClient.RunAsync(transport, url, headers, "list");
        var call = await TsMcpClient.RunAsync(transport, url, headers, "call", "demo__echo", """{"message":"from ts"}""");

        Assert.Contains(list.Result.GetProperty("tools").EnumerateArray(), tool => tool.GetProperty("name").GetString() == "demo__echo");
        Assert.Equal("Echo: from ts", call.Result.GetProperty("content")[0].GetProperty("text").GetString());
    }

    [Fact]
    public async Task The_typescript_sdk_client_fails_with_a_non_zero_exit_on_a_refused_origin()
    {
        var run = await TsMcpClient.RunAsync("streamable-http", fixture.Mcp,
            new Dictionary<string, string> { ["X-API-Key"] = FrontDoorNodeFixture.BobKey, ["Origin"] = "https://evil.example" }, "list");

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("origin_not_allowed", Assert.Single(run.Lines).GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_legacy_client_is_warned_about_in_the_log_once_and_counted_in_the_gauge()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        const string Gauge = "sark_legacy_sse_sessions";
        const string UserAgent = "spec-legacy-warning/1.0";
        // Streams other specs closed may still be open on the node's side for a moment.
        await RawMcp.WaitForGaugeAsync(Http, Gauge, 0, Timeout);

        await using (var first = await SseReader.OpenLegacyAsync(Http, fixture.Sse, FrontDoorNodeFixture.BobKey, timeout.Token, UserAgent))
        await using (var second = await SseReader.OpenLegacyAsync(Http, fixture.Sse, FrontDoorNodeFixture.BobKey, timeout.Token, UserAgent))
        {
            await first.ReadEndpointAsync(timeout.Token);
            await second.ReadEndpointAsync(timeout.Token);
            await RawMcp.WaitForGaugeAsync(Http, Gauge, 2, Timeout);
            await Eventually.UntilAsync(
                () => Task.FromResult(WarningsFor(UserAgent)), count => count >= 1, Timeout, "the deprecation warning in the log");
        }

        Assert.Equal(1, WarningsFor(UserAgent));
        await RawMcp.WaitForGaugeAsync(Http, Gauge, 0, Timeout);
    }

    private int WarningsFor(string userAgent) =>
        fixture.Node.Stdout.Lines.Count(line => line.Contains("deprecated HTTP+SSE", StringComparison.Ordinal) && line.Contains(userAgent, StringComparison.Ordinal));

    private static HttpRequestMessage LegacyPost(Uri messages, string body, string apiKey)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, messages) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add("X-API-Key", apiKey);
        return request;
    }

    private static async Task<McpClient> ConnectAsync(Uri endpoint, string apiKey, HttpTransportMode mode, CancellationToken cancellationToken)
    {
        var transport = new HttpClientTransport(new HttpClientTransportOptions
        {
            Endpoint = endpoint,
            TransportMode = mode,
            AdditionalHeaders = new Dictionary<string, string> { ["X-API-Key"] = apiKey },
        });
        return await McpClient.CreateAsync(transport, cancellationToken: cancellationToken);
    }
}
