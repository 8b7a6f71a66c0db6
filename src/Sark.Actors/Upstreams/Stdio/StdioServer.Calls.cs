using System.Diagnostics;
using System.Text.Json;
using Akka.Actor;
using Akka.Event;
using Sark.Actors.Errors;
using Sark.Actors.Protocol;
using Sark.Actors.Telemetry;
using static Sark.Actors.Upstreams.UpstreamCommands;
using static Sark.Actors.Upstreams.UpstreamReplies;

namespace Sark.Actors.Upstreams.Stdio;

/// <summary>The tool calls of <see cref="StdioServer"/>: queueing, sending, deadlines, cancellation and failing them.</summary>
internal sealed partial class StdioServer
{
    private void Enqueue(CallTool call)
    {
        if (_queued.Count >= _options.MaxPendingWhileConnecting)
        {
            Sender.Tell(Unavailable(call.RequestId, "is still connecting and its queue is full"));
            return;
        }

        if (_queued.Exists(q => q.Call.RequestId == call.RequestId))
        {
            Sender.Tell(new ToolCallFailed(call.RequestId, DuplicateRequestId(call.RequestId)));
            return;
        }

        _queued.Add((call, Sender, Stopwatch.GetTimestamp()));
        Timers.StartSingleTimer(QueuedKey(call.RequestId), new QueuedTimedOut(call.RequestId), call.Timeout ?? _options.CallTimeout);
    }

    private void StartCall(CallTool call, IActorRef replyTo, long since)
    {
        var refusal = !_toolNames.Contains(call.Tool)
            ? new SarkError(SarkErrorCode.NotFound, $"Tool '{call.Tool}' was not found on server '{_options.Name}'. List the server's tools to see what it offers.")
            : _pending.HasRequest(call.RequestId)
                ? DuplicateRequestId(call.RequestId)
                : _pending.ToolCallCount >= _options.MaxInFlight
                    ? new SarkError(SarkErrorCode.UpstreamUnavailable, $"Upstream '{_options.Name}' has {_options.MaxInFlight} calls in flight (max-in-flight). Try again shortly.")
                    : null;
        if (refusal is not null)
        {
            replyTo.Tell(new ToolCallFailed(call.RequestId, refusal));
            return;
        }

        var remaining = (call.Timeout ?? _options.CallTimeout) - Stopwatch.GetElapsedTime(since);
        if (remaining <= TimeSpan.Zero)
        {
            replyTo.Tell(new ToolCallFailed(call.RequestId, new SarkError(SarkErrorCode.UpstreamTimeout,
                $"Upstream '{_options.Name}' did not become ready within the call timeout; '{call.Tool}' was never sent.")));
            return;
        }

        var pending = new PendingCall(PendingKind.CallTool, call.RequestId, call.Tool, replyTo, since, call.TraceParent)
        {
            Progress = call.Progress,
            Client = _options.RelayClientRequests ? call.ClientRequests : null,
            Deadline = DeadlineAfter(remaining),
        };
        var id = _pending.Add(pending);
        var line = _writer.CallTool(id, call.Tool, call.Arguments, call.TraceParent, call.Progress is null ? null : id);
        if (line.Length > _options.MaxMessageBytes)
        {
            _pending.TryRemove(id, out _);
            replyTo.Tell(new ToolCallFailed(call.RequestId, new SarkError(SarkErrorCode.TooLarge,
                $"The arguments of the call to '{call.Tool}' are {line.Length} bytes, over the {_options.MaxMessageBytes}-byte limit of upstream '{_options.Name}' (max-message-size).")));
            return;
        }

        // A call with nothing to relay is answered by the stdout reader (ReplyShortcut); offered
        // before it is written, so that its response always finds it.
        if (pending is { Progress: null, Client: null })
            _shortcut!.Offer(id, pending);
        if (!_process!.TryWrite(line))
        {
            _pending.TryRemove(id, out _);
            _shortcut!.Withdraw(id);
            replyTo.Tell(Unavailable(call.RequestId, "is not reading its input"));
            CountFailure("its input queue is full");
            return;
        }

        WatchDeadlines();
    }

