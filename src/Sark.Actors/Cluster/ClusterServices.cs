using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.DistributedData;
using Sark.Actors.Events;
using static Sark.Actors.Cluster.ClusterMessages;

namespace Sark.Actors.Cluster;

/// <summary>The distributed-data keys and pub-sub topics of the cluster mode.</summary>
internal static class ClusterKeys
{
    /// <summary>Upstream name → its latest <see cref="HostedStatus"/>.</summary>
    public static readonly LWWDictionaryKey<string, HostedStatus> Statuses = new("sark-upstream-status");

    /// <summary>Upstream name → its latest <see cref="UpstreamListing"/>.</summary>
    public static readonly LWWDictionaryKey<string, UpstreamListing> Catalog = new("sark-catalog");

    /// <summary>Node events (<see cref="SharedEvent"/>).</summary>
    public const string EventsTopic = "sark-events";

    /// <summary>Catalog expiries (<see cref="CatalogExpire"/>).</summary>
    public const string CatalogTopic = "sark-catalog";
}

/// <summary>What a node's cluster actors share: its address, the replicator, the mediator and the journal.</summary>
internal sealed class ClusterServices
{
    public ClusterServices(ActorSystem system, EventJournal journal)
    {
        var cluster = Akka.Cluster.Cluster.Get(system);
        Host = cluster.SelfAddress.ToString();
        Replicator = DistributedData.Get(system).Replicator;
        Self = cluster.SelfUniqueAddress;
        Mediator = DistributedPubSub.Get(system).Mediator;
        Journal = journal;
    }

    /// <summary>This node's address (<c>akka.tcp://sark@host:port</c>).</summary>
    public string Host { get; }

    public IActorRef Replicator { get; }

    public Akka.Cluster.UniqueAddress Self { get; }

    public IActorRef Mediator { get; }

    public EventJournal Journal { get; }

    /// <summary>Sends events this node produces (upstream states, invocations) to every other node's journal.</summary>
    public void ShareJournal() =>
        Journal.Shared = (type, data) => Mediator.Tell(new Publish(ClusterKeys.EventsTopic, new SharedEvent(Host, type, data)));
}
