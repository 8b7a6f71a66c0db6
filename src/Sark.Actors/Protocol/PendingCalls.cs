using Akka.Actor;

namespace Sark.Actors.Protocol;

/// <summary>Why we sent a request, so its response can be routed.</summary>
internal enum PendingKind
{
    Initialize,
    ListTools,
    Ping,
    CallTool,

    /// <summary>A forwarded request (<c>resources/*</c>, <c>prompts/*</c>): <c>Tool</c> holds its method.</summary>
    Forward,
}

/// <summary>One request in flight. <see cref="ReplyTo"/> and <see cref="RequestId"/> are set for tool calls.</summary>
internal sealed record PendingCall(
    PendingKind Kind, string? RequestId, string? Tool, IActorRef? ReplyTo, long StartTimestamp, string? TraceParent = null)
{
    private int _claimed;

    /// <summary>Where the call's progress notifications go; set when its <c>progressToken</c> (its JSON-RPC id) was sent.</summary>
    public IProgress<ToolProgress>? Progress { get; init; }

    /// <summary>The caller's client, for server requests relayed while this call is in flight.</summary>
    public IUpstreamClient? Client { get; init; }

    /// <summary>
    /// When the request times out, on the scheduler's monotonic clock; <see cref="TimeSpan.Zero"/>
    /// for none (the handshake's requests have timers of their own).
    /// </summary>
    public TimeSpan Deadline { get; init; }

    /// <summary>
    /// The right to answer the call: true once. The stdout reader of a connection may answer a
    /// call offered to its <c>ReplyShortcut</c> while the connection times it out, cancels it or
    /// fails it; whichever claims it first answers, the other leaves it.
    /// </summary>
    public bool TryClaim() => Interlocked.Exchange(ref _claimed, 1) == 0;
}

/// <summary>
/// The JSON-RPC bookkeeping of one connection: id allocation and the table of requests in
/// flight, by JSON-RPC id and by the caller's request id. Pure, so it is tested without actors.
/// </summary>
internal sealed class PendingCalls
{
    private readonly Dictionary<long, PendingCall> _byId = [];
    private readonly Dictionary<string, long> _byRequestId = new(StringComparer.Ordinal);
    private long _nextId = 1;

    public int Count => _byId.Count;

    public int ToolCallCount => _byRequestId.Count;

    /// <summary>Whether a tool call with this request id is in flight.</summary>
    public bool HasRequest(string requestId) => _byRequestId.ContainsKey(requestId);

    /// <summary>Registers a request and returns the JSON-RPC id to send it with.</summary>
    public long Add(PendingCall call)
    {
        var id = _nextId++;
        _byId[id] = call;
        if (call.RequestId is not null)
            _byRequestId[call.RequestId] = id;
        return id;
    }

    /// <summary>The request in flight under a JSON-RPC id, left in place.</summary>
    public bool TryGet(long id, out PendingCall call) => _byId.TryGetValue(id, out call!);

    public bool TryRemove(long id, out PendingCall call)
    {
        if (!_byId.Remove(id, out call!))
            return false;
        if (call.RequestId is not null)
            _byRequestId.Remove(call.RequestId);
        return true;
    }

    public bool TryRemoveByRequestId(string requestId, out long id, out PendingCall call)
    {
        call = null!;
        return _byRequestId.TryGetValue(requestId, out id) && TryRemove(id, out call);
    }

    /// <summary>The client of the only call in flight that has one; null when none or several have (the request could not be attributed).</summary>
    public IUpstreamClient? SoleClient()
    {
        IUpstreamClient? found = null;
        foreach (var call in _byId.Values)
        {
            if (call.Client is null)
                continue;
            if (found is not null)
                return null;
            found = call.Client;
        }

        return found;
    }

    /// <summary>The only tool call in flight, if exactly one is (to attribute an oversized reply without an id).</summary>
    public long? SoleToolCallId()
    {
        if (_byRequestId.Count != 1)
            return null;
        foreach (var id in _byRequestId.Values)
            return id;
        return null;
    }

    /// <summary>
    /// The JSON-RPC ids of the requests whose deadline is at or before <paramref name="now"/>, and
    /// whether any request with a deadline is left after them. One sweep of the table replaces a
    /// timer per request: a scheduler registration per call lives on for seconds after the call
    /// ends, and at thousands of calls per second that is garbage that outlives generation 0.
    /// </summary>
    public (List<long>? Expired, bool AnyLeft) Due(TimeSpan now)
    {
        List<long>? expired = null;
        var left = false;
        foreach (var (id, call) in _byId)
        {
            if (call.Deadline == TimeSpan.Zero)
                continue;
            if (call.Deadline <= now)
                (expired ??= []).Add(id);
            else
                left = true;
        }

        return (expired, left);
    }

    /// <summary>Removes and returns everything in flight.</summary>
    public List<PendingCall> DrainAll()
    {
        var all = _byId.Values.ToList();
        _byId.Clear();
        _byRequestId.Clear();
        return all;
    }
}

/// <summary>
/// Counts consecutive failed requests of a connection; a success resets it. Reaching the
/// threshold is the "counting → open" edge of the breaker (DESIGN.md section 4).
/// </summary>
internal sealed class FailureCounter(int threshold)
{
    public int Consecutive { get; private set; }

    public void RecordSuccess() => Consecutive = 0;

    /// <summary>Returns true when this failure reaches the threshold.</summary>
    public bool RecordFailure() => ++Consecutive >= threshold;
}
