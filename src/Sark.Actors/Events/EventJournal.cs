using System.Text.Json;
using System.Text.Json.Serialization;

namespace Sark.Actors.Events;

/// <summary>One event of the node's journal: a monotonically increasing id, a type and JSON data.</summary>
public readonly record struct JournalEntry(long Id, string Type, string Data);

/// <summary>
/// The node's own events (what <c>GET /api/v1/events</c> serves): a bounded ring of the latest
/// events with increasing ids, so that a client that reconnects with <c>Last-Event-ID</c> gets
/// what it missed while it is still held. Writers (actors, the facade) append without waiting;
/// readers wait for an id past theirs. Thread-safe; one lock held for a few instructions.
/// </summary>
public sealed class EventJournal
{
    private readonly Slot?[] _ring;
    private readonly object _lock = new();
    private long _lastId;
    /// <summary>What readers wait on; made by the first reader that waits, so that appends nobody waits for allocate nothing.</summary>
    private TaskCompletionSource? _appended;

    public EventJournal(int capacity = 4096)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _ring = new Slot?[capacity];
    }

    /// <summary>The id of the newest event (0 before the first).</summary>
    public long LastId => Volatile.Read(ref _lastId);

    /// <summary>The id of the oldest event still held.</summary>
    public long FirstId
    {
        get
        {
            var last = LastId;
            return last == 0 ? 1 : Math.Max(1, last - _ring.Length + 1);
        }
    }

    /// <summary>Appends an event and wakes every reader waiting for it. Returns its id.</summary>
    public long Append(string type, string data) => Append(new Slot(type, data));

    /// <summary>
    /// Appends an event whose data is <paramref name="payload"/>, serialized with
    /// <paramref name="typeInfo"/> only when a reader first reads it (so a busy node that nobody
    /// follows pays no serialization). Returns its id.
    /// </summary>
    public long Append<T>(string type, T payload, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> typeInfo) =>
        Append(new PayloadSlot<T>(type, payload, typeInfo));

    /// <summary>
    /// In a cluster: where the events this node produces for every node (upstream states,
    /// invocations) go as well, rendered (see <see cref="AppendShared"/>). Null on a node alone.
    /// </summary>
    internal Action<string, string>? Shared { get; set; }

    /// <summary>Appends an event that every node of a cluster shows (and, in a cluster, sends it to the others).</summary>
    internal long AppendShared<T>(string type, T payload, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> typeInfo)
    {
        if (Shared is not { } shared)
            return Append(type, payload, typeInfo);
        var data = JsonSerializer.Serialize(payload, typeInfo);
        var id = Append(type, data);
        shared(type, data);
        return id;
    }

    private long Append(Slot slot)
    {
        TaskCompletionSource? signal;
        long id;
        lock (_lock)
        {
            id = _lastId + 1;
            slot.Id = id;
            _ring[id % _ring.Length] = slot;
            Volatile.Write(ref _lastId, id);
            signal = _appended;
            _appended = null;
        }

        signal?.TrySetResult();
        return id;
    }

    /// <summary>
    /// Copies the events after <paramref name="afterId"/> (at most <paramref name="max"/>) into
    /// <paramref name="into"/>. <paramref name="gap"/> is true when some events after it are no
    /// longer held (the reader fell behind the ring or resumed too late).
    /// </summary>
    public int Read(long afterId, List<JournalEntry> into, int max, out bool gap)
    {
        var slots = new List<Slot>(Math.Min(max, 64));
        lock (_lock)
        {
            var first = _lastId == 0 ? 1 : Math.Max(1, _lastId - _ring.Length + 1);
            gap = afterId + 1 < first;
            var from = Math.Max(afterId + 1, first);
            for (var id = from; id <= _lastId && slots.Count < max; id++)
                slots.Add(_ring[id % _ring.Length]!);
        }

        // Serialized outside the lock, once per event however many readers read it.
        foreach (var slot in slots)
            into.Add(new JournalEntry(slot.Id, slot.Type, slot.Data));
        return slots.Count;
    }

    /// <summary>Completes when an event after <paramref name="afterId"/> exists (at once when one does).</summary>
    public Task WaitAsync(long afterId, CancellationToken cancellationToken)
    {
        Task signal;
        lock (_lock)
        {
            if (_lastId > afterId)
                return Task.CompletedTask;
            signal = (_appended ??= NewSignal()).Task;
        }

        return signal.WaitAsync(cancellationToken);
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>One held event, its data given as it is.</summary>
    private class Slot(string type, string? data)
    {
        private string? _data = data;

        public long Id { get; set; }

        public string Type { get; } = type;

        /// <summary>The data, made on first read (a benign race may make it twice, never differently).</summary>
        public string Data => _data ??= Render();

        protected virtual string Render() => throw new InvalidOperationException("A slot without a payload has its data.");
    }

    /// <summary>A held event whose data is its payload, serialized when first read (no closure per event).</summary>
    private sealed class PayloadSlot<T>(string type, T payload, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> typeInfo) : Slot(type, null)
    {
        protected override string Render() => JsonSerializer.Serialize(payload, typeInfo);
    }
}

/// <summary>The data of the node's events (snake_case JSON).</summary>
internal sealed record UpstreamStateEvent(string Upstream, string Kind, string State, string Breaker, int RestartCount, string? LastError);

internal sealed record ServerEvent(string Server, string Upstream, int? ToolsCount = null);

/// <summary>A struct, so that the journal holds a call's event in one object (its slot), not two.</summary>
internal readonly record struct InvocationEvent(string RequestId, string Server, string Tool, string Outcome, double DurationMs);

internal sealed record GapEvent(long FirstId, long LastEventId);

internal sealed record CatalogChangedEvent(int Registered, int Removed, int ToolsChanged);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(UpstreamStateEvent))]
[JsonSerializable(typeof(ServerEvent))]
[JsonSerializable(typeof(InvocationEvent))]
[JsonSerializable(typeof(GapEvent))]
[JsonSerializable(typeof(CatalogChangedEvent))]
internal sealed partial class EventJsonContext : JsonSerializerContext;
