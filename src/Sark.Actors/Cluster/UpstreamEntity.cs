using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.DistributedData;
using Akka.Event;
using Sark.Actors.Catalog;
using Sark.Actors.Configuration;
using Sark.Actors.Errors;
using Sark.Actors.Upstreams;
using static Sark.Actors.Cluster.ClusterMessages;
using static Sark.Actors.Upstreams.UpstreamCommands;
using static Sark.Actors.Upstreams.UpstreamReplies;

namespace Sark.Actors.Cluster;

/// <summary>
/// One upstream as a sharded entity (entity id = upstream name): a thin parent around the same
/// <see cref="UpstreamCircuit"/> (BackoffSupervisor and connection actor) a node alone runs.
/// It turns the wire form of a call back into a local one with relays to the caller's node, and
/// publishes what its circuit reports to the whole cluster: the status (distributed data, and
/// straight to this node's manager), the catalog listing (distributed data) and its events
/// (this node's journal, which shares them). It stops when its circuit stops.
/// <para>
/// Calls and requests are answered through it (it relays each reply to the manager that routed
/// it), so that it knows what is in flight. When sharding hands its shard off (this node leaves),
/// the region stops it with <see cref="HandOff"/>: the region buffers what comes for the shard
/// from then on and delivers it at the new home, and the entity lets the calls in flight finish
/// (up to <c>sark.node.shutdown-drain</c>), then stops its circuit (and its process) and itself.
/// </para>
/// </summary>
internal sealed class UpstreamEntity : UntypedActor, IWithTimers
{
    private readonly string _name;
    private readonly UpstreamOptions? _options;
    private readonly ClusterServices _services;
    private readonly IActorRef _manager;
    private readonly Func<UpstreamOptions, IActorRef, Props> _connectionProps;
    private readonly string _incarnation = Guid.NewGuid().ToString("N");
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private IActorRef _circuit = ActorRefs.Nobody;
    private UpstreamStatus? _status;
    private ImmutableArray<CatalogEntry> _servers = [];
    private string? _health;
    private long _seq;
    private const int AnsweredKept = 1024;
    private readonly Dictionary<string, IActorRef> _inFlight = new(StringComparer.Ordinal);
    private readonly HashSet<string> _answered = new(StringComparer.Ordinal);
    private readonly Queue<string> _answeredOrder = new();
    private readonly TimeSpan _drain;
    private bool _handingOff;
    private bool _stopping;

    public UpstreamEntity(
        string name, UpstreamOptions? options, ClusterServices services, IActorRef manager, Func<UpstreamOptions, IActorRef, Props> connectionProps, TimeSpan drain)
    {
        _drain = drain;
        _name = name;
        _options = options;
        _services = services;
        _manager = manager;
        _connectionProps = connectionProps;
    }

    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>An entity of <paramref name="name"/>; on a hand-off, calls in flight get up to <paramref name="drain"/> to finish.</summary>
    public static Props Props(
        string name, UpstreamOptions? options, ClusterServices services, IActorRef manager, Func<UpstreamOptions, IActorRef, Props> connectionProps, TimeSpan drain) =>
        Akka.Actor.Props.Create(() => new UpstreamEntity(name, options, services, manager, connectionProps, drain));

    /// <summary>
    /// The hand-off stop message of the upstream regions: sharding sends it to each entity of a
    /// shard it hands off (this node leaves). Local only: the region's stopper and its entities
    /// share a node, so it never crosses one.
    /// </summary>
    public sealed class HandOff : INoSerializationVerificationNeeded
    {
        public static readonly HandOff Instance = new();

        private HandOff()
        {
        }
    }

    /// <summary>The drain of a hand-off is over: what is still in flight is failed by the stopping circuit.</summary>
    private sealed class DrainOver : INoSerializationVerificationNeeded
    {
        public static readonly DrainOver Instance = new();
    }

    protected override void PreStart()
    {
        if (_options is null)
        {
            _log.Warning("Upstream entity {Upstream} is not configured on this node; every node must share the upstream configuration", _name);
            return;
        }

        // No board: in a cluster the manager of every node writes its own board from the statuses.
        _circuit = Context.ActorOf(UpstreamCircuit.Props(_options, Self, _connectionProps, board: null), "circuit");
        Context.Watch(_circuit);
    }

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case IUpstreamMessage unknown when _options is null:
                RefuseUnknown(unknown);
                break;
            case HandOff:
                OnHandOff();
                break;
            case DrainOver:
                _log.Warning("Upstream {Upstream}: {Calls} calls still in flight after the hand-off drain ({Drain}s); stopping the upstream", _name, _inFlight.Count, _drain.TotalSeconds);
                StopCircuit();
                break;
            case ClusterCall call:
                // Late ones (the region buffers a shard's messages once its hand-off begins, so
                // none are expected) are still served while the circuit drains, and not accepted
                // once it stops (their manager sends them again).
                if (Accept(call.RequestId, call.ReplyTo))
                    _circuit.Tell(ToLocal(call), Self);
                break;
            case ForwardRequest request:
                if (Accept(request.RequestId, Sender))
                    _circuit.Tell(request, Self);
                break;
            case ToolCallCompleted completed:
                Reply(completed.RequestId, completed);
                break;
            case ToolCallFailed failed:
                Reply(failed.RequestId, failed);
                break;
            case RequestCompleted completed:
                Reply(completed.RequestId, completed);
                break;
            case WakeUpstream:
                break;
            case IUpstreamMessage routed:
                _circuit.Forward(routed);
                break;
            case UpstreamManager.StatusChanged changed:
                OnStatus(changed.Status);
                break;
            case CatalogCommands.UpsertServers upsert:
                _servers = upsert.Servers;
                _health = null;
                PublishListing();
                break;
            case CatalogCommands.ReplaceTools replace:
                _servers = [.. _servers.Select(e => e.Server.ServerName == replace.Server
                    ? new CatalogEntry(e.Server with { ToolsCount = replace.Tools.Length }, replace.Tools)
                    : e)];
                PublishListing();
                break;
            case CatalogCommands.SetHealth health:
                _health = health.HealthStatus;
                PublishListing();
                break;
            case CatalogCommands.Expire expire:
                _services.Mediator.Tell(new Publish(ClusterKeys.CatalogTopic, new CatalogExpire(expire.Upstream, expire.Server)));
                break;
            case UpdateSuccess:
                break;
            case IUpdateFailure failure:
                _log.Warning("Upstream {Upstream}: a distributed-data write failed: {Failure}", _name, failure);
                break;
            case Terminated terminated when terminated.ActorRef.Equals(_circuit):
                Context.Stop(Self);
                break;

