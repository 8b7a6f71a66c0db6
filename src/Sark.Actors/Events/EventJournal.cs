using System.Buffers;
using System.Text;
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
/// <remarks>
/// A node appends an <c>invocation</c> event for every call, so at thousands of calls a second
/// the ring is where recent calls would outlive their requests: an object per event, held until
/// the ring wraps, survives every collection in between and is copied into the older generations
/// (at 10,000 calls/s a 4,096-event ring holds 0.4 s of calls; docs/PERFORMANCE.md, "Session 9").
/// So an invocation is held without objects of its own: its fields in the ring's entry and its
/// text (request id, server, tool, outcome) as UTF-8 in a block allocated once with the ring
/// (<see cref="TextBytes"/> per entry). Its JSON is made when a reader first reads it and kept for
/// the other readers. Other events are rare and keep an object each.
/// </remarks>
public sealed class EventJournal
{
    /// <summary>Bytes of text an invocation can hold in place; a longer one keeps an object.</summary>
    internal const int TextBytes = 192;

    private readonly Entry[] _ring;
    private readonly byte[] _text;
    private readonly object _lock = new();
    private long _lastId;
    /// <summary>What readers wait on; made by the first reader that waits, so that appends nobody waits for allocate nothing.</summary>
    private TaskCompletionSource? _appended;

    public EventJournal(int capacity = 4096)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _ring = new Entry[capacity];
        _text = new byte[checked(capacity * TextBytes)];
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

    /// <summary>
    /// Appends a call's <c>invocation</c> event, held without an object of its own when its text
    /// fits <see cref="TextBytes"/> (see the remarks); in a cluster it is sent to the others as well.
    /// </summary>
    internal long AppendInvocation(in InvocationEvent invocation)
    {
        if (Shared is not null)
            return AppendShared(GatewayEventTypes.Invocation, invocation, EventJsonContext.Default.InvocationEvent);

        Span<byte> text = stackalloc byte[TextBytes];
        if (!InvocationText.TryEncode(invocation, text, out var lengths))
            return Append(new PayloadSlot<InvocationEvent>(GatewayEventTypes.Invocation, invocation, EventJsonContext.Default.InvocationEvent));
        return Append(GatewayEventTypes.Invocation, slot: null, invocation.DurationMs, lengths, text[..lengths.Total]);
    }

    private long Append(Slot slot) => Append(slot.Type, slot, 0, default, []);

