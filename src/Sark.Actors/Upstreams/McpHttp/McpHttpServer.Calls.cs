using System.Diagnostics;
using System.Text.Json;
using Akka.Actor;
using Akka.Event;
using Sark.Actors.Errors;
using Sark.Actors.Telemetry;
using static Sark.Actors.Upstreams.UpstreamCommands;
using static Sark.Actors.Upstreams.UpstreamReplies;

namespace Sark.Actors.Upstreams.McpHttp;

/// <summary>The tool calls of <see cref="McpHttpServer"/>: queueing while connecting, sending, deadlines, cancellation.</summary>
internal sealed partial class McpHttpServer
{
    private readonly Dictionary<string, InFlight> _inFlight = new(StringComparer.Ordinal);
    private readonly List<Queued> _queued = [];
    private readonly Dictionary<string, ForwardInFlight> _forwards = new(StringComparer.Ordinal);
    private readonly CallClients _clients = new();

    private void Enqueue(CallTool call, IActorRef replyTo, long? since = null)
    {
        if (_queued.Count >= _options.MaxPendingWhileConnecting)
        {
            replyTo.Tell(new ToolCallFailed(call.RequestId, new SarkError(SarkErrorCode.UpstreamUnavailable,
                $"Upstream '{_options.Name}' is still connecting and its queue is full. Try again shortly.") { NotSent = true }));
            return;
        }

        _queued.Add(new Queued(call, replyTo, since ?? Stopwatch.GetTimestamp()));
        Timers.StartSingleTimer(QueuedKey(call.RequestId), new QueuedTimedOut(call.RequestId), call.Timeout ?? _options.CallTimeout);
    }

    private void SendQueued()
    {
        var queued = _queued.ToArray();
        _queued.Clear();
        foreach (var q in queued)
        {
            Timers.Cancel(QueuedKey(q.Call.RequestId));
            StartCall(q.Call, q.ReplyTo, q.Since);
        }
    }

    private void StartCall(CallTool call, IActorRef replyTo, long since)
    {
        var refusal = !_tools.Any(t => t.ToolName == call.Tool)
            ? new SarkError(SarkErrorCode.NotFound, $"Tool '{call.Tool}' was not found on server '{_options.Name}'. List the server's tools to see what it offers.")
            : _inFlight.ContainsKey(call.RequestId)
                ? new SarkError(SarkErrorCode.InvalidRequest, $"A call with request id '{call.RequestId}' is already in flight on upstream '{_options.Name}'; request ids must be unique.")
                : _inFlight.Count >= _options.MaxInFlight
                    ? new SarkError(SarkErrorCode.UpstreamUnavailable, $"Upstream '{_options.Name}' has {_options.MaxInFlight} calls in flight (max-in-flight). Try again shortly.") { NotSent = true }
                    : null;
        if (refusal is not null)
        {
            replyTo.Tell(new ToolCallFailed(call.RequestId, refusal));
            return;
        }

        var timeout = call.Timeout ?? _options.CallTimeout;
        var remaining = timeout - Stopwatch.GetElapsedTime(since);
        if (remaining <= TimeSpan.Zero)
        {
            replyTo.Tell(new ToolCallFailed(call.RequestId, new SarkError(SarkErrorCode.UpstreamTimeout,
                $"Upstream '{_options.Name}' did not become ready within the call timeout; '{call.Tool}' was never sent.")));
            return;
        }

        var cancellation = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
        cancellation.CancelAfter(remaining);
        var flight = new InFlight(call, replyTo, since, _generation, cancellation);
        _inFlight[call.RequestId] = flight;
        if (_options.RelayClientRequests && call.ClientRequests is { } client)
            _clients.Add(call.RequestId, client);
        _session!.CallToolAsync(call.Tool, call.Arguments, call.TraceParent, call.Progress, cancellation.Token).PipeTo(Self,
            success: outcome => new CallDone(flight, outcome.Result, outcome.IsError, null),
            failure: ex => new CallDone(flight, default, false, ex));
    }