            default:
                Unhandled(message);
                break;
        }
    }

    /// <summary>Sharding hands this upstream off: drain what is in flight (bounded), then stop the circuit, then this entity.</summary>
    private void OnHandOff()
    {
        if (_handingOff)
            return;
        _handingOff = true;
        if (_options is null)
        {
            // Not configured on this node: no circuit to drain.
            Context.Stop(Self);
            return;
        }

        _log.Info("Upstream {Upstream}: handed off; {Calls} calls in flight finish here (up to {Drain}s), then it stops", _name, _inFlight.Count, _drain.TotalSeconds);
        if (_inFlight.Count == 0)
            StopCircuit();
        else
            Timers.StartSingleTimer(DrainOver.Instance, DrainOver.Instance, _drain);
    }

    /// <summary>
    /// Tells the manager that routed a call that this entity has it (it stops sending it again),
    /// and whether the call is new: a copy sent again (its accept was slow) is not run twice.
    /// </summary>
    private bool Accept(string requestId, IActorRef replyTo)
    {
        // Once the circuit stops, a late call is not accepted: its manager sends it again, to the new home.
        if (_stopping)
            return false;
        replyTo.Tell(new CallAccepted(requestId));
        if (_inFlight.ContainsKey(requestId) || _answered.Contains(requestId))
            return false;
        _inFlight[requestId] = replyTo;
        return true;
    }

    private void StopCircuit()
    {
        _stopping = true;
        Context.Stop(_circuit);
    }

    /// <summary>A reply of the circuit, relayed to the manager that routed the call; the last one of a hand-off stops the circuit.</summary>
    private void Reply(string requestId, object reply)
    {
        if (!_inFlight.Remove(requestId, out var replyTo))
            return;
        replyTo.Tell(reply);
        _answered.Add(requestId);
        _answeredOrder.Enqueue(requestId);
        if (_answeredOrder.Count > AnsweredKept)
            _answered.Remove(_answeredOrder.Dequeue());
        if (_handingOff && _inFlight.Count == 0)
        {
            Timers.Cancel(DrainOver.Instance);
            StopCircuit();
        }
    }

    /// <summary>The local call the circuit takes; the relays talk to the manager that routed it.</summary>
    private static CallTool ToLocal(ClusterCall call) =>
        new(call.RequestId, call.Upstream, call.Tool, call.Arguments, call.Timeout)
        {
            Server = call.Server,
            TraceParent = call.TraceParent,
            BearerToken = call.BearerToken,
            Progress = call.WantsProgress ? new ProgressRelay(call.ReplyTo, call.RequestId) : null,
            ClientRequests = call.WantsClient ? new ClientRelay(call.ReplyTo, call.RequestId, call.Timeout ?? TimeSpan.FromSeconds(30)) : null,
        };

    private void OnStatus(UpstreamStatus status)
    {
        Events.NodeEvents.UpstreamStateChanged(_services.Journal, _status, status);
        _status = status;
        var hosted = new HostedStatus(status, _services.Host, _incarnation, ++_seq, DateTimeOffset.UtcNow);
        _manager.Tell(hosted);
        _services.Replicator.Tell(Dsl.Update(ClusterKeys.Statuses, LWWDictionary<string, HostedStatus>.Empty, WriteLocal.Instance,
            map => map.SetItem(_services.Self, _name, hosted)));
    }

    private void PublishListing()
    {
        var listing = new UpstreamListing(_name, _servers, _health, _services.Host, _incarnation, ++_seq);
        _services.Replicator.Tell(Dsl.Update(ClusterKeys.Catalog, LWWDictionary<string, UpstreamListing>.Empty, WriteLocal.Instance,
            map => map.SetItem(_services.Self, _name, listing)));
    }

    private void RefuseUnknown(IUpstreamMessage message)
    {
        var error = new SarkError(SarkErrorCode.NotFound, $"Upstream '{_name}' is not configured on node {_services.Host}; every node must share the upstream configuration.");
        switch (message)
        {
            case ClusterCall call:
                call.ReplyTo.Tell(new ToolCallFailed(call.RequestId, error));
                break;
            case ForwardRequest request:
                Sender.Tell(new ToolCallFailed(request.RequestId, error));
                break;
            case Operate operate:
                Sender.Tell(new OperatorFailed(operate.Upstream, error));
                break;
            case RefreshCatalog refresh:
                Sender.Tell(new CatalogCommands.RefreshFailed(refresh.Key, error));
                break;
        }
    }
}
