using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.Logging;
using Sark.Actors.Audit;
using Sark.Actors.Catalog;
using Sark.Actors.Configuration;
using Sark.Actors.Events;
using Sark.Actors.Policy;
using Sark.Actors.Upstreams;

namespace Sark.Actors.Hosting;

/// <summary>
/// <c>/user/sark</c>: owns the runtime's subtree (<c>catalog</c>, <c>upstreams</c>) with the
/// default one-for-one strategy and escalates nothing. It hands its children to the facade
/// through <see cref="Children"/> (a task completed in its constructor), so that the facade
/// reaches them without a hop through here, and registers them in the <see cref="ActorRegistry"/>
/// for anything else that wants them.
/// </summary>
internal sealed class SarkRoot : UntypedActor
{
    public SarkRoot(
        SarkOptions options, TaskCompletionSource<Children> children, Func<UpstreamOptions, IActorRef, Props>? connectionProps, CircuitBoard board, CatalogView view, EventJournal journal, DecisionCache decisions, AuditLog? audit, SarkRuntime.OpsHost? ops, Cluster.ClusterServices? cluster)
    {
        if (audit is not null)
            Context.ActorOf(AuditWriter.Props(audit), "audit");
        var policy = options.Policy is { } policyOptions ? Context.ActorOf(PolicyDecisionPoint.Props(policyOptions, decisions), "policy") : null;
        var catalog = Context.ActorOf(CatalogActor.Props(options, view, journal), "catalog");
        // In a cluster the upstreams are sharded entities; the manager routes to their regions.
        var upstreams = cluster is null
            ? Context.ActorOf(UpstreamManager.Props(options, catalog, connectionProps, board, journal), "upstreams")
            : Context.ActorOf(Cluster.ShardedUpstreams.Props(options, cluster, board, connectionProps), "upstreams");
        if (cluster is not null)
            Context.ActorOf(Cluster.ClusterSync.Props(options, catalog, cluster), "cluster-sync");
        var streams = Context.ActorOf(EventStreamManager.Props(options.Events.MaxStreams), "streams");
        catalog.Tell(new CatalogCommands.UseUpstreams(upstreams));
        var registry = ActorRegistry.For(Context.System);
        registry.Register<CatalogActor>(catalog, overwrite: true);
        registry.Register<UpstreamManager>(upstreams, overwrite: true);
        registry.Register<EventStreamManager>(streams, overwrite: true);
        if (policy is not null)
            registry.Register<PolicyDecisionPoint>(policy, overwrite: true);
        var built = new Children(upstreams, catalog, streams, policy);
        if (ops is not null)
        {
            ops.Services.Children = built;
            Context.ActorOf(Ops.OpsCommandHost.Props(options.Node.Ops, ops.Palettes, ops.Services, ops.Listening), "ops");
        }

        children.TrySetResult(built);
    }

    /// <summary>The children the facade talks to.</summary>
    public sealed record Children(IActorRef Upstreams, IActorRef Catalog, IActorRef Streams, IActorRef? Policy);

    public static Props Props(
        SarkOptions options, TaskCompletionSource<Children> children, Func<UpstreamOptions, IActorRef, Props>? connectionProps, CircuitBoard board, CatalogView view, EventJournal journal, DecisionCache decisions, AuditLog? audit, SarkRuntime.OpsHost? ops = null, Cluster.ClusterServices? cluster = null) =>
        Akka.Actor.Props.Create(() => new SarkRoot(options, children, connectionProps, board, view, journal, decisions, audit, ops, cluster));

    protected override void OnReceive(object message) => Unhandled(message);
}

/// <summary>Starts the Sark tree in an actor system, with its facade.</summary>
internal static class SarkRuntime
{
    /// <summary>The ops console, when the builder asked for it: its palettes and log ring.</summary>
    internal sealed record Ops(SarkOpsHostingExtensions.OpsSetup Setup, Sark.Actors.Ops.RecentLogs? Logs);

    /// <summary>What the root needs to start <c>/user/sark/ops</c>.</summary>
    internal sealed record OpsHost(
        System.Collections.Immutable.ImmutableDictionary<string, Sark.Actors.Ops.OpsPalette> Palettes,
        Sark.Actors.Ops.OpsServices Services,
        TaskCompletionSource<System.Net.IPEndPoint> Listening);

    /// <summary>Starts the tree as <c>/user/sark</c> and returns it with a facade over it.</summary>
    public static (IActorRef Root, SarkGateway Gateway) Start(
        ActorSystem system, SarkOptions options, Func<UpstreamOptions, IActorRef, Props>? connectionProps = null, ILoggerFactory? loggers = null, Ops? ops = null)
    {
        AuditLog? audit = null;
        if (options.Audit is { Enabled: true } auditOptions)
        {
            audit = new AuditLog(auditOptions, AuditStores.Create(auditOptions, Environment.CurrentDirectory), loggers?.CreateLogger<AuditLog>());
            // Written to the end in before-actor-system-terminate, then closed once the system is gone.
            audit.FlushOnShutdown(system);
            system.WhenTerminated.ContinueWith(_ => audit.DisposeAsync().AsTask(), TaskScheduler.Default);
        }

        var children = new TaskCompletionSource<SarkRoot.Children>(TaskCreationOptions.RunContinuationsAsynchronously);
        var board = new CircuitBoard();
        var view = new CatalogView(options);
        var journal = new EventJournal(options.Events.JournalSize);
        var decisions = new DecisionCache(system.Scheduler, options.Policy?.CacheMaxEntries ?? 1);
        OpsHost? opsHost = null;
        if (ops is not null)
        {
            var services = new Sark.Actors.Ops.OpsServices(system, options, view, decisions, audit, ops.Logs, ops.Setup.Config);
            opsHost = new OpsHost(ops.Setup.AllPalettes(), services, new TaskCompletionSource<System.Net.IPEndPoint>(TaskCreationOptions.RunContinuationsAsynchronously));
            SarkOpsHostingExtensions.Record(system, opsHost.Listening.Task);
        }

        var cluster = options.Cluster.Enabled ? ClusterServicesOf(system, journal) : null;
        var root = system.ActorOf(SarkRoot.Props(options, children, connectionProps, board, view, journal, decisions, audit, opsHost, cluster), "sark");
        var gateway = new SarkGateway(options, children.Task, board, view, system.Scheduler, journal, decisions, audit, loggers?.CreateLogger<SarkGateway>());
        opsHost?.Services.UseGateway(gateway);
        return (root, gateway);
    }

    /// <summary>The cluster mode's shared parts; refuses a system that was not set up with <c>WithSarkCluster</c>.</summary>
    private static Cluster.ClusterServices ClusterServicesOf(ActorSystem system, EventJournal journal)
    {
        if (!system.Settings.ProviderClass.Contains("Cluster", StringComparison.Ordinal))
            throw new SarkConfigException("sark.cluster.enabled is on, but the actor system is not a cluster member: call WithSarkCluster(options) before WithSarkGateway(options).");
        if (system.Name != "sark")
            throw new SarkConfigException($"sark.cluster.enabled is on, but the actor system is named '{system.Name}'; the nodes of a cluster are named sark (akka.tcp://sark@HOST:PORT).");
        var services = new Cluster.ClusterServices(system, journal);
        services.ShareJournal();
        return services;
    }
}
