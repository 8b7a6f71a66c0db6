using Akka.Actor;
using Akka.Event;
using Akka.Pattern;
using Sark.Actors.Catalog;
using Sark.Actors.Configuration;
using Sark.Actors.Errors;
using Sark.Actors.Telemetry;
using static Sark.Actors.Upstreams.UpstreamCommands;
using static Sark.Actors.Upstreams.UpstreamReplies;

namespace Sark.Actors.Upstreams;

/// <summary>
/// The circuit of one upstream: a thin parent around the upstream's <see cref="BackoffSupervisor"/>
/// (child <c>backoff</c>, grandchild <c>conn</c>). The breaker is the supervision tree itself:
/// the connection actor fails (it stops itself) on a fatal fault or at the failure threshold,
/// and the supervisor (<c>Backoff.OnStop</c>) starts a fresh one after the backoff. This actor only watches that
/// happen, so it can answer for the connection while it is down (with the time until the next
/// try, which <c>WithReplyWhileStopped</c> cannot say) and report the breaker state.
/// <code>
/// Closed ──Faulted/Terminated──▶ Open ──supervisor starts conn──▶ HalfOpen ──Ready──▶ Closed
///                                  ▲                                 │
///                                  └──────────Faulted────────────────┘
/// </code>
/// </summary>
internal sealed partial class UpstreamCircuit : UntypedActor, IWithTimers
{
    private const string StableTimer = "stable";

    private readonly UpstreamOptions _options;
    private readonly IActorRef _catalog;
    private readonly Func<UpstreamOptions, IActorRef, Props> _connectionProps;
    private readonly CircuitBoard? _board;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private CircuitState _state;
    private IActorRef? _connection;
    private IActorRef _backoff = ActorRefs.Nobody;

    // Calls that arrive before the first connection reports in. They go to it as soon as it
    // does, straight from here, so that they can never overtake what the circuit tells it.
    private readonly List<(CallTool Call, IActorRef ReplyTo)> _early = [];

