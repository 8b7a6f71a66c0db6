using System.Collections.Immutable;
using System.Diagnostics;
using System.Net;
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
/// The <c>gateway</c> upstream (a registry's REST API: paged servers and tools, invoke) run in-process
/// against <see cref="FaultyRegistry"/>, and node to node: one node federating another through it.
/// </summary>
public sealed class GatewayUpstreamSpecs(ITestOutputHelper output)
    : TestKit(ConfigurationFactory.ParseString("akka.loglevel = INFO"), output: output)
{
    private const string UpstreamName = "registry";
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(30);

    /// <summary>A gateway upstream named <c>registry</c> pointing at <paramref name="url"/>.</summary>
    private static UpstreamOptions RegistryUpstream(Uri url) => new()
    {
        Name = UpstreamName,
        Kind = UpstreamKind.Gateway,
        Url = url.GetLeftPart(UriPartial.Authority),
        PageSize = 100,
        FailureThreshold = 5,
        CallTimeout = TimeSpan.FromSeconds(10),
        Backoff = new BackoffOptions { Min = TimeSpan.FromSeconds(1), Max = TimeSpan.FromSeconds(2), RandomFactor = 0 },
    };

    private ISarkGateway Start(UpstreamOptions upstream) => InProcessRuntime.Start(Sys, upstream);

    /// <summary>Starts the runtime and waits until the upstream is ready and the catalog lists <paramref name="servers"/> servers.</summary>
    private async Task<ISarkGateway> StartReadyAsync(UpstreamOptions upstream, int servers)
    {
        var gateway = Start(upstream);
        await UpstreamAsync(gateway, s => s.State == UpstreamState.Ready, ReadyTimeout, "the gateway upstream being ready");
        await Eventually.UntilAsync(async () => (await gateway.ListServersAsync()).Count, n => n == servers, TimeSpan.FromSeconds(10),
            $"the catalog listing the {servers} registry servers");
        return gateway;
    }

    private static Task<UpstreamStatus> UpstreamAsync(ISarkGateway gateway, Func<UpstreamStatus, bool> done, TimeSpan timeout, string what) =>
        InProcessRuntime.UpstreamAsync(gateway, UpstreamName, done, timeout, what);

    private static JsonElement Args(string json) => InProcessRuntime.Args(json);

    [Fact]
    public async Task Discovery_walks_250_servers_with_2_tools_each_in_pages_of_100_and_catalogs_them_all()
    {
        await using var registry = await FaultyRegistry.StartAsync(servers: 250, toolsPerServer: 2);

        var gateway = await StartReadyAsync(RegistryUpstream(registry.BaseAddress), servers: 250);

        var status = (await gateway.GetUpstreamsAsync()).Single();
        Assert.Equal(UpstreamKind.Gateway, status.Kind);
        Assert.Equal(BreakerState.Closed, status.Breaker);
        Assert.Equal(0, status.RestartCount);
        Assert.Equal(500, status.ToolCount);
        // A registry without total or next_offset: 100 + 100 + 50 servers (the short page ends the walk);
        // 5 full pages of tools, then an empty sixth page ends it.
        Assert.Equal(3, registry.RequestsTo("/api/v1/servers"));
        Assert.Equal(6, registry.RequestsTo("/api/v1/tools"));
        Assert.Equal(0, registry.RequestsTo("/api/v1/invoke"));

        var servers = await gateway.ListServersAsync();
        Assert.Equal(Enumerable.Range(0, 250).Select(FaultyRegistry.ServerName), servers.Select(s => s.ServerName).Order(StringComparer.Ordinal));
        Assert.All(servers, s =>
        {
            Assert.Equal("gateway", s.Transport);
            Assert.Equal(UpstreamName, s.Upstream);
            Assert.Equal(2, s.ToolsCount);
        });
        var last = await gateway.ListToolsAsync("server-0249");
        Assert.Equal(["tool-00", "tool-01"], last.Select(t => t.ToolName).Order(StringComparer.Ordinal));
        Assert.All(last, t => Assert.Equal("server-0249", t.ServerName));
        Assert.Equal(500, (await gateway.ListToolsAsync()).Count);
    }

    [Fact]
    public async Task Invoke_through_a_hocon_configured_gateway_upstream_returns_the_registry_result_under_the_call_request_id()
    {
        await using var registry = await FaultyRegistry.StartAsync(servers: 3, toolsPerServer: 2);
        var options = SarkConfigLoader.Parse($$"""
            sark.upstreams.{{UpstreamName}} {
              kind = gateway
              url = {{NodeConfigs.Quote(registry.BaseAddress.GetLeftPart(UriPartial.Authority))}}
              api-key = "spec-key-123"
              page-size = 2
            }
            """);
        var upstream = options.Upstreams[UpstreamName];
        Assert.Equal(UpstreamKind.Gateway, upstream.Kind);
        Assert.Equal(2, upstream.PageSize);
        Assert.Equal("spec-key-123", upstream.ApiKey);
        var gateway = await StartReadyAsync(upstream, servers: 3);

        var result = await gateway.InvokeToolAsync("server-0001", "tool-01", Args("""{"text":"hello","n":3}"""),
            new InvokeOptions { RequestId = "gw-spec-42" });

        // FaultyRegistry answers {"status":"success","result":<parameters>}: the result property is the tool's result.
        Assert.Equal("gw-spec-42", result.RequestId);
        Assert.Equal("server-0001", result.Server);
        Assert.Equal("tool-01", result.Tool);
        Assert.False(result.IsError);
        Assert.Equal(JsonValueKind.Object, result.Result.ValueKind);
        Assert.Equal("hello", result.Result.GetProperty("text").GetString());
        Assert.Equal(3, result.Result.GetProperty("n").GetInt32());
        Assert.False(result.Result.TryGetProperty("status", out _), $"the whole registry body came back, not its result: {result.Result}");
        Assert.Equal(1, registry.RequestsTo("/api/v1/invoke"));
        // One request id per logical call, and the configured key, on the wire.
        Assert.Equal(("gw-spec-42", "spec-key-123"), Assert.Single(registry.InvokeHeaders));
        // 3 servers at page size 2: pages of 2 and 1; 6 tools: pages of 2, 2, 2 and an empty one.
        Assert.Equal(2, registry.RequestsTo("/api/v1/servers"));
        Assert.Equal(4, registry.RequestsTo("/api/v1/tools"));
    }

    [Fact]
    public async Task Invoke_of_a_server_the_registry_does_not_list_is_not_found_without_a_request_to_the_registry()
    {
        await using var registry = await FaultyRegistry.StartAsync(servers: 3, toolsPerServer: 1);
        var gateway = await StartReadyAsync(RegistryUpstream(registry.BaseAddress), servers: 3);

        var ex = await Assert.ThrowsAsync<SarkNotFoundException>(() =>
            gateway.InvokeToolAsync("server-0003", "tool-00", Args("""{"text":"x"}"""), new InvokeOptions { RequestId = "gw-missing" }));

        Assert.Equal(SarkErrorCode.NotFound, ex.Code);
        Assert.Equal("gw-missing", ex.RequestId);
        Assert.Contains("server-0003", ex.Message);
        Assert.Equal(0, registry.RequestsTo("/api/v1/invoke"));
        Assert.Equal(UpstreamState.Ready, (await gateway.GetUpstreamsAsync()).Single().State);
    }

    [Theory]
    [InlineData(HttpStatusCode.ServiceUnavailable)]
    [InlineData(HttpStatusCode.InternalServerError)]
    public async Task A_5xx_storm_on_invoke_opens_the_circuit_at_the_threshold_and_a_fresh_connection_rediscovers_after_the_backoff(HttpStatusCode status)
    {
        await using var registry = await FaultyRegistry.StartAsync(servers: 2, toolsPerServer: 1);
        var backoff = TimeSpan.FromSeconds(3);
        var upstream = RegistryUpstream(registry.BaseAddress) with
        {
            FailureThreshold = 5,
            Backoff = new BackoffOptions { Min = backoff, Max = backoff, RandomFactor = 0 },
        };
        var gateway = await StartReadyAsync(upstream, servers: 2);
        var serverListsBefore = registry.RequestsTo("/api/v1/servers");

        // Only invokes: the connection's own reads (health, events) must not take the storm's answers.
        registry.StartStatusStorm(status, count: 5, path: "/api/v1/invoke");
        for (var i = 1; i <= 5; i++)
        {
            var failed = await Assert.ThrowsAnyAsync<SarkException>(() =>
                gateway.InvokeToolAsync("server-0000", "tool-00", Args($$"""{"text":"storm {{i}}"}""")));
            // 503 means "come back later" (upstream_unavailable, with the registry's Retry-After);
            // any other 5xx is an upstream_error that carries the status. Both count to the threshold.
            if (status == HttpStatusCode.ServiceUnavailable)
                Assert.IsType<UpstreamUnavailableException>(failed);
            else
                Assert.Equal((int)status, Assert.IsType<UpstreamErrorException>(failed).UpstreamStatus);
        }

        Assert.Equal(5, registry.RequestsTo("/api/v1/invoke"));
        var open = await UpstreamAsync(gateway, s => s.Breaker == BreakerState.Open, TimeSpan.FromSeconds(2), "the circuit opening after 5 failures");
        Assert.NotEqual(UpstreamState.Ready, open.State);
        Assert.False(string.IsNullOrEmpty(open.LastError), $"an open circuit says why: {open}");

        var clock = Stopwatch.StartNew();
        var refused = await Assert.ThrowsAsync<UpstreamUnavailableException>(() =>
            gateway.InvokeToolAsync("server-0000", "tool-00", Args("""{"text":"refused"}""")));
        clock.Stop();
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), $"the open circuit took {clock.Elapsed.TotalMilliseconds:0} ms to refuse");
        Assert.NotNull(refused.RetryAfter);
        Assert.InRange(refused.RetryAfter!.Value, TimeSpan.Zero, backoff);
        Assert.Equal(5, registry.RequestsTo("/api/v1/invoke"));

        var back = await UpstreamAsync(gateway, s => s.State == UpstreamState.Ready && s.RestartCount == 1, TimeSpan.FromSeconds(20),
            "the upstream being ready again after one restart");
        Assert.Equal(BreakerState.Closed, back.Breaker);
        Assert.Equal(2, back.ToolCount);
        Assert.True(registry.RequestsTo("/api/v1/servers") > serverListsBefore, "the fresh connection did not list the servers again");
        var after = await gateway.InvokeToolAsync("server-0001", "tool-00", Args("""{"text":"after"}"""));
        Assert.False(after.IsError);
        Assert.Equal("after", after.Result.GetProperty("text").GetString());
        Assert.Equal(6, registry.RequestsTo("/api/v1/invoke"));
    }

    [Fact]
    public async Task A_registry_that_cannot_be_reached_at_start_leaves_the_upstream_in_backoff_with_an_open_breaker_saying_so()
    {
        Uri deadAddress;
        await using (var gone = await FaultyRegistry.StartAsync(servers: 1))
            deadAddress = gone.BaseAddress;
        var upstream = RegistryUpstream(deadAddress) with
        {
            Backoff = new BackoffOptions { Min = TimeSpan.FromSeconds(30), Max = TimeSpan.FromSeconds(30), RandomFactor = 0 },
        };

        var gateway = Start(upstream);
        var status = await UpstreamAsync(gateway, s => s.State == UpstreamState.Backoff && s.Breaker == BreakerState.Open && s.LastError is not null,
            TimeSpan.FromSeconds(20), "the start failure being reported");

        Assert.Contains("could not be reached", status.LastError, StringComparison.OrdinalIgnoreCase);
        Assert.Contains(deadAddress.Authority, status.LastError, StringComparison.Ordinal);
        Assert.Equal(0, status.ToolCount);
        Assert.NotNull(status.RetryAfter);
        Assert.Empty(await gateway.ListServersAsync());
        await Assert.ThrowsAsync<SarkNotFoundException>(() => gateway.InvokeToolAsync("server-0000", "tool-00"));
    }

    [Fact]
    public async Task A_node_federates_another_node_through_a_gateway_upstream_and_returns_its_call_tool_result_unchanged()
    {
        await using var nodeA = await NodeProcess.StartAsync(NodeConfigs.Demo());
        await DemoNodeFixture.WaitUntilReadyAsync(nodeA);
        await using var nodeB = await NodeProcess.StartAsync($$"""
            sark {
              node.shutdown-drain = 2s
              upstreams.{{UpstreamName}} {
                kind = gateway
                url = {{NodeConfigs.Quote(nodeA.BaseAddress.GetLeftPart(UriPartial.Authority))}}
                page-size = 100
                required = true
              }
            }
            """);
        await DemoNodeFixture.WaitUntilReadyAsync(nodeB);

        using var servers = await nodeB.Http.GetAsync("/api/v1/servers");
        var serverList = await servers.JsonAsync();
        var demo = Assert.Single(serverList.GetProperty("servers").EnumerateArray(), s => s.GetProperty("server_name").GetString() == "demo");
        Assert.Equal(UpstreamName, demo.GetProperty("upstream").GetString());
        Assert.Equal("gateway", demo.GetProperty("transport").GetString());
        Assert.Equal(12, demo.GetProperty("tools_count").GetInt32());

        using var viaB = await nodeB.Http.InvokeAsync(new { server = "demo", tool = "echo", parameters = new { message = "via B" } });
        var bodyB = await viaB.JsonAsync();
        using var direct = await nodeA.Http.InvokeAsync(new { server = "demo", tool = "echo", parameters = new { message = "via B" } });
        var bodyA = await direct.JsonAsync();

        Assert.Equal("success", bodyB.GetProperty("status").GetString());
        var resultB = bodyB.GetProperty("result");
        Assert.False(resultB.GetProperty("isError").GetBoolean());
        Assert.Equal("Echo: via B", resultB.GetProperty("content")[0].GetProperty("text").GetString());
        Assert.True(JsonElement.DeepEquals(bodyA.GetProperty("result"), resultB), $"A returned {bodyA.GetProperty("result")}, B returned {resultB}");
        Assert.Equal(viaB.RequestId(), bodyB.GetProperty("request_id").GetString());
    }
}
