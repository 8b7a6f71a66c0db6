using System.Buffers;
using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;

namespace Sark.DemoServer;

/// <summary>Thread-safe counters reported by the <c>stats</c> tool.</summary>
internal sealed class ServerStats
{
    private readonly ConcurrentDictionary<string, Counter> _calls = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<RequestId> _cancelledRequestIds = new();
    private long _totalCalls;
    private long _cancellations;
    private long _initializeCount;
    private long _clientPingsAnswered;

    /// <summary>Counts one <c>tools/call</c> of <paramref name="toolName"/>.</summary>
    public void RecordCall(string toolName)
    {
        Interlocked.Increment(ref _calls.GetOrAdd(toolName, static _ => new Counter()).Value);
        Interlocked.Increment(ref _totalCalls);
    }

    /// <summary>Counts a request cancelled by <c>notifications/cancelled</c>.</summary>
    public void RecordCancellation(RequestId id)
    {
        _cancelledRequestIds.Enqueue(id);
        Interlocked.Increment(ref _cancellations);
    }

    /// <summary>Counts an <c>initialize</c> request.</summary>
    public void RecordInitialize() => Interlocked.Increment(ref _initializeCount);

    /// <summary>Counts a server-to-client ping that the client answered.</summary>
    public void RecordClientPingAnswered() => Interlocked.Increment(ref _clientPingsAnswered);

    /// <summary>The counters as a compact JSON object.</summary>
    public string ToJson()
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteNumber("pid", Environment.ProcessId);
            writer.WriteStartObject("calls");
            foreach (var (name, counter) in _calls.OrderBy(pair => pair.Key, StringComparer.Ordinal))
            {
                writer.WriteNumber(name, Interlocked.Read(ref counter.Value));
            }

            writer.WriteEndObject();
            writer.WriteNumber("total_calls", Interlocked.Read(ref _totalCalls));
            writer.WriteNumber("cancellations", Interlocked.Read(ref _cancellations));
            writer.WriteStartArray("cancelled_request_ids");
            foreach (var id in _cancelledRequestIds)
            {
                id.WriteTo(writer);
            }

            writer.WriteEndArray();
            writer.WriteNumber("initialize_count", Interlocked.Read(ref _initializeCount));
            writer.WriteNumber("client_pings_answered", Interlocked.Read(ref _clientPingsAnswered));
            writer.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>A boxed counter, incremented with <see cref="Interlocked"/>.</summary>
    private sealed class Counter
    {
        public long Value;
    }
}
