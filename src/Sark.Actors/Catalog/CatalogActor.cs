using System.Collections.Immutable;
using Akka.Actor;

namespace Sark.Actors.Catalog;

/// <summary>Updates to the catalog, sent by upstream circuits.</summary>
internal static class CatalogCommands
{
    public sealed record UpsertServer(ServerInfo Server, ImmutableArray<ToolInfo> Tools) : INoSerializationVerificationNeeded;

    public sealed record ReplaceTools(string Server, ImmutableArray<ToolInfo> Tools) : INoSerializationVerificationNeeded;

    public sealed record SetHealth(string Server, string HealthStatus);
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
    private ImmutableSortedDictionary<string, Entry> _servers = ImmutableSortedDictionary<string, Entry>.Empty.WithComparers(StringComparer.Ordinal);

    public static Props Props() => Akka.Actor.Props.Create(() => new CatalogActor());

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case CatalogCommands.UpsertServer upsert:
                _servers = _servers.SetItem(upsert.Server.ServerName, new Entry(upsert.Server, upsert.Tools));
                break;
            case CatalogCommands.ReplaceTools replace when _servers.TryGetValue(replace.Server, out var entry):
                _servers = _servers.SetItem(replace.Server, new Entry(
                    entry.Server with { ToolsCount = replace.Tools.Length, UpdatedAt = DateTimeOffset.UtcNow }, replace.Tools));
                break;
            case CatalogCommands.SetHealth health when _servers.TryGetValue(health.Server, out var entry):
                _servers = _servers.SetItem(health.Server, entry with { Server = entry.Server with { HealthStatus = health.HealthStatus } });
                break;
            case CatalogCommands.ReplaceTools or CatalogCommands.SetHealth:
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

    private sealed record Entry(ServerInfo Server, ImmutableArray<ToolInfo> Tools);
}
