using System.Collections.Immutable;
using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using Sark.Actors.Catalog;
using Sark.Actors.Configuration;
using Sark.Actors.Errors;
using Sark.Actors.Upstreams;

namespace Sark.Actors.Tests;

/// <summary>
/// The catalog as a cache: a TestProbe stands in for the upstream tree and receives the
/// refreshes the catalog asks for; time is the TestScheduler's.
/// </summary>
public sealed class CatalogActorSpecs : TestKit
{
    private static readonly Config VirtualTime = ConfigurationFactory.ParseString("""
        akka.scheduler.implementation = "Akka.TestKit.TestScheduler, Akka.TestKit"
        """);

    private static readonly TimeSpan Ttl = TimeSpan.FromSeconds(300);

    private readonly TestProbe _upstreams;

    public CatalogActorSpecs()
        : base(VirtualTime)
    {
        _upstreams = CreateTestProbe();
    }

    private TestScheduler Scheduler => (TestScheduler)Sys.Scheduler;

    private static ServerInfo Server(string name, string upstream, string transport = "gateway") => new(
        name, name, $"http://registry/{name}", "medium", [], "healthy", 1, upstream, transport, null, null, null, null);

    private static CatalogEntry Entry(string name, string upstream, string tool = "echo") =>
        new(Server(name, upstream), [new ToolInfo(tool, name, "Echoes", "medium", [], [], [], null)]);

    private static UpstreamOptions Registry(string name = "registry", int? maxEntries = null) => new()
    {
        Name = name,
        Kind = UpstreamKind.Gateway,
        Url = "http://127.0.0.1:1/",
        CacheTtl = Ttl,
    };

    private (IActorRef Catalog, CatalogView View) StartCatalog(SarkOptions options)
    {
        var view = new CatalogView(options);
        var catalog = Sys.ActorOf(CatalogActor.Props(options, view));
        catalog.Tell(new CatalogCommands.UseUpstreams(_upstreams.Ref));
        return (catalog, view);
    }

    /// <summary>A round trip, so that everything sent before is processed before virtual time moves.</summary>
    private void Settle(IActorRef catalog)
    {
        catalog.Tell(CatalogCommands.GetCacheStats.Instance);
        ExpectMsg<CatalogCommands.CacheStatsReply>();
    }

    [Fact]
    public void An_upstream_replaces_its_servers_and_publishes_their_routes()
    {
        var options = TestUpstreams.With(TestUpstreams.Demo(), Registry());
        var (catalog, view) = StartCatalog(options);

        catalog.Tell(new CatalogCommands.UpsertServers("registry", [Entry("alpha", "registry"), Entry("beta", "registry")]));
        catalog.Tell(new CatalogCommands.UpsertServers("registry", [Entry("beta", "registry"), Entry("gamma", "registry")]));
        catalog.Tell(CatalogQueries.ListServers.Instance);

        var names = ExpectMsg<CatalogQueries.ServerList>().Servers.Select(s => s.ServerName);
        Assert.Equal(["beta", "gamma"], names);
        Assert.True(view.TryResolve("gamma", out var routes));
        Assert.Equal(new Route("registry", UpstreamKind.Gateway), Assert.Single(routes));
        Assert.False(view.TryResolve("alpha", out _));
        // A configured mcp-* upstream routes to itself before it has ever connected.
        Assert.True(view.TryResolve("demo", out var demo));
        Assert.Equal("demo", Assert.Single(demo).Upstream);
    }

    [Fact]
    public void A_server_reachable_through_stdio_and_a_gateway_routes_through_stdio_first()
    {
        var options = TestUpstreams.With(TestUpstreams.Demo("demo"), Registry("a-registry"));
        var (catalog, view) = StartCatalog(options);

        catalog.Tell(new CatalogCommands.UpsertServers("a-registry", [Entry("demo", "a-registry", tool: "remote-echo")]));
        catalog.Tell(new CatalogCommands.UpsertServers("demo", [Entry("demo", "demo", tool: "local-echo")]));
        catalog.Tell(new CatalogQueries.ListTools("demo"));

        // The preferred (local) route's tools are served, though the registry's name sorts first.
        Assert.Equal("local-echo", Assert.Single(ExpectMsg<CatalogQueries.ToolList>().Tools).ToolName);
        Assert.True(view.TryResolve("demo", out var routes));
        Assert.Equal([new Route("demo", UpstreamKind.McpStdio), new Route("a-registry", UpstreamKind.Gateway)], routes.ToArray());
    }

