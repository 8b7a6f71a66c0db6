using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Sark.Actors.Telemetry;

namespace Sark.Actors.Audit;

/// <summary>
/// The audit instruments, on the one <see cref="SarkTelemetry.Meter"/>. Prometheus names:
/// <c>sark_audit_queue_depth</c>, <c>sark_audit_written_total</c>, <c>sark_audit_dropped_total{reason}</c>,
/// <c>sark_audit_write_errors_total</c>, <c>sark_audit_batch_duration_seconds</c>,
/// <c>sark_audit_stream_dropped_total</c>.
/// </summary>
public static class AuditTelemetry
{
    /// <summary>Why an event was dropped (the <c>reason</c> tag of <see cref="Dropped"/>).</summary>
    public static class DropReasons
    {
        /// <summary>drop-newest mode, the queue was full.</summary>
        public const string Overflow = "overflow";

        /// <summary>backpressure mode, no room within enqueue-timeout.</summary>
        public const string Timeout = "timeout";

        /// <summary>The producer's token was cancelled while it waited for room.</summary>
        public const string Cancelled = "cancelled";

        /// <summary>Recorded after the log was closed (after the shutdown flush started).</summary>
        public const string Closed = "closed";

        /// <summary>Still queued when the writer stopped (the flush timed out or never ran).</summary>
        public const string Unwritten = "unwritten";
    }

    private static readonly ConcurrentDictionary<AuditLog, byte> Logs = new();

    public static readonly Counter<long> Written =
        SarkTelemetry.Meter.CreateCounter<long>("sark.audit.written", "{event}", "Audit events written to the store.");

    public static readonly Counter<long> Dropped =
        SarkTelemetry.Meter.CreateCounter<long>("sark.audit.dropped", "{event}", "Audit events dropped, by reason: overflow, timeout, cancelled, closed, unwritten.");

    public static readonly Counter<long> WriteErrors =
        SarkTelemetry.Meter.CreateCounter<long>("sark.audit.write_errors", "{error}", "Failed batch writes (the batch is kept and retried).");

    public static readonly Histogram<double> BatchDuration =
        SarkTelemetry.Meter.CreateHistogram<double>("sark.audit.batch.duration", "s", "Duration of successful batch writes.");

    public static readonly Histogram<long> BatchSize =
        SarkTelemetry.Meter.CreateHistogram<long>("sark.audit.batch.size", "{event}", "Audit events per successful batch write.");

    public static readonly Counter<long> StreamDropped =
        SarkTelemetry.Meter.CreateCounter<long>("sark.audit.stream_dropped", "{event}", "Events a slow live follower lost (its oldest were dropped).");

    public static readonly ObservableGauge<long> QueueDepth =
        SarkTelemetry.Meter.CreateObservableGauge("sark.audit.queue_depth", ObserveQueueDepth, "{event}", "Audit events recorded and not yet written.");

    internal static void Register(AuditLog log) => Logs.TryAdd(log, 0);

    internal static void Unregister(AuditLog log) => Logs.TryRemove(log, out _);

    internal static void Drop(string reason, long count = 1) =>
        Dropped.Add(count, new KeyValuePair<string, object?>("reason", reason));

    private static long ObserveQueueDepth()
    {
        long depth = 0;
        foreach (var log in Logs.Keys)
            depth += log.QueueDepth;
        return depth;
    }
}