    /// <summary>Takes the next id, fills its place of the ring (and its text, if any) and wakes the readers.</summary>
    private long Append(string type, Slot? slot, double durationMs, InvocationText.Lengths lengths, ReadOnlySpan<byte> text)
    {
        TaskCompletionSource? signal;
        long id;
        lock (_lock)
        {
            id = _lastId + 1;
            var index = (int)(id % _ring.Length);
            _ring[index] = new Entry(id, type, slot, durationMs, lengths);
            text.CopyTo(_text.AsSpan(index * TextBytes));
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
        var taken = new List<Entry>(Math.Min(max, 64));
        byte[]? text = null;
        try
        {
            lock (_lock)
            {
                var first = _lastId == 0 ? 1 : Math.Max(1, _lastId - _ring.Length + 1);
                gap = afterId + 1 < first;
                var from = Math.Max(afterId + 1, first);
                var count = (int)Math.Max(0, Math.Min(max, _lastId - from + 1));
                for (var id = from; id < from + count; id++)
                {
                    var index = (int)(id % _ring.Length);
                    var entry = _ring[index];
                    if (entry.HeldAsText)
                    {
                        // The ring may wrap over this text once the lock is released: copied now.
                        text ??= ArrayPool<byte>.Shared.Rent(count * TextBytes);
                        _text.AsSpan(index * TextBytes, entry.Lengths.Total).CopyTo(text.AsSpan(taken.Count * TextBytes));
                    }

                    taken.Add(entry);
                }
            }

            // Rendered outside the lock, once per event however many readers read it.
            List<(long Id, string Data)>? rendered = null;
            for (var i = 0; i < taken.Count; i++)
            {
                var entry = taken[i];
                var data = entry.Slot?.Data ?? entry.Data;
                if (data is null)
                {
                    data = InvocationText.Render(text.AsSpan(i * TextBytes, entry.Lengths.Total), entry.Lengths, entry.DurationMs);
                    (rendered ??= []).Add((entry.Id, data));
                }

                into.Add(new JournalEntry(entry.Id, entry.Type, data));
            }

            if (rendered is not null)
                Keep(rendered);
            return taken.Count;
        }
        finally
        {
            if (text is not null)
                ArrayPool<byte>.Shared.Return(text);
        }
    }

    /// <summary>Keeps rendered invocations for the next reader, unless the ring has moved past them.</summary>
    private void Keep(List<(long Id, string Data)> rendered)
    {
        lock (_lock)
        {
            foreach (var (id, data) in rendered)
            {
                ref var entry = ref _ring[id % _ring.Length];
                if (entry.Id == id)
                    entry.Data ??= data;
            }
        }
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

    /// <summary>One place of the ring: an event with an object (<see cref="Slot"/>), or an invocation held as text.</summary>
    private struct Entry(long id, string type, Slot? slot, double durationMs, InvocationText.Lengths lengths)
    {
        public readonly long Id = id;
        public readonly string Type = type;
        public readonly Slot? Slot = slot;
        public readonly double DurationMs = durationMs;
        public readonly InvocationText.Lengths Lengths = lengths;

        /// <summary>An invocation held as text: its JSON once a reader made it.</summary>
        public string? Data;

        public readonly bool HeldAsText => Slot is null && Data is null;
    }

    /// <summary>One held event, its data given as it is.</summary>
    private class Slot(string type, string? data)
    {
        private string? _data = data;

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

/// <summary>An invocation's text as the journal holds it: request id, server, tool and outcome, UTF-8, one after the other.</summary>
internal static class InvocationText
{
    /// <summary>The byte length of each field (each at most 255, so that four fit in 32 bits).</summary>
    internal readonly record struct Lengths(byte RequestId, byte Server, byte Tool, byte Outcome)
    {
        public int Total => RequestId + Server + Tool + Outcome;
    }

    /// <summary>Encodes the fields into <paramref name="text"/>; false when they do not fit.</summary>
    public static bool TryEncode(in InvocationEvent invocation, Span<byte> text, out Lengths lengths)
    {
        lengths = default;
        var at = 0;
        if (!TryField(invocation.RequestId, text, ref at, out var requestId)
            || !TryField(invocation.Server, text, ref at, out var server)
            || !TryField(invocation.Tool, text, ref at, out var tool)
            || !TryField(invocation.Outcome, text, ref at, out var outcome))
            return false;
        lengths = new Lengths(requestId, server, tool, outcome);
        return true;
    }

    /// <summary>The event's JSON, exactly as the serializer writes an <see cref="InvocationEvent"/>.</summary>
    public static string Render(ReadOnlySpan<byte> text, Lengths lengths, double durationMs)
    {
        var requestId = Encoding.UTF8.GetString(text[..lengths.RequestId]);
        text = text[lengths.RequestId..];
        var server = Encoding.UTF8.GetString(text[..lengths.Server]);
        text = text[lengths.Server..];
        var tool = Encoding.UTF8.GetString(text[..lengths.Tool]);
        var outcome = Encoding.UTF8.GetString(text.Slice(lengths.Tool, lengths.Outcome));
        return JsonSerializer.Serialize(new InvocationEvent(requestId, server, tool, outcome, durationMs), EventJsonContext.Default.InvocationEvent);
    }

    private static bool TryField(string value, Span<byte> text, ref int at, out byte length)
    {
        length = 0;
        if (!Encoding.UTF8.TryGetBytes(value, text[at..], out var written) || written > byte.MaxValue)
            return false;
        length = (byte)written;
        at += written;
        return true;
    }
}

/// <summary>The data of the node's events (snake_case JSON).</summary>
internal sealed record UpstreamStateEvent(string Upstream, string Kind, string State, string Breaker, int RestartCount, string? LastError);

internal sealed record ServerEvent(string Server, string Upstream, int? ToolsCount = null);

/// <summary>A struct: the journal keeps a call's event in its ring entry and text block, not as objects (<see cref="EventJournal.AppendInvocation"/>).</summary>
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