    private void OnCallDone(CallDone done)
    {
        var flight = done.Flight;
        if (!_inFlight.TryGetValue(flight.Call.RequestId, out var current) || !ReferenceEquals(current, flight))
            return;
        _inFlight.Remove(flight.Call.RequestId);
        _clients.Remove(flight.Call.RequestId);
        var cancelled = flight.Cancellation.IsCancellationRequested;
        var timedOut = cancelled && !flight.CancelledByCaller && !_stopping.IsCancellationRequested;
        flight.Cancellation.Dispose();

        if (done.Failure is null)
        {
            _failures.RecordSuccess();
            _recovered = false;
            SarkTelemetry.RecordRequest(_options.Name, "tools/call", done.IsError ? "tool_error" : "ok", flight.Since, flight.Call.TraceParent);
            flight.ReplyTo.Tell(new ToolCallCompleted(flight.Call.RequestId, done.Result, done.IsError));
            return;
        }

        var failure = McpHttpFailure.Classify(done.Failure, timedOut, cancelled);
        if (failure.Kind == McpHttpFailureKind.SessionExpired && _faultReason is null && (flight.Generation == _generation || _session is null))
        {
            // The server refused it for the session, so it never ran: send it again on the new one.
            Enqueue(flight.Call, flight.ReplyTo, flight.Since);
            RecoverSession();
            return;
        }

        var timeout = flight.Call.Timeout ?? _options.CallTimeout;
        var error = failure.IsFatal
            ? ConnectionFault.Error(_options, failure.Reason, _attempt) with { NotSent = failure.NotSent }
            : failure.ToCallError(_options.Name, flight.Call.Tool, timeout);
        SarkTelemetry.RecordRequest(_options.Name, "tools/call", failure.Kind == McpHttpFailureKind.Cancelled ? "cancelled" : error.Code.ToWire(), flight.Since, flight.Call.TraceParent);
        flight.ReplyTo.Tell(new ToolCallFailed(flight.Call.RequestId, error));
        if (flight.Generation != _generation)
            return; // a call of a session already ended: its failure says nothing about the new one
        if (failure.IsAnAnswer)
            _failures.RecordSuccess();
        else if (failure.Kind != McpHttpFailureKind.Cancelled)
            OnFailure(failure, $"tools/call '{flight.Call.Tool}'");
    }

    /// <summary>A forwarded request (<c>resources/*</c>, <c>prompts/*</c>): one task, with the request's deadline, cancellable.</summary>
    private void StartForward(ForwardRequest request, IActorRef replyTo)
    {
        if (_inFlight.ContainsKey(request.RequestId) || _forwards.ContainsKey(request.RequestId))
        {
            replyTo.Tell(new ToolCallFailed(request.RequestId, new SarkError(SarkErrorCode.InvalidRequest,
                $"A request with id '{request.RequestId}' is already in flight on upstream '{_options.Name}'; request ids must be unique.")));
            return;
        }

        var cancellation = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
        cancellation.CancelAfter(request.Timeout);
        var flight = new ForwardInFlight(request, replyTo, Stopwatch.GetTimestamp(), _generation, cancellation);
        _forwards[request.RequestId] = flight;
        _session!.SendAsync(request.Method, request.Params, cancellation.Token).PipeTo(Self,
            success: result => new ForwardDone(flight, result, null),
            failure: ex => new ForwardDone(flight, default, ex));
    }

