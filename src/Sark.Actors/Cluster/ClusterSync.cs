using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.DistributedData;
using Sark.Actors.Catalog;
using Sark.Actors.Configuration;
using static Sark.Actors.Cluster.ClusterMessages;

namespace Sark.Actors.Cluster;

/// <summary>
/// A node's side of what the cluster shares (<c>/user/sark/cluster-sync</c>): it applies every
/// upstream's replicated listing to this node's catalog (so a list on any node is answered
/// locally), the catalog expiries of every node, and the events other nodes produced to this
/// node's journal. What this node produces goes out through its entities and its journal.
/// </summary>
internal sealed class ClusterSync : UntypedActor
{
    private readonly SarkOptions _options;
    private readonly IActorRef _catalog;
    private readonly ClusterServices _services;
    private readonly Dictionary<string, (string Incarnation, long Seq)> _applied = new(StringComparer.Ordinal);

    public ClusterSync(SarkOptions options, IActorRef catalog, ClusterServices services)
    {
        _options = options;
        _catalog = catalog;
        _services = services;
    }

    public static Props Props(SarkOptions options, IActorRef catalog, ClusterServices services) =>
        Akka.Actor.Props.Create(() => new ClusterSync(options, catalog, services));

    protected override void PreStart()
    {
        _services.Replicator.Tell(Dsl.Subscribe(ClusterKeys.Catalog, Self));
        _services.Mediator.Tell(new Akka.Cluster.Tools.PublishSubscribe.Subscribe(ClusterKeys.EventsTopic, Self));
        _services.Mediator.Tell(new Akka.Cluster.Tools.PublishSubscribe.Subscribe(ClusterKeys.CatalogTopic, Self));
    }

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case Changed changed when changed.Key.Equals(ClusterKeys.Catalog):
                foreach (var (name, listing) in changed.Get(ClusterKeys.Catalog).Entries)
                    Apply(name, listing);
                break;
            case CatalogExpire expire when _options.Upstreams.ContainsKey(expire.Upstream):
                _catalog.Tell(new CatalogCommands.Expire(expire.Upstream, expire.Server));
                break;
            case SharedEvent shared when shared.Origin != _services.Host:
                _services.Journal.Append(shared.Type, shared.Data);
                break;
            case SharedEvent or CatalogExpire or SubscribeAck:
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    private void Apply(string name, UpstreamListing listing)
    {
        if (!_options.Upstreams.ContainsKey(name)
            || (_applied.TryGetValue(name, out var applied) && applied == (listing.Incarnation, listing.Seq)))
            return;
        _applied[name] = (listing.Incarnation, listing.Seq);
        _catalog.Tell(new CatalogCommands.UpsertServers(name, listing.Servers));
        if (listing.Health is { } health)
            _catalog.Tell(new CatalogCommands.SetHealth(name, health));
    }
}
