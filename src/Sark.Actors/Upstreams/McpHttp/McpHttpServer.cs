using System.Collections.Immutable;
using Akka.Actor;
using Akka.Event;
using ModelContextProtocol.Client;
using Sark.Actors.Catalog;
using Sark.Actors.Configuration;
using Sark.Actors.Errors;
using static Sark.Actors.Upstreams.UpstreamCommands;
using static Sark.Actors.Upstreams.UpstreamReplies;

namespace Sark.Actors.Upstreams.McpHttp;

/// <summary>
/// The connection actor of an <c>mcp-http</c> upstream: one remote MCP server over Streamable
/// HTTP or legacy HTTP+SSE, spoken to through the official C# SDK (<see cref="McpHttpSession"/>).
/// Child of the upstream's BackoffSupervisor; it follows the fault protocol of every connection.
/// <code>
/// PreStart ▶ Connecting: connect, initialize (protocol ladder), tools/list, all pages   [calls queue, with deadlines]
///   └▶ Ready: tools/call ⇄ results (each a task with its timeout, cancellable); list_changed ▶ re-list
///        session expired (HTTP 404) ▶ Connecting again, once; the refused calls are sent again
/// unreachable | stream closed | origin refused | init-timeout | failure threshold ──▶ Faulting
/// Faulting: every call answered upstream_unavailable; circuit's ack (or 2 s) ──▶ stop
/// PostStop: fail what is in flight, cancel the tasks, end the session
/// </code>
/// </summary>
internal sealed partial class McpHttpServer : UntypedActor, IWithTimers
{
    private const string InitTimer = "init";
    private const string FaultTimer = "fault";

    private readonly UpstreamOptions _options;
    private readonly IActorRef _owner;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly CancellationTokenSource _stopping = new();
    private readonly Protocol.FailureCounter _failures;
    private McpHttpSession? _session;
    private ServerInfo? _server;
    private ImmutableArray<ToolInfo> _tools = [];
    private int _generation;
    private int _attempt;
    private bool _recovered;
    private bool _listing;
    private bool _listAgain;
    private string? _faultReason;

