using System.Collections.Immutable;
using System.Diagnostics;
using System.Text.Json;
using Akka.Actor;
using Akka.Event;
using Sark.Actors.Configuration;
using Sark.Actors.Errors;
using Sark.Actors.Protocol;
using Sark.Actors.Telemetry;
using static Sark.Actors.Upstreams.UpstreamCommands;
using static Sark.Actors.Upstreams.UpstreamReplies;

namespace Sark.Actors.Upstreams.Stdio;

/// <summary>
/// The connection actor of an <c>mcp-stdio</c> upstream: one MCP server process, spoken to
/// with newline-delimited JSON-RPC. Child of the upstream's BackoffSupervisor; it reports its
/// life to its circuit (<c>owner</c>), and on a fatal fault it fails what is in flight, waits for
/// the circuit to acknowledge, then stops, so that the supervisor backs off and starts a fresh one.
/// <code>
/// PreStart: spawn (argv, env allowlist) ──fail──▶ Faulting
///   └▶ connecting: initialize ▶ initialized ▶ tools/list, all pages     [calls queue, with deadlines]
///        └▶ ready: tools/call ⇄ results, list_changed ▶ re-list, idle ▶ ping
/// any state: stdout closed | init, list or ping timeout | failure threshold ──▶ Faulting
/// Faulting: every call answered upstream_unavailable; circuit's ack (or 2 s) ──▶ stop
/// PostStop: fail what is in flight, stop the process (stdin close ▶ SIGTERM ▶ SIGKILL)
/// </code>
/// </summary>
internal sealed partial class StdioServer : UntypedActor, IWithTimers
{
    private const string IdleTimer = "idle";
    private const string InitTimer = "init";
    private const string ListTimer = "list";
    private const string PingTimer = "ping";
    private const string FaultTimer = "fault";
    private const string DeadlineTimer = "deadlines";

    /// <summary>How often the deadlines of requests in flight are checked: a call times out at most this late.</summary>
    internal static readonly TimeSpan DeadlineResolution = TimeSpan.FromMilliseconds(50);

    private readonly UpstreamOptions _options;
    private readonly IActorRef _owner;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly PendingCalls _pending = new();
    private readonly FailureCounter _failures;
    private readonly JsonRpcWriter _writer = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<(CallTool Call, IActorRef ReplyTo, long Since)> _queued = [];
    private StdioProcess? _process;
    private ReplyShortcut? _shortcut;
    private HashSet<string> _toolNames = new(StringComparer.Ordinal);
    private McpToolList? _listing;
    private bool _listAgain;
    private ServerInfo? _server;
    private bool _heardSinceTick;
    private bool _ready;
    private int _invalidLines;
    private int _attempt;
    private string? _faultReason;
    private SarkError? _closed;

