using System.Buffers;
using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace Sark.Host.FrontDoor;

/// <summary>
/// The direct tool calls (<see cref="DirectToolCall"/>) in flight in one session, so that the
/// session's <c>notifications/cancelled</c> reaches them as it reaches the calls of the SDK's server,
/// and so that they end when the session does. Made on the session's first direct call.
/// </summary>
internal sealed class DirectCalls
{
    /// <summary><c>sark_frontdoor_direct_calls_total</c>.</summary>
    internal static readonly System.Diagnostics.Metrics.Counter<long> Answered = Sark.Actors.Telemetry.SarkTelemetry.Meter.CreateCounter<long>(
        "sark.frontdoor.direct_calls", "{call}", "tools/call requests the front door answered without the SDK's MCP server (direct-tool-calls).");

    private readonly ConcurrentDictionary<RequestId, CancellationTokenSource> _calls = new();

    /// <summary>Calls in flight now.</summary>
    public int Count => _calls.Count;

    /// <summary>
    /// The token of call <paramref name="id"/>: cancelled by <paramref name="first"/>,
    /// <paramref name="second"/> or <see cref="Cancel"/>. Give it back with <see cref="End"/>.
    /// </summary>
    public CancellationTokenSource Begin(RequestId id, CancellationToken first, CancellationToken second)
    {
        var source = CancellationTokenSource.CreateLinkedTokenSource(first, second);
        // A client that reuses the id of a call still in flight: the newer call is the one it can cancel.
        _calls[id] = source;
        return source;
    }

    /// <summary>The call is answered: it can no longer be cancelled.</summary>
    public void End(RequestId id, CancellationTokenSource source)
    {
        _calls.TryRemove(new KeyValuePair<RequestId, CancellationTokenSource>(id, source));
        source.Dispose();
    }

    /// <summary>
    /// <c>notifications/cancelled</c>: cancels the call it names, if it is one of these. Returns
    /// whether it was (the notification goes on to the SDK's server either way, which ignores an id
    /// it does not know, as the spec asks).
    /// </summary>
    public bool Cancel(JsonRpcNotification notification)
    {
        if (notification.Method != NotificationMethods.CancelledNotification || notification.Params is not JsonObject parameters
            || RequestIdOf(parameters) is not { } id || !_calls.TryGetValue(id, out var source))
            return false;
        try
        {
            source.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // Answered in the meantime.
            return false;
        }

        return true;
    }

    /// <summary><see cref="Cancel(JsonRpcNotification)"/> for a whole request body; anything unreadable cancels nothing.</summary>
    public bool Cancel(ReadOnlySequence<byte> body)
    {
        try
        {
            var reader = new Utf8JsonReader(body);
            return JsonSerializer.Deserialize(ref reader, DirectToolCall.Json<JsonRpcMessage>()) is JsonRpcNotification notification && Cancel(notification);
        }
        catch (Exception ex) when (DirectToolCall.IsUnreadable(ex))
        {
            return false;
        }
    }

    private static RequestId? RequestIdOf(JsonObject parameters)
    {
        try
        {
            return parameters["requestId"] is { } id
                ? JsonSerializer.Deserialize(id, DirectToolCall.Json<RequestId>())
                : null;
        }
        catch (Exception ex) when (DirectToolCall.IsUnreadable(ex))
        {
            // "Invalid cancellation notifications SHOULD be ignored."
            return null;
        }
    }
}

/// <summary>
/// The Streamable HTTP sessions whose tool calls the front door may answer itself: those opened at
/// the aggregated endpoint, by id, with the caller who opened them. A session is here while the
/// SDK's session handler runs it (<see cref="FrontDoorSessionMiddleware.RunSessionAsync"/>).
/// </summary>
internal sealed class DirectSessions(TimeSpan idleTimeout)
{
    private readonly ConcurrentDictionary<string, DirectSession> _sessions = new(StringComparer.Ordinal);

    /// <summary>
    /// How long direct calls may go without a request of the session reaching the SDK: a quarter of
    /// the idle timeout, so that the SDK, which counts a session's activity from the requests it
    /// sees, never takes a busy session for an idle one.
    /// </summary>
    private readonly long _sdkEveryMs = Math.Max(1, (long)(idleTimeout.TotalMilliseconds / 4));

    /// <summary>Sessions known now.</summary>
    public int Count => _sessions.Count;

    /// <summary>Knows session <paramref name="id"/> until the returned handle is disposed.</summary>
    public IDisposable Add(string id, string callerId, McpServer server, bool eventStore, CancellationToken closed)
    {
        var session = new DirectSession(id, callerId, server, eventStore, closed, _sdkEveryMs);
        _sessions[id] = session;
        return new Known(this, session);
    }

    public DirectSession? Find(string? id) => id is not null && _sessions.TryGetValue(id, out var session) ? session : null;

    private sealed class Known(DirectSessions owner, DirectSession session) : IDisposable
    {
        public void Dispose() => owner._sessions.TryRemove(new KeyValuePair<string, DirectSession>(session.Id, session));
    }
}

/// <summary>One session of <see cref="DirectSessions"/>.</summary>
internal sealed class DirectSession(string id, string callerId, McpServer server, bool eventStore, CancellationToken closed, long sdkEveryMs)
{
    /// <summary>The first revision whose streams begin with a <c>prime</c> event when the server keeps events (SEP-1699).</summary>
    private const string PrimingVersion = "2025-11-25";

    /// <summary>The SDK's <c>prime</c> event: no id here, since only the GET stream's events are kept (<see cref="GetStreamEventStore"/>).</summary>
    private static readonly byte[] PrimeEvent = "event: prime\ndata: \n\n"u8.ToArray();

    private long _sdkSaw = Environment.TickCount64;
    private DirectCalls? _calls;

    public string Id => id;

    /// <summary>The caller who opened the session (the SDK refuses it to anyone else with 403).</summary>
    public string CallerId => callerId;

    /// <summary>Cancelled when the session ends (DELETE, idle timeout, shutdown).</summary>
    public CancellationToken Closed => closed;

    /// <summary>Its direct calls in flight; null before the first.</summary>
    public DirectCalls? Calls => Volatile.Read(ref _calls);

    /// <summary>
    /// What the SDK writes first on a call's response stream: the <c>prime</c> event when the node
    /// has an event store and the session's revision (of its <c>initialize</c>) is 2025-11-25 or later.
    /// </summary>
    public ReadOnlyMemory<byte> Preamble =>
        eventStore && server.NegotiatedProtocolVersion is { } version && string.CompareOrdinal(version, PrimingVersion) >= 0 ? PrimeEvent : default;

    public DirectCalls EnsureCalls() => Calls ?? Interlocked.CompareExchange(ref _calls, new DirectCalls(), null) ?? _calls!;

    /// <summary>
    /// Whether the request arriving at <paramref name="now"/> (<see cref="Environment.TickCount64"/>)
    /// should go to the SDK to keep the session's idle clock there; if so, it is counted as gone.
    /// </summary>
    public bool SdkDue(long now)
    {
        var saw = Volatile.Read(ref _sdkSaw);
        return now - saw >= sdkEveryMs && Interlocked.CompareExchange(ref _sdkSaw, now, saw) == saw;
    }

    /// <summary>A request of the session went to the SDK at <paramref name="now"/>.</summary>
    public void SentToSdk(long now) => Volatile.Write(ref _sdkSaw, now);
}