    public McpHttpServer(UpstreamOptions options, IActorRef owner)
    {
        _options = options;
        _owner = owner;
        _failures = new Protocol.FailureCounter(options.FailureThreshold);
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(UpstreamOptions options, IActorRef owner) =>
        Akka.Actor.Props.Create(() => new McpHttpServer(options, owner));

    protected override void PreStart()
    {
        _owner.Tell(new ConnectionEvents.Started(Self, null));
        Connect();
    }

    protected override void PostStop()
    {
        _stopping.Cancel();
        FailAll(CoordinatedShutdown.Get(Context.System).ShutdownReason is not null
            ? new SarkError(SarkErrorCode.ShuttingDown, $"The node is shutting down; the call to upstream '{_options.Name}' was not completed.")
            : new SarkError(SarkErrorCode.UpstreamUnavailable, $"Upstream '{_options.Name}' was stopped before the call completed. Try again."));
        EndSession();
        _stopping.Dispose();
    }

    protected override void OnReceive(object message) => Connecting(message);

    /// <summary>Connect, initialize and list; calls wait in the queue.</summary>
    private void Connecting(object message)
    {
        switch (message)
        {
            case Connected connected when connected.Generation == _generation:
                OnConnected(connected);
                break;
            case Connected stale:
                _ = stale.Session.DisposeAsync().AsTask();
                break;
            case ConnectFailed failed when failed.Generation == _generation:
                // A 404 before any session exists is a wrong url, not an expired session.
                var reason = failed.Failure.Kind == McpHttpFailureKind.SessionExpired
                    ? $"the url answered HTTP 404; check that it is the server's MCP endpoint (…/mcp or …/sse)"
                    : failed.Failure.Reason;
                Fault(_recovered ? $"could not re-initialize the session the server expired: {reason}" : reason);
                break;
            case InitTimedOut:
                Fault($"did not connect, initialize and list its tools within {_options.InitTimeout.TotalSeconds:0.#}s (init-timeout)");
                break;
            case CallTool call:
                Enqueue(call, Sender);
                break;
            case ForwardRequest request:
                Sender.Tell(new ToolCallFailed(request.RequestId, new SarkError(SarkErrorCode.UpstreamUnavailable,
                    $"Upstream '{_options.Name}' is still connecting. Try again shortly.") { NotSent = true }));
                break;
            case ToolsListChanged:
                _listAgain = true; // listed once connected: the listing under way may predate it
                break;
            default:
                Common(message);
                break;
        }
    }

    /// <summary>Serve calls; relay list_changed; recover an expired session.</summary>
    private void Ready(object message)
    {
        switch (message)
        {
            case CallTool call:
                StartCall(call, Sender, System.Diagnostics.Stopwatch.GetTimestamp());
                break;
            case ForwardRequest request:
                StartForward(request, Sender);
                break;
            case ToolsListChanged:
                ListAgain();
                break;
            case Listed listed when listed.Generation == _generation:
                OnListed(listed);
                break;
            case Closed closed when closed.Generation == _generation:
                OnFailure(McpHttpFailure.Classify(closed.Exception), "the session");
                break;
            default:
                Common(message);
                break;
        }
    }

    /// <summary>What every state but Faulting handles alike.</summary>
    private void Common(object message)
    {
        switch (message)
        {
            case CallDone done:
                OnCallDone(done);
                break;
            case ForwardDone done:
                OnForwardDone(done);
                break;
            case CancelCall cancel:
                Cancel(cancel.RequestId);
                break;
            case QueuedTimedOut timedOut:
                OnQueuedTimedOut(timedOut.RequestId);
                break;
            case RefreshCatalog refresh when _server is not null && _session is not null:
                Sender.Tell(new CatalogCommands.Refreshed(refresh.Key, [new CatalogEntry(_server with { ToolsCount = _tools.Length }, _tools)]));
                break;
            case RefreshCatalog refresh:
                Sender.Tell(new CatalogCommands.RefreshFailed(refresh.Key, new SarkError(SarkErrorCode.UpstreamUnavailable,
                    $"Upstream '{_options.Name}' is still connecting. Try again shortly.") { NotSent = true }));
                break;
            case ConnectionEvents.Attempt attempt:
                _attempt = attempt.ConsecutiveRestarts;
                break;
            case Connected or ConnectFailed or Listed or Closed or ToolsListChanged or InitTimedOut:
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    private void Faulting(object message)
    {
        switch (message)
        {
            case CallTool call:
                Sender.Tell(new ToolCallFailed(call.RequestId, FaultError() with { NotSent = true }));
                break;
            case ForwardRequest request:
                Sender.Tell(new ToolCallFailed(request.RequestId, FaultError() with { NotSent = true }));
                break;
            case RefreshCatalog refresh:
                Sender.Tell(new CatalogCommands.RefreshFailed(refresh.Key, FaultError() with { NotSent = true }));
                break;
            case ConnectionEvents.Attempt attempt:
                _attempt = attempt.ConsecutiveRestarts;
                break;
            case ConnectionEvents.FaultAcknowledged or ConnectionFault.AckTimedOut:
                Context.Stop(Self);
                break;
            case Connected late:
                _ = late.Session.DisposeAsync().AsTask();
                break;
        }
    }

    private void CountFailure(string why)
    {
        if (_failures.RecordFailure())
            Fault($"{_failures.Consecutive} consecutive requests failed ({why}); failure-threshold is {_options.FailureThreshold}");
    }

    /// <summary>Fails everything in flight at once, tells the circuit, and waits for its acknowledgement.</summary>
    private void Fault(string reason)
    {
        if (_faultReason is not null)
            return;
        _faultReason = reason;
        _log.Debug("Upstream {Upstream} failed: {Reason}", _options.Name, reason);
        Timers.CancelAll();
        FailAll(FaultError());
        EndSession();
        Become(Faulting);
        _owner.Tell(new ConnectionEvents.Faulted(reason));
        Timers.StartSingleTimer(FaultTimer, ConnectionFault.AckTimedOut.Instance, ConnectionFault.AckTimeout);
    }

    private SarkError FaultError() => ConnectionFault.Error(_options, _faultReason!, _attempt);

    private sealed record Connected(int Generation, McpHttpSession Session, ImmutableArray<ToolInfo> Tools) : INoSerializationVerificationNeeded;

    private sealed record ConnectFailed(int Generation, McpHttpFailure Failure) : INoSerializationVerificationNeeded;

    private sealed record Listed(int Generation, ImmutableArray<ToolInfo> Tools, Exception? Failure, CancellationTokenSource Deadline) : INoSerializationVerificationNeeded;

    private sealed record Closed(int Generation, Exception Exception) : INoSerializationVerificationNeeded;

    private sealed class ToolsListChanged : INoSerializationVerificationNeeded
    {
        public static readonly ToolsListChanged Instance = new();
    }

    private sealed class InitTimedOut : IDeadLetterSuppression
    {
        public static readonly InitTimedOut Instance = new();
    }
}
