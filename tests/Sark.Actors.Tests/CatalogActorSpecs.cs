using Akka.Actor;
using System.Collections.Immutable;
using Akka.TestKit.Xunit2;
using Sark.Actors.Catalog;
using Sark.Actors.Configuration;

namespace Sark.Actors.Tests;

public sealed class CatalogActorSpecs : TestKit
{
    private static ServerInfo Server(string name, string upstream) => new(
        name, name, $"http://registry/{name}", "medium", [], "healthy", 1, upstream, "gateway", null, null, null, null);

    private static ImmutableArray<ToolInfo> Tools(string server) =>
        [new ToolInfo("echo", server, "Echoes", "medium", [], [], [], null)];

    private static CatalogEntry Entry(string name, string upstream) => new(Server(name, upstream), Tools(name));

    [Fact]
    public void An_upstream_replaces_its_servers_and_publishes_their_routes()
    {
        var options = TestUpstreams.With(TestUpstreams.Demo());
        var routes = new ServerRoutes(options);
        var catalog = Sys.ActorOf(CatalogActor.Props(routes));

        catalog.Tell(new CatalogCommands.UpsertServers("registry", [Entry("alpha", "registry"), Entry("beta", "registry")]));
        catalog.Tell(new CatalogCommands.UpsertServers("registry", [Entry("beta", "registry"), Entry("gamma", "registry")]));
        catalog.Tell(CatalogQueries.ListServers.Instance);

        var names = ExpectMsg<CatalogQueries.ServerList>().Servers.Select(s => s.ServerName);
        Assert.Equal(["beta", "gamma"], names);
        Assert.True(routes.TryResolve("gamma", out var upstream));
        Assert.Equal("registry", upstream);
        Assert.False(routes.TryResolve("alpha", out _));
        // A configured mcp-* upstream routes to itself before it has ever connected.
        Assert.True(routes.TryResolve("demo", out var demo));
        Assert.Equal("demo", demo);
    }

    [Fact]
    public void Health_applies_to_every_server_of_the_upstream_and_unknown_servers_are_not_found()
    {
        var catalog = Sys.ActorOf(CatalogActor.Props());
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
    }
}