    public StdioServer(UpstreamOptions options, IActorRef owner)
    {
        _options = options;
        _owner = owner;
        _failures = new FailureCounter(options.FailureThreshold);
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(UpstreamOptions options, IActorRef owner) =>
        Akka.Actor.Props.Create(() => new StdioServer(options, owner));

    protected override void PreStart()
    {
        try
        {
            _process = StdioProcess.Start(_options, Context.System);
        }
        catch (StdioStartException ex)
        {
            _owner.Tell(new ConnectionEvents.Started(Self, null));
            Fault(ex.Message);
            return;
        }

        _owner.Tell(new ConnectionEvents.Started(Self, _process.ProcessId));
        _shortcut = new ReplyShortcut(Self, _options.Name);
        _process.StartPumps(Self, _log, _shortcut.Deliver);
        Send(PendingKind.Initialize, "initialize", _options.RelayClientRequests ? McpMessages.InitializeParamsWithRelay : McpMessages.InitializeParams);
        Timers.StartSingleTimer(InitTimer, new HandshakeTimedOut("finish the MCP handshake", "init-timeout"), _options.InitTimeout);
    }

    protected override void PostStop()
    {
        _stopping.Cancel();
        FailAll(ShuttingDown
            ? ShuttingDownError()
            : new SarkError(SarkErrorCode.UpstreamUnavailable, $"Upstream '{_options.Name}' was stopped before the call completed. Try again."));
        _ = _process?.StopAsync();
    }

    private bool ShuttingDown => CoordinatedShutdown.Get(Context.System).ShutdownReason is not null;

    private SarkError ShuttingDownError() =>
        new(SarkErrorCode.ShuttingDown, $"The node is shutting down; the call to upstream '{_options.Name}' was not completed.");

    protected override void OnReceive(object message)
    {
        if (_faultReason is not null)
        {
            Faulting(message);
            return;
        }

        if (_closed is not null)
        {
            // The process is gone while the node shuts down: refuse, do not fault.
            if (message is CallTool refused)
                Sender.Tell(new ToolCallFailed(refused.RequestId, _closed));
            else if (message is ForwardRequest refusedRequest)
                Sender.Tell(new ToolCallFailed(refusedRequest.RequestId, _closed));
            return;
        }

        switch (message)
        {
            case CallTool call when _ready:
                StartCall(call, Sender, Stopwatch.GetTimestamp());
                break;
            case CallTool call:
                Enqueue(call);
                break;
            case ForwardRequest request when _ready:
                StartForward(request, Sender);
                break;
            case ForwardRequest request:
                Sender.Tell(new ToolCallFailed(request.RequestId, new SarkError(SarkErrorCode.UpstreamUnavailable,
                    $"Upstream '{_options.Name}' is still connecting. Try again shortly.") { NotSent = true }));
                break;
            case CancelCall cancel:
                Cancel(cancel.RequestId);
                break;
            case JsonRpcInbound inbound:
                _heardSinceTick = true;
                OnInbound(inbound);
                break;
            case ReplyShortcut.Answered answered:
                // The stdout reader answered the call; its response counts as one like any other.
                _heardSinceTick = true;
                _pending.TryRemove(answered.Id, out _);
                _failures.RecordSuccess();
                break;
            case DeadlineTick:
                SweepDeadlines();
                break;
            case ClientAnswered answered:
                OnClientAnswered(answered);
                break;
            case QueuedTimedOut timedOut:
                OnQueuedTimedOut(timedOut.RequestId);
                break;
            case IdleTick:
                OnIdleTick();
                break;
            case HandshakeTimedOut timedOut:
                Fault($"did not {timedOut.What} within {_options.InitTimeout.TotalSeconds:0.#}s ({timedOut.Setting})");
                break;
            case PingTimedOut:
                Fault($"did not answer a liveness ping within {_options.PingTimeout.TotalSeconds:0.#}s");
                break;
            case StdioProcess.StdoutClosed when ShuttingDown:
                // The node is stopping: a child that exits now (a signal to the whole process
                // group, say) is expected, not a fault to back off from.
                _log.Info("Upstream {Upstream} (pid {Pid}) exited while the node shuts down", _options.Name, _process?.ProcessId);
                _closed = ShuttingDownError();
                Timers.CancelAll();
                FailAll(_closed);
                break;
            case StdioProcess.StdoutClosed closed:
                Fault(closed.ExitCode is { } code ? $"the process exited with code {code}" : $"the process closed its output ({closed.Reason})");
                break;
            case ConnectionEvents.Attempt attempt:
                _attempt = attempt.ConsecutiveRestarts;
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
                Sender.Tell(new ToolCallFailed(call.RequestId, FaultError()));
                break;
            case ForwardRequest request:
                Sender.Tell(new ToolCallFailed(request.RequestId, FaultError() with { NotSent = true }));
                break;
            case ConnectionEvents.Attempt attempt:
                // A start that failed in PreStart faulted before the circuit said which attempt it was.
                _attempt = attempt.ConsecutiveRestarts;
                break;
            case ConnectionEvents.FaultAcknowledged or ConnectionFault.AckTimedOut:
                // Stopping is how a connection fails: its BackoffSupervisor (OnStop) starts a
                // fresh one after the backoff. The circuit has logged why.
                Context.Stop(Self);
                break;
        }
    }

    private void OnInbound(JsonRpcInbound inbound)
    {
        switch (inbound)
        {
            case JsonRpcInbound.Response { Id: { } id } response when _pending.TryRemove(id, out var call):
                OnResponse(id, call, response);
                break;
            case JsonRpcInbound.Response response:
                _log.Debug("Upstream {Upstream}: response to unknown id {Id} ignored", _options.Name, response.Id);
                break;
            case JsonRpcInbound.Request request when RelayTarget(request.Method) is { } client:
                RelayRequest(request, client);
                break;
            case JsonRpcInbound.Request request:
                _process!.TryWrite(McpMessages.AnswerServerRequest(_writer, request));
                break;
            case JsonRpcInbound.Notification { Method: "notifications/message" } log when RelayTarget(log.Method) is { } client:
                client.Notify(log.Method, log.Params);
                break;
            case JsonRpcInbound.Notification { Method: "notifications/tools/list_changed" }:
                if (_listing is not null)
                    _listAgain = true;
                else if (_ready)
                    ListTools(null);
                break;
            case JsonRpcInbound.Notification { Method: "notifications/progress" } progress:
                OnProgress(progress.Params);
                break;
            case JsonRpcInbound.Notification notification:
                _log.Debug("Upstream {Upstream}: notification {Method}", _options.Name, notification.Method);
                break;
            case JsonRpcInbound.Oversized oversized:
                OnOversized(oversized);
                break;
            case JsonRpcInbound.Invalid invalid:
                if (++_invalidLines <= 10 || _invalidLines % 1000 == 0)
                    _log.Warning("Upstream {Upstream} wrote a line that is not JSON-RPC ({Reason}); ignored ({Count} so far)", _options.Name, invalid.Reason, _invalidLines);
                break;
        }
    }

    private void OnResponse(long id, PendingCall call, JsonRpcInbound.Response response)
    {
        switch (call.Kind)
        {
            case PendingKind.CallTool:
                _failures.RecordSuccess();
                if (call.TryClaim())
                    call.ReplyTo!.Tell(ReplyShortcut.Answer(_options.Name, call, response));
                break;
            case PendingKind.Forward:
                OnForwardResponse(call, response);
                break;
            case PendingKind.Initialize when response.Error is { } refused:
                Fault($"refused initialize: JSON-RPC error {refused.Code}: {refused.Message}");
                break;
            case PendingKind.Initialize:
                _server = McpMessages.ServerInfoFrom(_options, response.Result!.Value, "stdio", $"stdio://{_options.Name}");
                _process!.TryWrite(_writer.Notification("notifications/initialized", null));
                ListTools(null);
                break;
            case PendingKind.ListTools:
                OnToolsPage(response);
                break;
            case PendingKind.Ping:
                Timers.Cancel(PingTimer);
                break;
        }
    }

    private void ListTools(string? cursor)
    {
        _listing ??= new McpToolList(_options.Name, _options.MaxListPages);
        Send(PendingKind.ListTools, "tools/list", McpMessages.CursorParams(cursor));
        if (_ready)
            Timers.StartSingleTimer(ListTimer, new HandshakeTimedOut("answer tools/list", "init-timeout"), _options.InitTimeout);
    }

    private void OnToolsPage(JsonRpcInbound.Response response)
    {
        if (response.Error is { } error)
        {
            Fault($"refused tools/list: JSON-RPC error {error.Code}: {error.Message}");
            return;
        }

        var step = _listing!.AddPage(response.Result!.Value);
        if (step.Error is { } reason)
        {
            Fault(reason);
            return;
        }

        if (step.NextCursor is { } next)
        {
            ListTools(next);
            return;
        }

        _listing = null;
        Timers.Cancel(ListTimer);
        var tools = step.Tools!.Value;
        _toolNames = new HashSet<string>(tools.Select(t => t.ToolName), StringComparer.Ordinal);
        if (_ready)
            _owner.Tell(new ConnectionEvents.ToolsChanged(_options.Name, tools));
        else
            BecomeReady(tools);
        if (_listAgain)
        {
            _listAgain = false;
            ListTools(null);
        }
    }

    private void BecomeReady(ImmutableArray<ToolInfo> tools)
    {
        _ready = true;
        Timers.Cancel(InitTimer);
        Timers.StartPeriodicTimer(IdleTimer, IdleTick.Instance, _options.IdlePingAfter);
        _owner.Tell(ConnectionEvents.Ready.Single(Self, _server! with { ToolsCount = tools.Length }, tools));
        _log.Info("Upstream {Upstream} ready: pid {Pid}, {Tools} tools, protocol {Protocol}", _options.Name, _process!.ProcessId, tools.Length, _server!.ProtocolVersion);
        foreach (var (call, replyTo, since) in _queued)
        {
            Timers.Cancel(QueuedKey(call.RequestId));
            StartCall(call, replyTo, since);
        }

        _queued.Clear();
    }

    private void OnIdleTick()
    {
        if (!_heardSinceTick && !Timers.IsTimerActive(PingTimer))
        {
            Send(PendingKind.Ping, "ping", null);
            Timers.StartSingleTimer(PingTimer, PingTimedOut.Instance, _options.PingTimeout);
        }

        _heardSinceTick = false;
    }

    private void CountFailure(string why)
    {
        if (_failures.RecordFailure())
            Fault($"{_failures.Consecutive} consecutive requests failed ({why}); failure-threshold is {_options.FailureThreshold}");
    }

    private void Send(PendingKind kind, string method, Action<Utf8JsonWriter>? writeParams)
    {
        var id = _pending.Add(new PendingCall(kind, null, null, null, Stopwatch.GetTimestamp()));
        _process!.TryWrite(_writer.Request(id, method, writeParams));
    }

    private void SendCancelled(long id, string reason) =>
        _process?.TryWrite(_writer.Notification("notifications/cancelled", McpMessages.CancelledParams(id, reason)));

    /// <summary>
    /// Fails everything in flight at once, tells the circuit, and waits (in the Faulting state)
    /// for its acknowledgement; then the actor stops and its supervisor starts a fresh one after the backoff.
    /// </summary>
    private void Fault(string reason)
    {
        if (_faultReason is not null)
            return;
        _faultReason = reason;
        // The circuit logs the fault once, with its restart count and the time of the next try.
        _log.Debug("Upstream {Upstream} failed: {Reason}", _options.Name, reason);
        Timers.CancelAll();
        FailAll(FaultError());
        _owner.Tell(new ConnectionEvents.Faulted(reason));
        Timers.StartSingleTimer(FaultTimer, ConnectionFault.AckTimedOut.Instance, ConnectionFault.AckTimeout);
    }

    private SarkError FaultError() => ConnectionFault.Error(_options, _faultReason!, _attempt);

    private static (string, string) QueuedKey(string requestId) => ("queued", requestId);

    private sealed class DeadlineTick : IDeadLetterSuppression
    {
        public static readonly DeadlineTick Instance = new();

        private DeadlineTick()
        {
        }
    }

    private sealed record QueuedTimedOut(string RequestId) : IDeadLetterSuppression;

    private sealed record HandshakeTimedOut(string What, string Setting) : IDeadLetterSuppression;

    private sealed class IdleTick : IDeadLetterSuppression, INotInfluenceReceiveTimeout
    {
        public static readonly IdleTick Instance = new();
    }

    private sealed class PingTimedOut : IDeadLetterSuppression
    {
        public static readonly PingTimedOut Instance = new();
    }

}
