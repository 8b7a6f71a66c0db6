using System.Collections.Immutable;
using System.Diagnostics;
using System.Text.Json;
using Akka.Configuration;
using Akka.TestKit.Xunit2;
using Sark.Actors;
using Sark.Actors.Configuration;
using Sark.Actors.Errors;
using Sark.Actors.Hosting;
using Sark.Integration.Tests.Fakes;
using Sark.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Sark.Integration.Tests;

/// <summary>
/// The <c>mcp-http</c> upstream through the facade: against <c>@modelcontextprotocol/server-everything</c>
/// in its <c>sse</c> and <c>streamableHttp</c> modes (real node processes on 127.0.0.1, stopped by PID),
/// and against <see cref="FakeMcpHttpServer"/> for the faults it cannot make.
/// </summary>
public sealed class McpHttpUpstreamSpecs(ITestOutputHelper output)
    : TestKit(ConfigurationFactory.ParseString("akka.loglevel = INFO"), output: output)
{
    private const string Name = "everything";

    private static UpstreamOptions Upstream(string url, McpHttpTransport transport, TimeSpan? callTimeout = null) => new()
    {
        Name = Name,
        Kind = UpstreamKind.McpHttp,
        Url = url,
        Transport = transport,
        CallTimeout = callTimeout ?? TimeSpan.FromSeconds(30),
        InitTimeout = TimeSpan.FromSeconds(20),
        Backoff = new BackoffOptions { Min = TimeSpan.FromMilliseconds(300), Max = TimeSpan.FromSeconds(1), RandomFactor = 0.2, ResetAfter = TimeSpan.FromSeconds(60) },
    };

    private ISarkGateway Start(UpstreamOptions upstream)
    {
        var options = new SarkOptions { Upstreams = ImmutableDictionary<string, UpstreamOptions>.Empty.Add(upstream.Name, upstream) };
        return SarkRuntime.Start(Sys, options).Gateway;
    }

    private static async Task<UpstreamStatus> StatusAsync(ISarkGateway gateway, Func<UpstreamStatus, bool> done, TimeSpan timeout, string what) =>
        (await Eventually.UntilAsync(async () => (await gateway.GetUpstreamsAsync()).SingleOrDefault(), s => s is not null && done(s), timeout, what))!;

    private static Task<UpstreamStatus> ReadyAsync(ISarkGateway gateway) =>
        StatusAsync(gateway, s => s.State == UpstreamState.Ready, TimeSpan.FromSeconds(60), "the mcp-http upstream ready");

    private static JsonElement Args(string json) => JsonDocument.Parse(json).RootElement;

    private static string Text(ToolCallResult result) => result.Result.GetProperty("content")[0].GetProperty("text").GetString()!;

    [Theory]
    [InlineData("sse", McpHttpTransport.Sse)]
    [InlineData("streamableHttp", McpHttpTransport.StreamableHttp)]
    public async Task Progress_of_a_long_running_call_reaches_the_callers_sink(string mode, McpHttpTransport transport)
    {
        await using var server = await EverythingHttpProcess.StartAsync(mode);
        var gateway = Start(Upstream(server.Url, transport));
        await ReadyAsync(gateway);
        var updates = new System.Collections.Concurrent.ConcurrentQueue<ToolProgress>();

        var result = await gateway.InvokeToolAsync(Name, "trigger-long-running-operation", Args("""{"duration":1,"steps":3}"""),
            new InvokeOptions { Progress = new Sink(updates.Enqueue) });

        Assert.False(result.IsError);
        // The SDK hands notifications and the response on separately: the last update may come just after the result.
        await AwaitConditionAsync(() => Task.FromResult(updates.Count >= 3), TimeSpan.FromSeconds(10));
        Assert.Equal([new ToolProgress(1, 3, null), new ToolProgress(2, 3, null), new ToolProgress(3, 3, null)], updates.ToArray());
    }

    [Fact]
    public async Task With_relay_client_requests_the_servers_sampling_and_elicitation_reach_the_callers_client()
    {
        await using var server = await EverythingHttpProcess.StartAsync("streamableHttp");
        var gateway = Start(Upstream(server.Url, McpHttpTransport.StreamableHttp) with { RelayClientRequests = true });
        await ReadyAsync(gateway);
        var client = new AnsweringClient();

        var sampling = await gateway.InvokeToolAsync(Name, "trigger-sampling-request", Args("""{"prompt":"hi"}"""), new InvokeOptions { ClientRequests = client });
        var elicitation = await gateway.InvokeToolAsync(Name, "trigger-elicitation-request", Args("{}"), new InvokeOptions { ClientRequests = client });
        var unattributed = await gateway.InvokeToolAsync(Name, "trigger-sampling-request", Args("""{"prompt":"hi"}"""));

        Assert.False(sampling.IsError);
        Assert.Contains("sampled over http", Text(sampling), StringComparison.Ordinal);
        Assert.Contains("declined", elicitation.Result.GetRawText(), StringComparison.Ordinal);
        Assert.Equal(["sampling/createMessage", "elicitation/create"], client.Methods.ToArray());
        // A call without a client of its own: the server's request cannot be attributed, and is refused.
        Assert.DoesNotContain("sampled over http", unattributed.Result.GetRawText(), StringComparison.Ordinal);
    }

    private sealed class AnsweringClient : IUpstreamClient
    {
        public System.Collections.Concurrent.ConcurrentQueue<string> Methods { get; } = new();

        public Task<JsonElement> RequestAsync(string method, JsonElement? parameters, CancellationToken cancellationToken)
        {
            Methods.Enqueue(method);
            return Task.FromResult(method == "sampling/createMessage"
                ? Args("""{"role":"assistant","model":"spec","content":{"type":"text","text":"sampled over http"}}""")
                : Args("""{"action":"decline"}"""));
        }

        public void Notify(string method, JsonElement? parameters)
        {
        }
    }

    private sealed class Sink(Action<ToolProgress> report) : IProgress<ToolProgress>
    {
        public void Report(ToolProgress value) => report(value);
    }

    [Theory]
    [InlineData("sse", McpHttpTransport.Sse)]
    [InlineData("streamableHttp", McpHttpTransport.StreamableHttp)]
    [InlineData("sse", McpHttpTransport.Auto)]
    [InlineData("streamableHttp", McpHttpTransport.Auto)]
    public async Task Server_everything_over_http_lists_its_tools_and_answers_echo_and_get_sum(string mode, McpHttpTransport transport)
    {
        await using var server = await EverythingHttpProcess.StartAsync(mode);
        var gateway = Start(Upstream(server.Url, transport));
        var status = await ReadyAsync(gateway);

        var tools = await gateway.ListToolsAsync(Name);
        var echo = await gateway.InvokeToolAsync(Name, "echo", Args("""{"message":"hi"}"""));
        var sum = await gateway.InvokeToolAsync(Name, "get-sum", Args("""{"a":2,"b":3}"""));

        Assert.Equal(BreakerState.Closed, status.Breaker);
        Assert.Equal(tools.Count, status.ToolCount);
        Assert.Contains(tools, t => t.ToolName == "get-sum" && t.Parameters.Select(p => p.Name).SequenceEqual(["a", "b"]));
        Assert.Equal("Echo: hi", Text(echo));
        Assert.Contains("5", Text(sum), StringComparison.Ordinal);
        var info = await gateway.GetServerAsync(Name);
        Assert.Equal("mcp-http", info.Transport);
        Assert.False(string.IsNullOrEmpty(info.ProtocolVersion));
    }

    [Theory]
    [InlineData("sse", McpHttpTransport.Sse)]
    [InlineData("streamableHttp", McpHttpTransport.StreamableHttp)]
    public async Task Killed_server_fails_calls_fast_while_the_circuit_is_open_and_serves_again_once_it_is_back(string mode, McpHttpTransport transport)
    {
        var server = await EverythingHttpProcess.StartAsync(mode);
        var port = server.Port;
        var gateway = Start(Upstream(server.Url, transport));
        await ReadyAsync(gateway);
        Assert.Equal("Echo: before", Text(await gateway.InvokeToolAsync(Name, "echo", Args("""{"message":"before"}"""))));

        await server.DisposeAsync(); // SIGKILL by PID
        var clock = Stopwatch.StartNew();
        var first = await Assert.ThrowsAsync<UpstreamUnavailableException>(() => gateway.InvokeToolAsync(Name, "echo", Args("""{"message":"down"}""")));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"the first call after the kill took {clock.Elapsed}");
        var open = await StatusAsync(gateway, s => s.Breaker == BreakerState.Open || s.RestartCount > 0, TimeSpan.FromSeconds(10), "the circuit opening");
        clock.Restart();
        var refused = await Assert.ThrowsAsync<UpstreamUnavailableException>(() => gateway.InvokeToolAsync(Name, "echo", Args("""{"message":"down"}""")));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), $"a call while the circuit is open took {clock.Elapsed}");
        Assert.Equal(SarkErrorCode.UpstreamUnavailable, first.Code);
        Assert.Equal(SarkErrorCode.UpstreamUnavailable, refused.Code);
        Assert.False(string.IsNullOrEmpty(open.LastError));

        await using var restarted = await EverythingHttpProcess.StartAsync(mode, port);
        await StatusAsync(gateway, s => s.State == UpstreamState.Ready && s.Breaker == BreakerState.Closed, TimeSpan.FromSeconds(30), "the upstream back after the restart");
        var again = await gateway.InvokeToolAsync(Name, "echo", Args("""{"message":"again"}"""));

        Assert.Equal("Echo: again", Text(again));
    }

    [Fact]
    public async Task Unreachable_url_opens_the_circuit_with_a_clear_last_error()
    {
        var port = EverythingHttpProcess.FreePort(); // nothing listens there
        var gateway = Start(Upstream($"http://127.0.0.1:{port}/mcp", McpHttpTransport.StreamableHttp));

        var status = await StatusAsync(gateway, s => s.Breaker == BreakerState.Open && s.LastError is not null, TimeSpan.FromSeconds(30), "the circuit open");
        var clock = Stopwatch.StartNew();
        var refused = await Assert.ThrowsAsync<UpstreamUnavailableException>(() => gateway.InvokeToolAsync(Name, "echo", Args("""{"message":"x"}""")));

        Assert.Equal(UpstreamState.Backoff, status.State);
        Assert.Contains("refused", status.LastError, StringComparison.OrdinalIgnoreCase);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), $"a refused call took {clock.Elapsed}");
        Assert.NotNull(refused.RetryAfter);
    }

    [Fact]
    public async Task A_call_past_its_timeout_is_upstream_timeout_and_is_cancelled_upstream()
    {
        await using var fake = await FakeMcpHttpServer.StartAsync();
        var gateway = Start(Upstream(fake.StreamableUrl, McpHttpTransport.StreamableHttp));
        await ReadyAsync(gateway);

        var ex = await Assert.ThrowsAsync<UpstreamTimeoutException>(() => gateway.InvokeToolAsync(
            Name, "hang", Args("{}"), new InvokeOptions { Timeout = TimeSpan.FromMilliseconds(500) }));

        Assert.Equal(SarkErrorCode.UpstreamTimeout, ex.Code);
        await Eventually.UntilAsync(() => Task.FromResult(fake.Methods), m => m.Contains("notifications/cancelled"), TimeSpan.FromSeconds(10), "notifications/cancelled sent upstream");
        Assert.Equal("Echo: after", Text(await gateway.InvokeToolAsync(Name, "echo", Args("""{"message":"after"}"""))));
    }

    [Fact]
    public async Task A_call_past_its_timeout_on_server_everything_is_upstream_timeout()
    {
        await using var server = await EverythingHttpProcess.StartAsync("streamableHttp");
        var gateway = Start(Upstream(server.Url, McpHttpTransport.StreamableHttp));
        await ReadyAsync(gateway);

        var ex = await Assert.ThrowsAsync<UpstreamTimeoutException>(() => gateway.InvokeToolAsync(
            Name, "trigger-long-running-operation", Args("""{"duration":30,"steps":3}"""), new InvokeOptions { Timeout = TimeSpan.FromMilliseconds(500) }));

        Assert.Equal(SarkErrorCode.UpstreamTimeout, ex.Code);
        Assert.False((await gateway.InvokeToolAsync(Name, "echo", Args("""{"message":"after"}"""))).IsError);
    }

    [Fact]
    public async Task An_sse_endpoint_on_another_origin_is_refused_and_nothing_is_posted_there()
    {
        await using var fake = await FakeMcpHttpServer.StartAsync();
        // Same port, another host name: another origin (scheme, host and port must all match).
        fake.SseEndpoint = $"http://localhost:{fake.BaseAddress.Port}/messages";
        var gateway = Start(Upstream(fake.SseUrl, McpHttpTransport.Sse));

        var status = await StatusAsync(gateway, s => s.Breaker == BreakerState.Open && s.LastError is not null, TimeSpan.FromSeconds(30), "the circuit open");

        Assert.Contains("another origin", status.LastError, StringComparison.Ordinal);
        Assert.Equal(0, fake.LegacyPosts);
    }

    [Fact]
    public async Task An_sse_endpoint_on_the_same_origin_is_followed()
    {
        await using var fake = await FakeMcpHttpServer.StartAsync();
        var gateway = Start(Upstream(fake.SseUrl, McpHttpTransport.Sse) with { InitTimeout = TimeSpan.FromSeconds(2) });

        // The fake's legacy endpoint accepts POSTs but never answers on the stream: the POST is the proof.
        await Eventually.UntilAsync(() => Task.FromResult(fake.LegacyPosts), n => n > 0, TimeSpan.FromSeconds(10), "a POST to the announced endpoint");

        Assert.True(fake.LegacyPosts > 0);
    }

    [Fact]
    public async Task An_expired_session_is_initialized_again_once_and_the_call_goes_through()
    {
        await using var fake = await FakeMcpHttpServer.StartAsync();
        var gateway = Start(Upstream(fake.StreamableUrl, McpHttpTransport.StreamableHttp));
        await ReadyAsync(gateway);
        fake.ExpireNextCalls = 1;

        var result = await gateway.InvokeToolAsync(Name, "echo", Args("""{"message":"still here"}"""));

        Assert.Equal("Echo: still here", Text(result));
        Assert.Equal(2, fake.SessionsCreated);
        var status = (await gateway.GetUpstreamsAsync()).Single();
        Assert.Equal(0, status.RestartCount);
        Assert.Equal(BreakerState.Closed, status.Breaker);
    }

    [Fact]
    public async Task A_session_that_expires_again_right_after_it_was_renewed_fails_the_connection()
    {
        await using var fake = await FakeMcpHttpServer.StartAsync();
        var gateway = Start(Upstream(fake.StreamableUrl, McpHttpTransport.StreamableHttp));
        await ReadyAsync(gateway);
        fake.ExpireNextCalls = 2;

        var ex = await Assert.ThrowsAsync<UpstreamUnavailableException>(() => gateway.InvokeToolAsync(Name, "echo", Args("""{"message":"x"}""")));

        Assert.Contains("expired the session again", ex.Message, StringComparison.Ordinal);
        var status = await StatusAsync(gateway, s => s.RestartCount >= 1, TimeSpan.FromSeconds(10), "the connection failed once");
        Assert.Contains("expired the session again", status.LastError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_server_that_refuses_newer_revisions_is_spoken_to_in_2024_11_05()
    {
        await using var fake = await FakeMcpHttpServer.StartAsync();
        fake.AcceptedVersions = new HashSet<string>(StringComparer.Ordinal) { "2024-11-05" };
        var gateway = Start(Upstream(fake.StreamableUrl, McpHttpTransport.StreamableHttp));
        await ReadyAsync(gateway);

        var info = await gateway.GetServerAsync(Name);
        var echo = await gateway.InvokeToolAsync(Name, "echo", Args("""{"message":"old"}"""));

        Assert.Equal("2024-11-05", info.ProtocolVersion);
        Assert.Equal("2024-11-05", fake.InitializeVersions[^1]);
        Assert.True(fake.InitializeVersions.Count > 1, string.Join(", ", fake.InitializeVersions));
        Assert.Equal("Echo: old", Text(echo));
    }

    [Fact]
    public async Task List_changed_is_relayed_and_the_new_tool_is_listed()
    {
        await using var fake = await FakeMcpHttpServer.StartAsync();
        var gateway = Start(Upstream(fake.StreamableUrl, McpHttpTransport.StreamableHttp));
        await ReadyAsync(gateway);
        Assert.DoesNotContain(await gateway.ListToolsAsync(Name), t => t.ToolName == "added");

        await gateway.InvokeToolAsync(Name, "add-tool", Args("{}"));

        var tools = await Eventually.UntilAsync(() => gateway.ListToolsAsync(Name), t => t.Any(x => x.ToolName == "added"), TimeSpan.FromSeconds(10), "the added tool listed");
        Assert.Equal(4, tools.Count);
    }

    [Fact]
    public async Task Static_headers_are_sent_with_every_request()
    {
        await using var fake = await FakeMcpHttpServer.StartAsync();
        var upstream = Upstream(fake.StreamableUrl, McpHttpTransport.StreamableHttp) with
        {
            Headers = ImmutableDictionary<string, string>.Empty.Add("X-Fake-Token", "s3cret"),
        };
        var gateway = Start(upstream);
        await ReadyAsync(gateway);

        await gateway.InvokeToolAsync(Name, "echo", Args("""{"message":"h"}"""));

        Assert.Equal("s3cret", fake.LastToken);
    }

    [Fact]
    public async Task A_node_configured_with_an_mcp_http_upstream_lists_and_calls_server_everything()
    {
        await using var server = await EverythingHttpProcess.StartAsync("streamableHttp");
        var hocon = $$"""
            sark.upstreams.everything {
              kind = mcp-http
              url = "{{server.Url}}"
              transport = streamable-http
              headers { X-Sark-Spec = "node" }
              required = true
            }
            """;
        await using var node = await NodeProcess.StartAsync(hocon);
        await DemoNodeFixture.WaitUntilReadyAsync(node);

        using var servers = await node.Http.GetAsync("/api/v1/servers");
        var listed = Assert.Single((await servers.JsonAsync()).GetProperty("servers").EnumerateArray());
        using var invoke = await node.Http.InvokeAsync(new { server = "everything", tool = "get-sum", parameters = new { a = 20, b = 22 } });
        var body = await invoke.JsonAsync();

        Assert.Equal("everything", listed.GetProperty("server_name").GetString());
        Assert.Equal("mcp-http", listed.GetProperty("transport").GetString());
        Assert.Equal("success", body.GetProperty("status").GetString());
        Assert.Contains("42", body.GetProperty("result").GetProperty("content")[0].GetProperty("text").GetString(), StringComparison.Ordinal);
    }
}