    /// <summary>A forwarded request: sent as it is, with the same deadline, cancellation and failure handling as a tool call.</summary>
    private void StartForward(ForwardRequest request, IActorRef replyTo)
    {
        if (_pending.HasRequest(request.RequestId))
        {
            replyTo.Tell(new ToolCallFailed(request.RequestId, DuplicateRequestId(request.RequestId)));
            return;
        }

        var id = _pending.Add(new PendingCall(PendingKind.Forward, request.RequestId, request.Method, replyTo, Stopwatch.GetTimestamp())
        {
            Deadline = DeadlineAfter(request.Timeout),
        });
        var line = _writer.Request(id, request.Method, request.Params is { ValueKind: JsonValueKind.Object } p ? p.WriteTo : null);
        if (line.Length > _options.MaxMessageBytes || !_process!.TryWrite(line))
        {
            _pending.TryRemove(id, out _);
            replyTo.Tell(line.Length > _options.MaxMessageBytes
                ? new ToolCallFailed(request.RequestId, new SarkError(SarkErrorCode.TooLarge, $"The {request.Method} request is over the {_options.MaxMessageBytes}-byte limit of upstream '{_options.Name}'."))
                : Unavailable(request.RequestId, "is not reading its input"));
            return;
        }

        WatchDeadlines();
    }

    /// <summary>A deadline <paramref name="timeout"/> from now on the scheduler's clock (virtual under a TestScheduler).</summary>
    private TimeSpan DeadlineAfter(TimeSpan timeout) => Context.System.Scheduler.MonotonicClock + timeout;

    /// <summary>Starts the deadline sweep if it is not running: one periodic timer for every request in flight.</summary>
    private void WatchDeadlines()
    {
        if (!Timers.IsTimerActive(DeadlineTimer))
            Timers.StartPeriodicTimer(DeadlineTimer, DeadlineTick.Instance, DeadlineResolution);
    }

    /// <summary>Times out what is due, and stops the sweep when nothing with a deadline is left.</summary>
    private void SweepDeadlines()
    {
        var (expired, anyLeft) = _pending.Due(Context.System.Scheduler.MonotonicClock);
        if (expired is not null)
        {
            foreach (var id in expired)
                OnCallTimedOut(id);
        }

        if (!anyLeft)
            Timers.Cancel(DeadlineTimer);
    }

    private void OnForwardResponse(PendingCall call, JsonRpcInbound.Response response)
    {
        _failures.RecordSuccess();
        if (!call.TryClaim())
            return;
        var outcome = response.Error is null ? "ok" : "upstream_error";
        SarkTelemetry.RecordRequest(_options.Name, call.Tool!, outcome, call.StartTimestamp);
        call.ReplyTo!.Tell(response.Error is { } error
            ? new ToolCallFailed(call.RequestId!, new SarkError(SarkErrorCode.UpstreamError,
                $"Upstream '{_options.Name}' answered {call.Tool} with JSON-RPC error {error.Code}: {error.Message}", JsonRpcCode: error.Code, Data: error.Data))
            : new RequestCompleted(call.RequestId!, response.Result!.Value));
    }

    private void OnCallTimedOut(long id)
    {
        if (!_pending.TryRemove(id, out var call))
            return;
        _shortcut?.Withdraw(id);
        if (!call.TryClaim())
            return; // answered by the stdout reader just now
        var what = call.Kind == PendingKind.Forward ? call.Tool! : $"tools/call '{call.Tool}'";
        SarkTelemetry.RecordRequest(_options.Name, call.Kind == PendingKind.Forward ? call.Tool! : "tools/call", "upstream_timeout", call.StartTimestamp, call.TraceParent);
        SendCancelled(id, "timed out");
        call.ReplyTo!.Tell(new ToolCallFailed(call.RequestId!, new SarkError(SarkErrorCode.UpstreamTimeout,
            $"Upstream '{_options.Name}' did not answer {what} within {Stopwatch.GetElapsedTime(call.StartTimestamp).TotalSeconds:0.###}s; the request was cancelled upstream.")));
        CountFailure("requests keep timing out");
    }

    private void OnQueuedTimedOut(string requestId)
    {
        var index = _queued.FindIndex(q => q.Call.RequestId == requestId);
        if (index < 0)
            return;
        var (call, replyTo, _) = _queued[index];
        _queued.RemoveAt(index);
        replyTo.Tell(new ToolCallFailed(requestId, new SarkError(SarkErrorCode.UpstreamTimeout,
            $"Upstream '{_options.Name}' did not become ready within the call timeout; '{call.Tool}' was never sent.")));
    }

    private void Cancel(string requestId)
    {
        if (_pending.TryRemoveByRequestId(requestId, out var id, out var call))
        {
            _shortcut?.Withdraw(id);
            if (!call.TryClaim())
                return; // answered already: nothing to cancel
            SarkTelemetry.RecordRequest(_options.Name, "tools/call", "cancelled", call.StartTimestamp, call.TraceParent);
            SendCancelled(id, "cancelled by the caller");
            return;
        }

        // Never sent: drop it from the queue so that it is not sent later.
        if (_queued.RemoveAll(q => q.Call.RequestId == requestId) > 0)
            Timers.Cancel(QueuedKey(requestId));
    }

