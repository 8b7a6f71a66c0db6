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
using Sark.Actors.Telemetry;
using Sark.Integration.Tests.Fakes;
using Sark.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Sark.Integration.Tests;

/// <summary>
/// A gateway upstream's reads against <see cref="FaultyRegistry"/>: retries under one budget, the
/// catalog's cache (single-flight, invalidation, counters), the registry's health, headers, and
/// route selection between a local stdio route and a gateway route to the same server.
/// </summary>
public sealed class GatewayCatalogSpecs(ITestOutputHelper output)
    : TestKit(ConfigurationFactory.ParseString("akka.loglevel = INFO"), output: output)
{
    private const string UpstreamName = "registry";
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(30);

    private static UpstreamOptions RegistryUpstream(Uri url) => new()
    {
        Name = UpstreamName,
        Kind = UpstreamKind.Gateway,
        Url = url.GetLeftPart(UriPartial.Authority),
        CallTimeout = TimeSpan.FromSeconds(10),
        ReadRetry = new ReadRetryOptions { Attempts = 3, MinBackoff = TimeSpan.FromMilliseconds(20), MaxBackoff = TimeSpan.FromMilliseconds(100) },
        Backoff = new BackoffOptions { Min = TimeSpan.FromSeconds(30), Max = TimeSpan.FromSeconds(30), RandomFactor = 0 },
    };

    private ISarkGateway Start(params UpstreamOptions[] upstreams) => InProcessRuntime.Start(Sys, upstreams);

    private static Task<UpstreamStatus> UpstreamAsync(ISarkGateway gateway, string name, Func<UpstreamStatus, bool> done, string what) =>
        InProcessRuntime.UpstreamAsync(gateway, name, done, ReadyTimeout, what);

    private static JsonElement Args(string json) => InProcessRuntime.Args(json);

    [Fact]
    public async Task A_read_retries_two_503s_under_one_budget_with_one_request_id_and_succeeds()
    {
        await using var registry = await FaultyRegistry.StartAsync(servers: 2, toolsPerServer: 1);
        registry.StartStatusStorm(HttpStatusCode.ServiceUnavailable, count: 2);

        var gateway = Start(RegistryUpstream(registry.BaseAddress));
        var status = await UpstreamAsync(gateway, UpstreamName, s => s.State == UpstreamState.Ready, "discovery after two 503s");

        Assert.Equal(0, status.RestartCount);
        Assert.Equal(3, registry.RequestsTo("/api/v1/servers"));
        Assert.Equal(1, registry.RequestsTo("/api/v1/tools"));
        Assert.Equal(new PagingStats(2, 2, 2, 2, status.Paging!.Duration), status.Paging);
        var discovery = registry.Received.Where(r => r.Path is "/api/v1/servers" or "/api/v1/tools").ToList();
        Assert.Equal(4, discovery.Count);
        Assert.Single(discovery.Select(r => r.RequestId).Distinct());
        Assert.StartsWith("sark-discover-registry-", discovery[0].RequestId);
    }

    [Fact]
    public async Task A_third_failure_spends_the_budget_and_the_start_fails_saying_how_many_attempts_were_made()
    {
        await using var registry = await FaultyRegistry.StartAsync(servers: 2, toolsPerServer: 1);
        registry.StartStatusStorm(HttpStatusCode.BadGateway, count: 3);

        var gateway = Start(RegistryUpstream(registry.BaseAddress));
        var status = await UpstreamAsync(gateway, UpstreamName, s => s.Breaker == BreakerState.Open && s.LastError is not null, "the start failure");

        Assert.Contains("502", status.LastError);
        Assert.Contains("after 3 attempts", status.LastError);
        Assert.Equal(3, registry.RequestsTo("/api/v1/servers"));
        Assert.Equal(0, registry.RequestsTo("/api/v1/tools"));
    }

    [Theory]
    [InlineData(HttpStatusCode.Unauthorized)]
    [InlineData(HttpStatusCode.Forbidden)]
    public async Task A_4xx_is_not_retried_and_says_to_check_the_api_key(HttpStatusCode code)
    {
        await using var registry = await FaultyRegistry.StartAsync(servers: 2, toolsPerServer: 1);
        registry.StartStatusStorm(code, count: 1);

        var gateway = Start(RegistryUpstream(registry.BaseAddress));
        var status = await UpstreamAsync(gateway, UpstreamName, s => s.LastError is not null, "the start failure");

        Assert.Contains(((int)code).ToString(System.Globalization.CultureInfo.InvariantCulture), status.LastError);
        Assert.Contains("api-key", status.LastError);
        Assert.Equal(1, registry.RequestsTo("/api/v1/servers"));
    }

    [Fact]
    public async Task Twenty_concurrent_lookups_after_an_invalidation_cause_one_registry_walk()
    {
        await using var registry = await FaultyRegistry.StartAsync(servers: 30, toolsPerServer: 2);
        var gateway = Start(RegistryUpstream(registry.BaseAddress) with { PageSize = 10 });
        await UpstreamAsync(gateway, UpstreamName, s => s.State == UpstreamState.Ready, "the upstream being ready");
        await Eventually.UntilAsync(async () => (await gateway.ListServersAsync()).Count, n => n == 30, ReadyTimeout, "the 30 servers");
        var walksBefore = registry.RequestsTo("/api/v1/servers");

        for (var i = 0; i < 50; i++)
            Assert.Equal(30, (await gateway.ListServersAsync()).Count);
        Assert.Equal(walksBefore, registry.RequestsTo("/api/v1/servers"));

        Assert.Equal(30, await gateway.InvalidateAsync());
        var lists = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => Task.Run(() => gateway.ListServersAsync())));

        Assert.All(lists, l => Assert.Equal(30, l.Count));
        // One walk: 30 servers in pages of 10 end on an empty fourth page.
        Assert.Equal(walksBefore + 4, registry.RequestsTo("/api/v1/servers"));
        var cache = (await gateway.GetUpstreamsAsync()).Single().Cache!;
        Assert.Equal(30, cache.Entries);
        Assert.Equal(2, cache.Fetches);
        Assert.InRange(cache.Misses, 1, 20);
        Assert.True(cache.Hits >= 50, $"warm listings are hits: {cache}");
        Assert.Equal(TimeSpan.FromSeconds(300), cache.Ttl);
    }

    [Fact]
    public async Task An_invalidated_server_is_read_alone_by_its_name_once_for_concurrent_lookups()
    {
        await using var registry = await FaultyRegistry.StartAsync(servers: 5, toolsPerServer: 2);
        var gateway = Start(RegistryUpstream(registry.BaseAddress));
        await UpstreamAsync(gateway, UpstreamName, s => s.State == UpstreamState.Ready, "the upstream being ready");
        await Eventually.UntilAsync(async () => (await gateway.ListServersAsync()).Count, n => n == 5, ReadyTimeout, "the servers");

        Assert.Equal(1, await gateway.InvalidateAsync("server-0003"));
        var reads = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => Task.Run(() => gateway.GetServerAsync("server-0003"))));

        Assert.All(reads, s => Assert.Equal("server-0003", s.ServerName));
        Assert.Equal(1, registry.RequestsTo("/api/v1/servers/server-0003"));
        var toolReads = registry.Received.Where(r => r.Path == "/api/v1/tools" && r.Query.Contains("server=server-0003", StringComparison.Ordinal)).ToList();
        Assert.Single(toolReads);
        Assert.Equal(2, (await gateway.ListToolsAsync("server-0003")).Count);
        Assert.Equal(1, registry.RequestsTo("/api/v1/servers/server-0003"));
    }

    [Fact]
    public async Task The_registry_health_is_reported_and_an_unhealthy_registry_says_so()
    {
        await using var registry = await FaultyRegistry.StartAsync(servers: 1, toolsPerServer: 1);
        registry.Faults.Unhealthy = true;

        var gateway = Start(RegistryUpstream(registry.BaseAddress));
        var status = await UpstreamAsync(gateway, UpstreamName, s => s.RegistryHealth is not null, "the first health check");

        Assert.Equal("unhealthy", status.RegistryHealth);
        Assert.Equal(UpstreamState.Ready, status.State);
        Assert.True(registry.RequestsTo("/health") >= 1);
    }

    [Fact]
    public async Task Traceparent_always_and_the_caller_token_only_when_configured_reach_the_registry()
    {
        await using var registry = await FaultyRegistry.StartAsync(servers: 2, toolsPerServer: 1);
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == SarkTelemetry.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
        };
        ActivitySource.AddActivityListener(listener);
        var forwarding = RegistryUpstream(registry.BaseAddress) with { ForwardCallerToken = true };
        var gateway = Start(forwarding);
        await UpstreamAsync(gateway, UpstreamName, s => s.State == UpstreamState.Ready, "the upstream being ready");
        var caller = new Caller("alice", ["developer"], []) { AuthMethod = "jwt", BearerToken = "token-of-alice" };

        await gateway.InvokeToolAsync("server-0001", "tool-00", Args("""{"text":"x"}"""), new InvokeOptions { RequestId = "trace-1", Caller = caller });

        var invoke = Assert.Single(registry.Received, r => r.Path == "/api/v1/invoke");
        Assert.Equal("trace-1", invoke.RequestId);
        Assert.Matches("^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$", invoke.TraceParent);
        Assert.Equal("Bearer token-of-alice", invoke.Authorization);
        Assert.All(registry.Received.Where(r => r.Path != "/api/v1/invoke"), r => Assert.Null(r.Authorization));
    }

    [Fact]
    public async Task A_gateway_upstream_that_does_not_forward_never_sends_the_caller_token()
    {
        await using var registry = await FaultyRegistry.StartAsync(servers: 2, toolsPerServer: 1);
        var gateway = Start(RegistryUpstream(registry.BaseAddress));
        await UpstreamAsync(gateway, UpstreamName, s => s.State == UpstreamState.Ready, "the upstream being ready");

        await gateway.InvokeToolAsync("server-0001", "tool-00", Args("""{"text":"x"}"""),
            new InvokeOptions { Caller = new Caller("alice", [], []) { BearerToken = "secret-token" } });

        Assert.Null(Assert.Single(registry.Received, r => r.Path == "/api/v1/invoke").Authorization);
    }

    [Fact]
    public async Task Auto_prefers_the_local_stdio_route_falls_over_to_the_gateway_when_its_circuit_is_open_and_modes_restrict_the_kinds()
    {
        await using var registry = await FaultyRegistry.StartAsync(servers: 2, toolsPerServer: 1);
        var local = new UpstreamOptions
        {
            Name = "server-0000",
            Kind = UpstreamKind.McpStdio,
            Command = [NodePaths.Dotnet, NodePaths.DemoServerDll],
            CallTimeout = TimeSpan.FromSeconds(10),
            InitTimeout = TimeSpan.FromSeconds(20),
            StopGrace = TimeSpan.FromSeconds(1),
            KillGrace = TimeSpan.FromSeconds(1),
            Backoff = new BackoffOptions { Min = TimeSpan.FromSeconds(30), Max = TimeSpan.FromSeconds(30), RandomFactor = 0 },
        };
        var gateway = Start(local, RegistryUpstream(registry.BaseAddress));
        await UpstreamAsync(gateway, "server-0000", s => s.State == UpstreamState.Ready, "the stdio route being ready");
        await UpstreamAsync(gateway, UpstreamName, s => s.State == UpstreamState.Ready, "the gateway route being ready");

        // AUTO: the local process answers (a CallToolResult with content), the registry sees nothing.
        var viaStdio = await gateway.InvokeToolAsync("server-0000", "echo", Args("""{"text":"local"}"""));
        Assert.True(viaStdio.Result.TryGetProperty("content", out _), viaStdio.Result.ToString());
        Assert.Equal(0, registry.RequestsTo("/api/v1/invoke"));

        // http-only: the same server through the registry.
        var viaGateway = await gateway.InvokeToolAsync("server-0000", "echo", Args("""{"text":"remote"}"""), new InvokeOptions { Route = RouteMode.HttpOnly });
        Assert.Equal("remote", viaGateway.Result.GetProperty("text").GetString());
        Assert.Equal(1, registry.RequestsTo("/api/v1/invoke"));

        // sse-only: no mcp-http route exists, and the error says which routes do.
        var none = await Assert.ThrowsAsync<SarkNotFoundException>(() =>
            gateway.InvokeToolAsync("server-0000", "echo", Args("{}"), new InvokeOptions { Route = RouteMode.SseOnly }));
        Assert.Contains("sse-only", none.Message);
        Assert.Contains("server-0000 (mcp-stdio)", none.Message);

        // The local process dies: its circuit opens, and AUTO takes the gateway route before sending anything locally.
        await Assert.ThrowsAnyAsync<SarkException>(() => gateway.InvokeToolAsync("server-0000", "crash", Args("{}")));
        await UpstreamAsync(gateway, "server-0000", s => s.Breaker == BreakerState.Open, "the stdio circuit opening");
        var fallOver = await gateway.InvokeToolAsync("server-0000", "echo", Args("""{"text":"fell over"}"""));
        Assert.Equal("fell over", fallOver.Result.GetProperty("text").GetString());
        Assert.Equal(2, registry.RequestsTo("/api/v1/invoke"));

        // stdio-only has nowhere else to go.
        var refused = await Assert.ThrowsAsync<UpstreamUnavailableException>(() =>
            gateway.InvokeToolAsync("server-0000", "echo", Args("{}"), new InvokeOptions { Route = RouteMode.StdioOnly }));
        Assert.NotNull(refused.RetryAfter);
        Assert.Equal(2, registry.RequestsTo("/api/v1/invoke"));
    }
}
