using Akka.Actor;
using Akka.Configuration;
using Sark.Actors.Audit;
using Sark.Actors.Catalog;
using Sark.Actors.Configuration;
using Sark.Actors.Hosting;
using Sark.Actors.Policy;

namespace Sark.Actors.Ops;

/// <summary>What the node offers the palettes: the actor system, the facade and the runtime's parts.</summary>
public sealed class OpsServices
{
    private ISarkGateway? _gateway;

    internal OpsServices(ActorSystem system, SarkOptions options, CatalogView view, DecisionCache decisions, AuditLog? audit, RecentLogs? logs, Config? config)
    {
        System = system;
        Options = options;
        View = view;
        Decisions = decisions;
        Audit = audit;
        Logs = logs;
        Config = config;
        StartedAt = DateTimeOffset.UtcNow;
    }

    public ActorSystem System { get; }

    public SarkOptions Options { get; }

    /// <summary>The facade (what a library user calls); available once the tree has started.</summary>
    public ISarkGateway Gateway => _gateway ?? throw new InvalidOperationException("The gateway is not started yet.");

    /// <summary>When the runtime started.</summary>
    public DateTimeOffset StartedAt { get; }

    /// <summary>The configuration the node read (for <c>config show</c>); null when the options were built in code.</summary>
    public Config? Config { get; }

    internal SarkRoot.Children Children { get; set; } = null!;

    internal CatalogView View { get; }

    internal DecisionCache Decisions { get; }

    internal AuditLog? Audit { get; }

    /// <summary>The ring behind <c>log peek</c>; null when the application did not register one (<c>AddSarkOpsLogs</c>).</summary>
    internal RecentLogs? Logs { get; }

    internal void UseGateway(ISarkGateway gateway) => _gateway = gateway;
}