    private void OnForwardDone(ForwardDone done)
    {
        var flight = done.Flight;
        if (!_forwards.TryGetValue(flight.Request.RequestId, out var current) || !ReferenceEquals(current, flight))
            return;
        _forwards.Remove(flight.Request.RequestId);
        var cancelled = flight.Cancellation.IsCancellationRequested;
        var timedOut = cancelled && !flight.CancelledByCaller && !_stopping.IsCancellationRequested;
        flight.Cancellation.Dispose();
        var method = flight.Request.Method;
        if (done.Failure is null)
        {
            _failures.RecordSuccess();
            SarkTelemetry.RecordRequest(_options.Name, method, "ok", flight.Since);
            flight.ReplyTo.Tell(new RequestCompleted(flight.Request.RequestId, done.Result));
            return;
        }

        var failure = McpHttpFailure.Classify(done.Failure, timedOut, cancelled);
        var error = failure.IsFatal
            ? ConnectionFault.Error(_options, failure.Reason, _attempt) with { NotSent = failure.NotSent }
            : failure.ToCallError(_options.Name, method, flight.Request.Timeout, method);
        SarkTelemetry.RecordRequest(_options.Name, method, failure.Kind == McpHttpFailureKind.Cancelled ? "cancelled" : error.Code.ToWire(), flight.Since);
        flight.ReplyTo.Tell(new ToolCallFailed(flight.Request.RequestId, error));
        if (flight.Generation != _generation)
            return;
        if (failure.IsAnAnswer)
            _failures.RecordSuccess();
        else if (failure.Kind != McpHttpFailureKind.Cancelled)
            OnFailure(failure, method);
    }

    private void Cancel(string requestId)
    {
        if (_inFlight.TryGetValue(requestId, out var flight))
        {
            flight.CancelledByCaller = true;
            flight.Cancellation.Cancel();
            return;
        }

        if (_forwards.TryGetValue(requestId, out var forward))
        {
            forward.CancelledByCaller = true;
            forward.Cancellation.Cancel();
            return;
        }

        // Never sent: drop it from the queue so that it is not sent later.
        if (_queued.RemoveAll(q => q.Call.RequestId == requestId) > 0)
            Timers.Cancel(QueuedKey(requestId));
    }

    private void OnQueuedTimedOut(string requestId)
    {
        var index = _queued.FindIndex(q => q.Call.RequestId == requestId);
        if (index < 0)
            return;
        var queued = _queued[index];
        _queued.RemoveAt(index);
        queued.ReplyTo.Tell(new ToolCallFailed(requestId, new SarkError(SarkErrorCode.UpstreamTimeout,
            $"Upstream '{_options.Name}' did not become ready within the call timeout; '{queued.Call.Tool}' was never sent.")));
    }

    private void FailAll(SarkError error)
    {
        foreach (var flight in _inFlight.Values)
        {
            flight.Cancellation.Cancel();
            flight.Cancellation.Dispose();
            SarkTelemetry.RecordRequest(_options.Name, "tools/call", error.Code.ToWire(), flight.Since, flight.Call.TraceParent);
            flight.ReplyTo.Tell(new ToolCallFailed(flight.Call.RequestId, error));
        }

        _inFlight.Clear();
        _clients.Clear();
        foreach (var forward in _forwards.Values)
        {
            forward.Cancellation.Cancel();
            forward.Cancellation.Dispose();
            forward.ReplyTo.Tell(new ToolCallFailed(forward.Request.RequestId, error));
        }

        _forwards.Clear();
        foreach (var queued in _queued)
            queued.ReplyTo.Tell(new ToolCallFailed(queued.Call.RequestId, error with { NotSent = true }));
        _queued.Clear();
    }

    private static (string, string) QueuedKey(string requestId) => ("queued", requestId);

    private sealed record Queued(CallTool Call, IActorRef ReplyTo, long Since);

    private sealed record InFlight(CallTool Call, IActorRef ReplyTo, long Since, int Generation, CancellationTokenSource Cancellation)
    {
        public bool CancelledByCaller { get; set; }
    }

    private sealed record ForwardInFlight(ForwardRequest Request, IActorRef ReplyTo, long Since, int Generation, CancellationTokenSource Cancellation)
    {
        public bool CancelledByCaller { get; set; }
    }

    private sealed record ForwardDone(ForwardInFlight Flight, JsonElement Result, Exception? Failure) : INoSerializationVerificationNeeded;

    private sealed record CallDone(InFlight Flight, JsonElement Result, bool IsError, Exception? Failure) : INoSerializationVerificationNeeded;

    private sealed record QueuedTimedOut(string RequestId) : IDeadLetterSuppression;
}