    public UpstreamCircuit(UpstreamOptions options, IActorRef catalog, Func<UpstreamOptions, IActorRef, Props> connectionProps, CircuitBoard? board)
    {
        _options = options;
        _catalog = catalog;
        _connectionProps = connectionProps;
        _board = board;
        _state = CircuitState.Initial(options.Name, options.Kind);
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(
        UpstreamOptions options, IActorRef catalog, Func<UpstreamOptions, IActorRef, Props> connectionProps, CircuitBoard? board = null) =>
        Akka.Actor.Props.Create(() => new UpstreamCircuit(options, catalog, connectionProps, board));

    protected override void PreStart()
    {
        StartBackoff();
        Publish(transition: false);
    }

    private void StartBackoff()
    {
        var backoff = Backoff.OnStop(
                _connectionProps(_options, Self),
                "conn",
                _options.Backoff.Min,
                _options.Backoff.Max,
                _options.Backoff.RandomFactor,
                maxNrOfRetries: -1)
            .WithAutoReset(_options.Backoff.ResetAfter)
            // A connection fails by stopping itself (after the fault protocol), and the supervisor
            // starts a fresh one after the backoff. An unexpected exception stops it too (and is
            // logged, being a bug), so it also ends in a backoff, never in an in-place restart.
            .WithSupervisorStrategy(new OneForOneStrategy(-1, -1, _ => Directive.Stop));
        _backoff = Context.ActorOf(BackoffSupervisor.Props(backoff), "backoff");
        Context.Watch(_backoff);
    }

    /// <summary>What a request gets while there is no connection: upstream_unavailable with the time until the next try.</summary>
    private SarkError Refusal()
    {
        var retryAfter = _state.RetryAfter(Context.System.Scheduler.Now);
        return new SarkError(SarkErrorCode.UpstreamUnavailable, CircuitBoard.RefusalMessage(_options.Name, _state.LastError, retryAfter), RetryAfter: retryAfter) { NotSent = true };
    }

    protected override void PostStop()
    {
        _board?.PostConnection(_options.Name, null);
        foreach (var (call, replyTo) in _early)
        {
            replyTo.Tell(new ToolCallFailed(call.RequestId, new SarkError(SarkErrorCode.ShuttingDown,
                $"Upstream '{_options.Name}' stopped before it started; the call was not sent.")));
        }
    }

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case Operate operate:
                OnOperate(operate);
                break;
            case CallTool call when StoppedByOperator:
                Sender.Tell(new ToolCallFailed(call.RequestId, new SarkError(SarkErrorCode.UpstreamUnavailable,
                    $"Upstream '{_options.Name}' was stopped by an operator; start it again with: sark upstream start {_options.Name}") { NotSent = true }));
                break;
            case CallTool call when _connection is not null:
                _connection.Forward(call);
                break;
            case CallTool call when _state.Breaker != BreakerState.Open:
                if (_early.Count >= _options.MaxPendingWhileConnecting)
                    Sender.Tell(new ToolCallFailed(call.RequestId, new SarkError(SarkErrorCode.UpstreamUnavailable,
                        $"Upstream '{_options.Name}' is still starting and its queue is full. Try again shortly.") { NotSent = true }));
                else
                    _early.Add((call, Sender));
                break;
            case CallTool call:
                Sender.Tell(new ToolCallFailed(call.RequestId, Refusal()));
                break;
            case ForwardRequest request when _connection is not null:
                _connection.Forward(request);
                break;
            case ForwardRequest request:
                // Not queued while starting, unlike a tool call: a listing or read can be asked again.
                Sender.Tell(new ToolCallFailed(request.RequestId, Refusal()));
                break;
            case RefreshCatalog refresh when _connection is not null:
                _connection.Forward(refresh);
                break;
            case RefreshCatalog refresh:
                var wait = _state.RetryAfter(Context.System.Scheduler.Now);
                Sender.Tell(new CatalogCommands.RefreshFailed(refresh.Key, new SarkError(
                    SarkErrorCode.UpstreamUnavailable, CircuitBoard.RefusalMessage(_options.Name, _state.LastError, wait), RetryAfter: wait) { NotSent = true }));
                break;
            case ConnectionEvents.RegistryChanged changed:
                _catalog.Tell(new CatalogCommands.Expire(_options.Name, changed.Server));
                break;
            case ConnectionEvents.RegistryChecked check:
                Apply(_state with { RegistryHealth = check.Health ?? _state.RegistryHealth, Paging = check.Paging ?? _state.Paging });
                break;
            case CancelCall cancel when _connection is not null:
                _connection.Forward(cancel);
                break;
            case CancelCall cancel:
                _early.RemoveAll(e => e.Call.RequestId == cancel.RequestId);
                break;
            case ConnectionEvents.Started started:
                _connection = started.Connection;
                Context.Watch(started.Connection);
                started.Connection.Tell(new ConnectionEvents.Attempt(_state.ConsecutiveRestarts));
                foreach (var (call, replyTo) in _early)
                    started.Connection.Tell(call, replyTo);
                _early.Clear();
                Apply(_state.Started(started.ProcessId));
                break;
            case ConnectionEvents.Ready ready:
                Timers.StartSingleTimer(StableTimer, Stable.Instance, _options.Backoff.ResetAfter);
                if (_connection is not null && !StoppedByOperator)
                    _board?.PostConnection(_options.Name, _connection);
                Apply(_state.Ready(Context.System.Scheduler.Now, ready.ToolCount) with { Paging = ready.Paging ?? _state.Paging });
                _catalog.Tell(new CatalogCommands.UpsertServers(_options.Name, ready.Servers));
                break;
            case ConnectionEvents.ToolsChanged changed:
                Apply(_state with { ToolCount = changed.Tools.Length });
                _catalog.Tell(new CatalogCommands.ReplaceTools(changed.Server, changed.Tools));
                break;
            case ConnectionEvents.Faulted faulted:
                // Forwarding stops here; what was forwarded before reaches the connection
                // before this acknowledgement does, and is answered by it.
                Sender.Tell(ConnectionEvents.FaultAcknowledged.Instance);
                OnDown(faulted.Reason);
                break;
            case Terminated terminated when terminated.ActorRef.Equals(_connection):
                OnDown("the connection stopped");
                break;
            case Stable:
                Apply(_state.Stable());
                break;
            case Terminated terminated when terminated.ActorRef.Equals(_backoff) && _operation is not null:
                OnOperatorStopped();
                break;
            case Terminated terminated when terminated.ActorRef.Equals(_backoff):
                if (CoordinatedShutdown.Get(Context.System).ShutdownReason is null)
                    _log.Error("Upstream {Upstream}: its backoff supervisor stopped; the upstream is stopped", _options.Name);
                Apply(_state.Stopped());
                Context.Stop(Self);
                break;
            case Terminated:
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    private void OnDown(string reason)
    {
        if (_connection is null)
            return;
        Context.Unwatch(_connection);
        _connection = null;
        _board?.PostConnection(_options.Name, null);
        Timers.Cancel(StableTimer);
        Apply(_state.Faulted(reason, Context.System.Scheduler.Now, _options.Backoff));
        if (_options.Kind == UpstreamKind.McpStdio)
            SarkTelemetry.StdioRestarts.Add(1, new KeyValuePair<string, object?>("upstream", _options.Name));
        _catalog.Tell(new CatalogCommands.SetHealth(_options.Name, "unhealthy"));
        _log.Warning("Upstream {Upstream} circuit open after: {Reason}; restart {Restarts}, next try in about {RetryAfter}",
            _options.Name, reason, _state.RestartCount, _state.RetryAfter(Context.System.Scheduler.Now));
    }

    private void Apply(CircuitState next)
    {
        var transition = next.Breaker != _state.Breaker;
        _state = next;
        Publish(transition);
    }

    private void Publish(bool transition)
    {
        _board?.Publish(_options.Name, _state.Breaker == BreakerState.Open ? new CircuitBoard.OpenCircuit(_state.NextTryAt, _state.LastError) : null);
        SarkTelemetry.RecordBreaker(_options.Name, _state.Breaker, transition);
        Context.Parent.Tell(new UpstreamManager.StatusChanged(_state.ToStatus(Context.System.Scheduler.Now)));
    }

    private sealed class Stable : IDeadLetterSuppression
    {
        public static readonly Stable Instance = new();
    }
}
