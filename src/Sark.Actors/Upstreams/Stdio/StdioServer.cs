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
/// life to its circuit (<c>owner</c>) and throws <see cref="UpstreamFaultException"/> on a fatal
/// fault so that the supervisor stops it and starts a fresh one after the backoff.
/// <code>
/// PreStart: spawn (argv, env allowlist) ─fail─▶ Faulted, throw
///   └▶ Initializing: initialize ▶ initialized ▶ tools/list (all pages)   [calls are queued]
///        └▶ Ready: tools/call ⇄ results, list_changed ▶ re-list, idle ▶ ping
/// any state: stdout closed | init or ping timeout | failure threshold ─▶ Faulted, throw
/// PostStop: fail what is in flight, stop the process (stdin close ▶ SIGTERM ▶ SIGKILL)
/// </code>
/// </summary>
internal sealed class StdioServer : UntypedActor, IWithTimers
{
    private const string ProtocolVersion = "2025-06-18";
    private const string IdleTimer = "idle";
    private const string InitTimer = "init";
    private const string PingTimer = "ping";

    private readonly UpstreamOptions _options;
    private readonly IActorRef _owner;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly PendingCalls _pending = new();
    private readonly FailureCounter _failures;
    private readonly JsonRpcWriter _writer = new();
    private readonly List<(CallTool Call, IActorRef ReplyTo)> _queued = [];
    private StdioProcess? _process;
    private HashSet<string> _toolNames = new(StringComparer.Ordinal);
    private McpToolList? _listing;
    private ServerInfo? _server;
    private bool _heardSinceTick;
    private bool _ready;
    private int _invalidLines;

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
            _process = StdioProcess.Start(_options);
        }
        catch (StdioStartException ex)
        {
            Fault(ex.Message);
        }

        _owner.Tell(new ConnectionEvents.Started(Self, _process!.ProcessId));
        _process.StartPumps(Self, _log);
        Send(PendingKind.Initialize, "initialize", w =>
        {
            w.WriteStartObject();
            w.WriteString("protocolVersion"u8, ProtocolVersion);
            w.WriteStartObject("capabilities"u8);
            w.WriteStartObject("roots"u8);
            w.WriteEndObject();
            w.WriteEndObject();
            w.WriteStartObject("clientInfo"u8);
            w.WriteString("name"u8, "sark-actors");
            w.WriteString("version"u8, "0.1.0");
            w.WriteEndObject();
            w.WriteEndObject();
        });
        Timers.StartSingleTimer(InitTimer, InitTimedOut.Instance, _options.InitTimeout);
    }

    protected override void PostStop()
    {
        var shuttingDown = CoordinatedShutdown.Get(Context.System).ShutdownReason is not null;
        var error = shuttingDown
            ? new SarkError(SarkErrorCode.ShuttingDown, $"The node is shutting down; the call to upstream '{_options.Name}' was not completed.")
            : new SarkError(SarkErrorCode.UpstreamUnavailable, $"Upstream '{_options.Name}' was stopped before the call completed. Try again.");
        FailAll(error);
        _ = _process?.StopAsync();
    }

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case CallTool call when _ready:
                StartCall(call, Sender);
                break;
            case CallTool call:
                if (_queued.Count >= _options.MaxPendingWhileConnecting)
                    Sender.Tell(Unavailable(call.RequestId, "is still connecting and its queue is full"));
                else
                    _queued.Add((call, Sender));
                break;
            case CancelCall cancel:
                Cancel(cancel.RequestId, "cancelled by the caller", reply: false);
                break;
            case JsonRpcInbound inbound:
                _heardSinceTick = true;
                OnInbound(inbound);
                break;
            case CallTimedOut timedOut:
                OnCallTimedOut(timedOut.Id);
                break;
            case IdleTick:
                OnIdleTick();
                break;
            case PingTimedOut:
                Fault($"did not answer a liveness ping within {_options.PingTimeout.TotalSeconds:0.#}s");
                break;
            case InitTimedOut:
                Fault($"did not finish the MCP handshake within {_options.InitTimeout.TotalSeconds:0.#}s (init-timeout)");
                break;
            case StdioProcess.StdoutClosed closed:
                Fault(closed.ExitCode is { } code ? $"the process exited with code {code}" : $"the process closed its output ({closed.Reason})");
                break;
            default:
                Unhandled(message);
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
            case JsonRpcInbound.Request request:
                AnswerServerRequest(request);
                break;
            case JsonRpcInbound.Notification { Method: "notifications/tools/list_changed" }:
                if (_ready && _listing is null)
                    BeginListing(null);
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
                Timers.Cancel(id);
                _failures.RecordSuccess();
                if (response.Error is { } error)
                {
                    SarkTelemetry.RecordRequest(_options.Name, "tools/call", "error", call.StartTimestamp);
                    call.ReplyTo!.Tell(new ToolCallFailed(call.RequestId!, new SarkError(
                        SarkErrorCode.UpstreamError,
                        $"Upstream '{_options.Name}' answered tools/call '{call.Tool}' with JSON-RPC error {error.Code}: {error.Message}",
                        JsonRpcCode: error.Code,
                        Data: error.Data)));
                    return;
                }

                var result = response.Result!.Value;
                var isError = result.ValueKind == JsonValueKind.Object && result.TryGetProperty("isError", out var e) && e.ValueKind == JsonValueKind.True;
                SarkTelemetry.RecordRequest(_options.Name, "tools/call", isError ? "tool_error" : "ok", call.StartTimestamp);
                call.ReplyTo!.Tell(new ToolCallCompleted(call.RequestId!, result, isError));
                break;
            case PendingKind.Initialize:
                OnInitialized(response);
                break;
            case PendingKind.ListTools:
                OnToolsPage(response);
                break;
            case PendingKind.Ping:
                Timers.Cancel(PingTimer);
                break;
        }
    }

    private void OnInitialized(JsonRpcInbound.Response response)
    {
        if (response.Error is { } error)
            Fault($"refused initialize: JSON-RPC error {error.Code}: {error.Message}");
        var result = response.Result!.Value;
        string? Text(JsonElement o, string name) =>
            o.ValueKind == JsonValueKind.Object && o.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
        var info = result.TryGetProperty("serverInfo", out var si) ? si : default;
        _server = new ServerInfo(
            ServerId: _options.Name,
            ServerName: _options.Name,
            ServerUrl: $"stdio://{_options.Name}",
            SensitivityLevel: "medium",
            AuthorizedTeams: [],
            HealthStatus: "healthy",
            ToolsCount: 0,
            Upstream: _options.Name,
            Transport: "stdio",
            Description: Text(result, "instructions"),
            ServerVersion: info.ValueKind == JsonValueKind.Object ? $"{Text(info, "name")} {Text(info, "version")}".Trim() : null,
            ProtocolVersion: Text(result, "protocolVersion"),
            UpdatedAt: DateTimeOffset.UtcNow);
        SendNotification("notifications/initialized");
        BeginListing(null);
    }

    private void BeginListing(string? cursor)
    {
        _listing ??= new McpToolList(_options.Name, _options.MaxListPages);
        Send(PendingKind.ListTools, "tools/list", cursor is null ? null : w =>
        {
            w.WriteStartObject();
            w.WriteString("cursor"u8, cursor);
            w.WriteEndObject();
        });
    }

    private void OnToolsPage(JsonRpcInbound.Response response)
    {
        if (response.Error is { } error)
            Fault($"refused tools/list: JSON-RPC error {error.Code}: {error.Message}");
        var step = _listing!.AddPage(response.Result!.Value);
        if (step.Error is { } reason)
            Fault(reason);
        if (step.NextCursor is { } next)
        {
            BeginListing(next);
            return;
        }

        _listing = null;
        var tools = step.Tools!.Value;
        _toolNames = new HashSet<string>(tools.Select(t => t.ToolName), StringComparer.Ordinal);
        if (_ready)
        {
            _owner.Tell(new ConnectionEvents.ToolsChanged(tools));
            return;
        }

        _ready = true;
        Timers.Cancel(InitTimer);
        Timers.StartPeriodicTimer(IdleTimer, IdleTick.Instance, _options.IdlePingAfter);
        _owner.Tell(new ConnectionEvents.Ready(Self, _server! with { ToolsCount = tools.Length }, tools));
        _log.Info("Upstream {Upstream} ready: pid {Pid}, {Tools} tools, protocol {Protocol}", _options.Name, _process!.ProcessId, tools.Length, _server!.ProtocolVersion);
        foreach (var (call, replyTo) in _queued)
            StartCall(call, replyTo);
        _queued.Clear();
    }

    private void StartCall(CallTool call, IActorRef replyTo)
    {
        if (!_toolNames.Contains(call.Tool))
        {
            replyTo.Tell(new ToolCallFailed(call.RequestId, new SarkError(SarkErrorCode.NotFound,
                $"Tool '{call.Tool}' was not found on server '{_options.Name}'. List the server's tools to see what it offers.")));
            return;
        }

        if (_pending.ToolCallCount >= _options.MaxInFlight)
        {
            replyTo.Tell(Unavailable(call.RequestId, $"has {_options.MaxInFlight} calls in flight (max-in-flight)"));
            return;
        }

        var entry = new PendingCall(PendingKind.CallTool, call.RequestId, call.Tool, replyTo, Stopwatch.GetTimestamp());
        var id = _pending.Add(entry);
        var line = _writer.CallTool(id, call.Tool, call.Arguments);
        if (line.Length > _options.MaxMessageBytes)
        {
            _pending.TryRemove(id, out _);
            replyTo.Tell(new ToolCallFailed(call.RequestId, new SarkError(SarkErrorCode.TooLarge,
                $"The arguments of the call to '{call.Tool}' are {line.Length} bytes, over the {_options.MaxMessageBytes}-byte limit of upstream '{_options.Name}' (max-message-size).")));
            return;
        }

        if (!_process!.TryWrite(line))
        {
            _pending.TryRemove(id, out _);
            replyTo.Tell(Unavailable(call.RequestId, "is not reading its input"));
            CountFailure("its input queue is full");
            return;
        }

        Timers.StartSingleTimer(id, new CallTimedOut(id), call.Timeout ?? _options.CallTimeout);
    }

    private void OnCallTimedOut(long id)
    {
        if (!_pending.TryRemove(id, out var call))
            return;
        SarkTelemetry.RecordRequest(_options.Name, "tools/call", "timeout", call.StartTimestamp);
        SendCancelled(id, "timed out");
        var after = Stopwatch.GetElapsedTime(call.StartTimestamp);
        call.ReplyTo!.Tell(new ToolCallFailed(call.RequestId!, new SarkError(SarkErrorCode.UpstreamTimeout,
            $"Upstream '{_options.Name}' did not answer tools/call '{call.Tool}' within {after.TotalSeconds:0.###}s; the call was cancelled upstream.")));
        CountFailure("calls keep timing out");
    }

    private void Cancel(string requestId, string reason, bool reply)
    {
        if (!_pending.TryRemoveByRequestId(requestId, out var id, out var call))
        {
            _queued.RemoveAll(q => q.Call.RequestId == requestId);
            return;
        }

        Timers.Cancel(id);
        SarkTelemetry.RecordRequest(_options.Name, "tools/call", "cancelled", call.StartTimestamp);
        SendCancelled(id, reason);
        if (reply)
            call.ReplyTo!.Tell(Unavailable(requestId, reason));
    }

    private void OnOversized(JsonRpcInbound.Oversized oversized)
    {
        var id = oversized.Id ?? _pending.SoleToolCallId();
        if (id is not { } known || !_pending.TryRemove(known, out var call))
        {
            _log.Warning("Upstream {Upstream} sent a {Length}-byte message over the {Max}-byte limit that answers no known call; discarded", _options.Name, oversized.Length, _options.MaxMessageBytes);
            return;
        }

        if (call.Kind != PendingKind.CallTool)
            Fault($"answered {call.Kind} with a {oversized.Length}-byte message, over the {_options.MaxMessageBytes}-byte limit");
        Timers.Cancel(known);
        SarkTelemetry.RecordRequest(_options.Name, "tools/call", "too_large", call.StartTimestamp);
        call.ReplyTo!.Tell(new ToolCallFailed(call.RequestId!, new SarkError(SarkErrorCode.TooLarge,
            $"The response of upstream '{_options.Name}' to '{call.Tool}' was {oversized.Length} bytes, over its {_options.MaxMessageBytes}-byte limit (max-message-size). The connection is still up.")));
    }

    private void AnswerServerRequest(JsonRpcInbound.Request request)
    {
        var line = request.Method switch
        {
            "ping" => _writer.Result(request.Id, w =>
            {
                w.WriteStartObject();
                w.WriteEndObject();
            }),
            "roots/list" => _writer.Result(request.Id, w =>
            {
                w.WriteStartObject();
                w.WriteStartArray("roots"u8);
                w.WriteEndArray();
                w.WriteEndObject();
            }),
            _ => _writer.Error(request.Id, -32601, $"Method not supported by the gateway: {request.Method}"),
        };
        _process!.TryWrite(line);
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

    private void SendNotification(string method) => _process!.TryWrite(_writer.Notification(method, null));

    private void SendCancelled(long id, string reason) =>
        _process?.TryWrite(_writer.Notification("notifications/cancelled", w =>
        {
            w.WriteStartObject();
            w.WriteNumber("requestId"u8, id);
            w.WriteString("reason"u8, reason);
            w.WriteEndObject();
        }));

    private ToolCallFailed Unavailable(string requestId, string why) =>
        new(requestId, new SarkError(SarkErrorCode.UpstreamUnavailable, $"Upstream '{_options.Name}' {why}. Try again shortly."));

    private void FailAll(SarkError error)
    {
        foreach (var call in _pending.DrainAll())
        {
            if (call.Kind == PendingKind.CallTool)
            {
                SarkTelemetry.RecordRequest(_options.Name, "tools/call", "unavailable", call.StartTimestamp);
                call.ReplyTo!.Tell(new ToolCallFailed(call.RequestId!, error));
            }
        }

        foreach (var (call, replyTo) in _queued)
            replyTo.Tell(new ToolCallFailed(call.RequestId, error));
        _queued.Clear();
    }

    /// <summary>Fails what is in flight at once, tells the circuit, and hands the fault to the supervisor.</summary>
    private void Fault(string reason)
    {
        _log.Warning("Upstream {Upstream} failed: {Reason}", _options.Name, reason);
        FailAll(new SarkError(SarkErrorCode.UpstreamUnavailable,
            $"Upstream '{_options.Name}' failed: {reason}. Its circuit is open and it reconnects after a backoff; try again then."));
        _owner.Tell(new ConnectionEvents.Faulted(reason));
        throw new UpstreamFaultException($"Upstream '{_options.Name}' {reason}");
    }

    private sealed record CallTimedOut(long Id) : IDeadLetterSuppression;

    private sealed class IdleTick : IDeadLetterSuppression, INotInfluenceReceiveTimeout
    {
        public static readonly IdleTick Instance = new();
    }

    private sealed class PingTimedOut : IDeadLetterSuppression
    {
        public static readonly PingTimedOut Instance = new();
    }

    private sealed class InitTimedOut : IDeadLetterSuppression
    {
        public static readonly InitTimedOut Instance = new();
    }
}
