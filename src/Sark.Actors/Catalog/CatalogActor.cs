using System.Collections.Immutable;
using Akka.Actor;

namespace Sark.Actors.Catalog;

/// <summary>A server and its tools, as an upstream exposes it.</summary>
internal sealed record CatalogEntry(ServerInfo Server, ImmutableArray<ToolInfo> Tools);

/// <summary>Updates to the catalog, sent by upstream circuits.</summary>
internal static class CatalogCommands
{
    /// <summary>Every server an upstream exposes, replacing what it exposed before.</summary>
    public sealed record UpsertServers(string Upstream, ImmutableArray<CatalogEntry> Servers) : INoSerializationVerificationNeeded;

    public sealed record ReplaceTools(string Server, ImmutableArray<ToolInfo> Tools) : INoSerializationVerificationNeeded;

    /// <summary>The health of every server of an upstream.</summary>
    public sealed record SetHealth(string Upstream, string HealthStatus);
}

/// <summary>Questions to the catalog. Each is answered with its reply record, or <see cref="NotFound"/>.</summary>
public static class CatalogQueries
{
    public sealed class ListServers
    {
        public static readonly ListServers Instance = new();

        private ListServers()
        {
        }
    }

    public sealed record GetServer(string Server);

    /// <summary>Tools of one server, or of all servers when <see cref="Server"/> is null.</summary>
    public sealed record ListTools(string? Server);

    public sealed record ServerList(ImmutableArray<ServerInfo> Servers) : INoSerializationVerificationNeeded;

    public sealed record ServerFound(ServerInfo Server) : INoSerializationVerificationNeeded;

    public sealed record ToolList(ImmutableArray<ToolInfo> Tools) : INoSerializationVerificationNeeded;

    public sealed record NotFound(string Server);
}

/// <summary>
/// What the node knows about servers and their tools, built from every upstream. Child of
/// <c>SarkRoot</c>; fed by the circuits (<see cref="CatalogCommands"/>), read by the facade.
/// A server stays listed (as unhealthy) while its upstream is down, with its last known tools.
/// </summary>
internal sealed class CatalogActor : UntypedActor
{
    private readonly ServerRoutes? _routes;
    private ImmutableSortedDictionary<string, CatalogEntry> _servers = ImmutableSortedDictionary<string, CatalogEntry>.Empty.WithComparers(StringComparer.Ordinal);

    public CatalogActor(ServerRoutes? routes)
    {
        _routes = routes;
    }

    public static Props Props(ServerRoutes? routes = null) => Akka.Actor.Props.Create(() => new CatalogActor(routes));

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case CatalogCommands.UpsertServers upsert:
                Upsert(upsert);
                break;
            case CatalogCommands.ReplaceTools replace when _servers.TryGetValue(replace.Server, out var entry):
                _servers = _servers.SetItem(replace.Server, new CatalogEntry(
                    entry.Server with { ToolsCount = replace.Tools.Length, UpdatedAt = DateTimeOffset.UtcNow }, replace.Tools));
                break;
            case CatalogCommands.ReplaceTools:
                break;
            case CatalogCommands.SetHealth health:
                foreach (var (name, known) in _servers)
                {
                    if (known.Server.Upstream == health.Upstream)
                        _servers = _servers.SetItem(name, known with { Server = known.Server with { HealthStatus = health.HealthStatus } });
                }

                break;
            case CatalogQueries.ListServers:
                Sender.Tell(new CatalogQueries.ServerList([.. _servers.Values.Select(e => e.Server)]));
                break;
            case CatalogQueries.GetServer get:
                Sender.Tell(_servers.TryGetValue(get.Server, out var found)
                    ? new CatalogQueries.ServerFound(found.Server)
                    : new CatalogQueries.NotFound(get.Server));
                break;
            case CatalogQueries.ListTools { Server: null }:
                Sender.Tell(new CatalogQueries.ToolList([.. _servers.Values.SelectMany(e => e.Tools)]));
                break;
            case CatalogQueries.ListTools list:
                Sender.Tell(_servers.TryGetValue(list.Server, out var server)
                    ? new CatalogQueries.ToolList(server.Tools)
                    : new CatalogQueries.NotFound(list.Server));
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    private void Upsert(CatalogCommands.UpsertServers upsert)
    {
        var builder = _servers.ToBuilder();
        foreach (var (name, entry) in _servers)
        {
            if (entry.Server.Upstream == upsert.Upstream)
                builder.Remove(name);
        }

        foreach (var entry in upsert.Servers)
            builder[entry.Server.ServerName] = entry;
        _servers = builder.ToImmutable();
        _routes?.Publish(_servers.ToImmutableDictionary(e => e.Key, e => e.Value.Server.Upstream, StringComparer.Ordinal));
    }
}