    /// <summary>A progress notification for a call that asked for progress (its token is the call's JSON-RPC id).</summary>
    private void OnProgress(JsonElement? parameters)
    {
        if (McpMessages.TryReadProgress(parameters, out var token, out var progress)
            && _pending.TryGet(token, out var call) && call.Progress is { } sink)
        {
            try
            {
                sink.Report(progress);
            }
            catch (Exception ex)
            {
                // A caller's sink must never take the connection down.
                _log.Warning("Upstream {Upstream}: the progress sink of request {RequestId} threw: {Error}", _options.Name, call.RequestId, ex.Message);
            }
        }
    }

    /// <summary>
    /// The caller's client a server request or log message is relayed to: with
    /// <c>relay-client-requests</c>, for sampling, elicitation and log messages, the client of the
    /// only call in flight that has one. Null: answered as before (<c>-32601</c>) or logged.
    /// </summary>
    private IUpstreamClient? RelayTarget(string method) =>
        _options.RelayClientRequests && method is "sampling/createMessage" or "elicitation/create" or "notifications/message"
            ? _pending.SoleClient()
            : null;

    /// <summary>Sends the server's request to the caller's client as a detached task; its answer goes back under the server's id.</summary>
    private void RelayRequest(JsonRpcInbound.Request request, IUpstreamClient client)
    {
        var id = request.Id;
        client.RequestAsync(request.Method, request.Params, _stopping.Token).PipeTo(Self,
            success: result => new ClientAnswered(id, result, null),
            failure: ex => new ClientAnswered(id, default, ex));
    }

    private void OnClientAnswered(ClientAnswered answered)
    {
        if (answered.Failure is null)
        {
            var result = answered.Result;
            _process!.TryWrite(_writer.Result(answered.Id, result.WriteTo));
            return;
        }

        var failure = answered.Failure is AggregateException { InnerException: { } inner } ? inner : answered.Failure;
        var code = failure is ModelContextProtocol.McpProtocolException protocol ? (int)protocol.ErrorCode : -32603;
        _process!.TryWrite(_writer.Error(answered.Id, code, $"The gateway's client did not answer: {failure.Message}"));
    }

    private sealed record ClientAnswered(JsonElement Id, JsonElement Result, Exception? Failure) : INoSerializationVerificationNeeded;

    private void OnOversized(JsonRpcInbound.Oversized oversized)
    {
        // A request or notification from the server is never an answer to one of our calls.
        var id = oversized.HasMethod ? null : oversized.Id ?? _pending.SoleToolCallId();
        if (id is not { } known || !_pending.TryRemove(known, out var call))
        {
            _log.Warning("Upstream {Upstream} sent a {Length}-byte message over the {Max}-byte limit that answers no call of ours; discarded", _options.Name, oversized.Length, _options.MaxMessageBytes);
            return;
        }

        _shortcut?.Withdraw(known);

        if (call.Kind is not (PendingKind.CallTool or PendingKind.Forward))
        {
            Fault($"answered {call.Kind} with a {oversized.Length}-byte message, over the {_options.MaxMessageBytes}-byte limit");
            return;
        }

        if (!call.TryClaim())
            return;
        SarkTelemetry.RecordRequest(_options.Name, "tools/call", "too_large", call.StartTimestamp, call.TraceParent);
        call.ReplyTo!.Tell(new ToolCallFailed(call.RequestId!, new SarkError(SarkErrorCode.TooLarge,
            $"The response of upstream '{_options.Name}' to '{call.Tool}' was {oversized.Length} bytes, over its {_options.MaxMessageBytes}-byte limit (max-message-size). The connection is still up.")));
    }

    private SarkError DuplicateRequestId(string requestId) =>
        new(SarkErrorCode.InvalidRequest, $"A call with request id '{requestId}' is already in flight on upstream '{_options.Name}'; request ids must be unique.");

    private ToolCallFailed Unavailable(string requestId, string why) =>
        new(requestId, new SarkError(SarkErrorCode.UpstreamUnavailable, $"Upstream '{_options.Name}' {why}. Try again shortly."));

    private void FailAll(SarkError error)
    {
        _shortcut?.Clear();
        foreach (var call in _pending.DrainAll())
        {
            // A call the stdout reader answered a moment ago is not failed as well.
            if (call.Kind is not (PendingKind.CallTool or PendingKind.Forward) || !call.TryClaim())
                continue;
            SarkTelemetry.RecordRequest(_options.Name, "tools/call", error.Code.ToWire(), call.StartTimestamp, call.TraceParent);
            call.ReplyTo!.Tell(new ToolCallFailed(call.RequestId!, error));
        }

        foreach (var (call, replyTo, _) in _queued)
            replyTo.Tell(new ToolCallFailed(call.RequestId, error));
        _queued.Clear();
    }
}