    [Fact]
    public void Health_applies_to_every_server_of_the_upstream_and_unknown_servers_are_not_found()
    {
        var (catalog, _) = StartCatalog(TestUpstreams.With(TestUpstreams.Demo(), Registry()));
        catalog.Tell(new CatalogCommands.UpsertServers("registry", [Entry("alpha", "registry"), Entry("beta", "registry")]));
        catalog.Tell(new CatalogCommands.UpsertServers("demo", [Entry("demo", "demo")]));

        catalog.Tell(new CatalogCommands.SetHealth("registry", "unhealthy"));
        catalog.Tell(CatalogQueries.ListServers.Instance);
        var health = ExpectMsg<CatalogQueries.ServerList>().Servers.ToDictionary(s => s.ServerName, s => s.HealthStatus);

        Assert.Equal("unhealthy", health["alpha"]);
        Assert.Equal("unhealthy", health["beta"]);
        Assert.Equal("healthy", health["demo"]);
        catalog.Tell(new CatalogQueries.ListTools("nope"));
        Assert.Equal("nope", ExpectMsg<CatalogQueries.NotFound>().Server);
        catalog.Tell(new CatalogQueries.ListTools(null));
        Assert.Equal(3, ExpectMsg<CatalogQueries.ToolList>().Tools.Length);
        _upstreams.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public void Fresh_entries_are_served_without_a_fetch_until_the_ttl_passes()
    {
        var (catalog, view) = StartCatalog(TestUpstreams.With(Registry()));
        catalog.Tell(new CatalogCommands.UpsertServers("registry", [Entry("alpha", "registry")]));
        catalog.Tell(new CatalogQueries.GetServer("alpha"));
        ExpectMsg<CatalogQueries.ServerFound>();
        _upstreams.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        Assert.True(view.Current.ByName["alpha"].FreshUntil > Scheduler.Now);

        Settle(catalog);
        Scheduler.Advance(Ttl);
        Assert.True(view.Current.ListingsFreshUntil <= Scheduler.Now, "the listing is stale after its TTL");
        catalog.Tell(new CatalogQueries.GetServer("alpha"));

        // The whole listing expired with it: one walk refreshes every server, not one fetch per server.
        var refresh = _upstreams.ExpectMsg<UpstreamCommands.RefreshCatalog>();
        Assert.Equal(new RefreshKey("registry", null), refresh.Key);
        ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        catalog.Tell(new CatalogCommands.Refreshed(refresh.Key, [Entry("alpha", "registry", tool: "renamed"), Entry("beta", "registry")]));
        Assert.Equal("alpha", ExpectMsg<CatalogQueries.ServerFound>().Server.ServerName);
        Assert.Equal(1, view.Counters["registry"].Misses);
        Assert.Equal(2, view.Counters["registry"].Fetches);
        Assert.Equal("renamed", view.Current.ByName["alpha"].Tools[0].ToolName);
        Assert.True(view.Current.ByName["beta"].FreshUntil > Scheduler.Now);

        // A server expired alone (the listing fresh) is read alone.
        catalog.Tell(new CatalogCommands.Invalidate("beta"));
        ExpectMsg<CatalogCommands.Invalidated>();
        catalog.Tell(new CatalogQueries.GetServer("beta"));
        Assert.Equal(new RefreshKey("registry", "beta"), _upstreams.ExpectMsg<UpstreamCommands.RefreshCatalog>().Key);
    }

    [Fact]
    public void Concurrent_misses_for_the_same_key_share_one_fetch()
    {
        var (catalog, view) = StartCatalog(TestUpstreams.With(Registry()));
        var callers = Enumerable.Range(0, 20).Select(_ => CreateTestProbe()).ToList();
        long joins = 0;
        using var meters = new System.Diagnostics.Metrics.MeterListener();
        meters.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Name == "sark.catalog.singleflight.joins")
                l.EnableMeasurementEvents(instrument);
        };
        meters.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref joins, value));
        meters.Start();

        foreach (var caller in callers)
            catalog.Tell(CatalogQueries.ListServers.Instance, caller.Ref);

        var refresh = _upstreams.ExpectMsg<UpstreamCommands.RefreshCatalog>();
        Assert.Equal(new RefreshKey("registry", null), refresh.Key);
        _upstreams.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        catalog.Tell(new CatalogCommands.Refreshed(refresh.Key, [Entry("alpha", "registry"), Entry("beta", "registry")]));
        foreach (var caller in callers)
            Assert.Equal(2, caller.ExpectMsg<CatalogQueries.ServerList>().Servers.Length);
        Assert.Equal(20, view.Counters["registry"].Misses);
        Assert.Equal(1, view.Counters["registry"].Fetches);
        // The 19 that found the fetch in flight joined it (sark.catalog.singleflight.joins).
        Assert.Equal(19, Interlocked.Read(ref joins));
    }

    [Fact]
    public void A_failed_fetch_serves_the_stale_entries_and_waits_stale_retry_before_fetching_again()
    {
        var options = TestUpstreams.With(Registry()) with { Catalog = new CatalogOptions { StaleRetry = TimeSpan.FromSeconds(5) } };
        var (catalog, view) = StartCatalog(options);
        catalog.Tell(new CatalogCommands.UpsertServers("registry", [Entry("alpha", "registry")]));
        Settle(catalog);
        Scheduler.Advance(Ttl);

        catalog.Tell(CatalogQueries.ListServers.Instance);
        var refresh = _upstreams.ExpectMsg<UpstreamCommands.RefreshCatalog>();
        catalog.Tell(new CatalogCommands.RefreshFailed(refresh.Key, new SarkError(SarkErrorCode.UpstreamUnavailable, "registry down")));
        Assert.Equal("alpha", Assert.Single(ExpectMsg<CatalogQueries.ServerList>().Servers).ServerName);

        catalog.Tell(CatalogQueries.ListServers.Instance);
        ExpectMsg<CatalogQueries.ServerList>();
        _upstreams.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        Assert.Equal(1, view.Counters["registry"].FetchFailures);

        Scheduler.Advance(TimeSpan.FromSeconds(5));
        catalog.Tell(CatalogQueries.ListServers.Instance);
        Assert.Equal(new RefreshKey("registry", null), _upstreams.ExpectMsg<UpstreamCommands.RefreshCatalog>().Key);
    }

    [Fact]
    public void An_unknown_server_whose_fetch_failed_is_unavailable_not_missing()
    {
        var (catalog, _) = StartCatalog(TestUpstreams.With(Registry()));
        catalog.Tell(new CatalogQueries.GetServer("ghost"));
        var refresh = _upstreams.ExpectMsg<UpstreamCommands.RefreshCatalog>();
        catalog.Tell(new CatalogCommands.RefreshFailed(refresh.Key, new SarkError(SarkErrorCode.UpstreamUnavailable, "registry down")));

        Assert.Equal("registry down", ExpectMsg<CatalogQueries.Unavailable>().Error.Message);
    }

    [Fact]
    public void Invalidating_a_server_expires_it_alone_and_invalidating_all_expires_every_listing()
    {
        var (catalog, view) = StartCatalog(TestUpstreams.With(Registry(), TestUpstreams.Demo()));
        catalog.Tell(new CatalogCommands.UpsertServers("registry", [Entry("alpha", "registry"), Entry("beta", "registry")]));
        catalog.Tell(new CatalogCommands.UpsertServers("demo", [Entry("demo", "demo")]));

        catalog.Tell(new CatalogCommands.Invalidate("alpha"));
        Assert.Equal(1, ExpectMsg<CatalogCommands.Invalidated>().Entries);
        Assert.True(view.Current.ByName["alpha"].FreshUntil <= Scheduler.Now);
        Assert.True(view.Current.ByName["beta"].FreshUntil > Scheduler.Now);
        catalog.Tell(new CatalogQueries.ListTools("beta"));
        ExpectMsg<CatalogQueries.ToolList>();
        _upstreams.ExpectNoMsg(TimeSpan.FromMilliseconds(100));

        catalog.Tell(new CatalogCommands.Invalidate(null));
        Assert.Equal(2, ExpectMsg<CatalogCommands.Invalidated>().Entries);
        Assert.Equal(DateTimeOffset.MaxValue, view.Current.ByName["demo"].FreshUntil);
        catalog.Tell(CatalogQueries.ListServers.Instance);
        Assert.Equal(new RefreshKey("registry", null), _upstreams.ExpectMsg<UpstreamCommands.RefreshCatalog>().Key);
    }

    [Fact]
    public void A_refresh_that_is_never_answered_fails_its_waiters_after_its_bound()
    {
        var (catalog, _) = StartCatalog(TestUpstreams.With(Registry()));
        catalog.Tell(CatalogQueries.ListServers.Instance);
        _upstreams.ExpectMsg<UpstreamCommands.RefreshCatalog>();
        ExpectNoMsg(TimeSpan.FromMilliseconds(100));

        Settle(catalog);
        Scheduler.Advance(TimeSpan.FromMinutes(10));
        // Served from what is held (nothing), not left hanging.
        Assert.Empty(ExpectMsg<CatalogQueries.ServerList>().Servers);
    }

    [Fact]
    public void A_listing_beyond_max_entries_is_cut_and_the_cut_is_counted()
    {
        var options = TestUpstreams.With(Registry()) with { Catalog = new CatalogOptions { MaxEntries = 3 } };
        var (catalog, _) = StartCatalog(options);

        catalog.Tell(new CatalogCommands.UpsertServers("registry", [.. Enumerable.Range(0, 5).Select(i => Entry($"s{i}", "registry"))]));
        catalog.Tell(CatalogQueries.ListServers.Instance);

        Assert.Equal(["s0", "s1", "s2"], ExpectMsg<CatalogQueries.ServerList>().Servers.Select(s => s.ServerName));
        catalog.Tell(CatalogCommands.GetCacheStats.Instance);
        Assert.Equal(3, ExpectMsg<CatalogCommands.CacheStatsReply>().Upstreams["registry"].Entries);
    }
}
