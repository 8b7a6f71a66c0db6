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
        SarkOptions options, TaskCompletionSource<Children> children, Func<UpstreamOptions, IActorRef, Props>? connectionProps, CircuitBoard board, CatalogView view, EventJournal journal, DecisionCache decisions, AuditLog? audit)
    {
        if (audit is not null)
            Context.ActorOf(AuditWriter.Props(audit), "audit");
        var policy = options.Policy is { } policyOptions ? Context.ActorOf(PolicyDecisionPoint.Props(policyOptions, decisions), "policy") : null;
        var catalog = Context.ActorOf(CatalogActor.Props(options, view, journal), "catalog");
        var upstreams = Context.ActorOf(UpstreamManager.Props(options, catalog, connectionProps, board, journal), "upstreams");
        var streams = Context.ActorOf(EventStreamManager.Props(options.Events.MaxStreams), "streams");
        catalog.Tell(new CatalogCommands.UseUpstreams(upstreams));
        var registry = ActorRegistry.For(Context.System);
        registry.Register<CatalogActor>(catalog, overwrite: true);
        registry.Register<UpstreamManager>(upstreams, overwrite: true);
        registry.Register<EventStreamManager>(streams, overwrite: true);
        if (policy is not null)
            registry.Register<PolicyDecisionPoint>(policy, overwrite: true);
        children.TrySetResult(new Children(upstreams, catalog, streams, policy));
    }

    /// <summary>The children the facade talks to.</summary>
    public sealed record Children(IActorRef Upstreams, IActorRef Catalog, IActorRef Streams, IActorRef? Policy);

    public static Props Props(
        SarkOptions options, TaskCompletionSource<Children> children, Func<UpstreamOptions, IActorRef, Props>? connectionProps, CircuitBoard board, CatalogView view, EventJournal journal, DecisionCache decisions, AuditLog? audit) =>
        Akka.Actor.Props.Create(() => new SarkRoot(options, children, connectionProps, board, view, journal, decisions, audit));

    protected override void OnReceive(object message) => Unhandled(message);
}

/// <summary>Starts the Sark tree in an actor system, with its facade.</summary>
internal static class SarkRuntime
{
    /// <summary>Starts the tree as <c>/user/sark</c> and returns it with a facade over it.</summary>
    public static (IActorRef Root, SarkGateway Gateway) Start(
        ActorSystem system, SarkOptions options, Func<UpstreamOptions, IActorRef, Props>? connectionProps = null, ILoggerFactory? loggers = null)
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
        var root = system.ActorOf(SarkRoot.Props(options, children, connectionProps, board, view, journal, decisions, audit), "sark");
        return (root, new SarkGateway(options, children.Task, board, view, system.Scheduler, journal, decisions, audit, loggers?.CreateLogger<SarkGateway>()));
    }
}
