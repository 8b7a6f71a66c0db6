using System.Diagnostics;
using Akka.Actor;
using Akka.Event;

namespace Sark.Actors.Audit;

/// <summary>
/// <c>/user/sark/audit</c>: drains the <see cref="AuditLog"/>'s queue in batches and writes them to
/// its store, one write in flight at a time, as a detached task piped back to itself. Decisions
/// live in <see cref="AuditBatcher"/>.
/// <code>
/// idle ──events──▶ batching (interval timer armed) ──full | interval | closed──▶ writing
/// writing ──stored──▶ publish to followers ▶ drain the queue again
/// writing ──failed──▶ backing off (retry.min doubling to retry.max, same batch) ──retry──▶ writing
/// queue closed (FlushAsync) and all written ──▶ drained (the flush completes)
/// </code>
/// While it writes or backs off it takes nothing from the queue, so the queue fills and producers
/// wait (backpressure) or drop (drop-newest): no event already queued is lost while the store is down.
/// </summary>
internal sealed class AuditWriter : UntypedActor, IWithTimers
{
    private const string IntervalTimer = "interval";
    private const string RetryTimer = "retry";

    private readonly AuditLog _log;
    private readonly AuditBatcher _batcher;
    private readonly ILoggingAdapter _logger = Context.GetLogger();
    private readonly CancellationTokenSource _stopping = new();
    private bool _initialized;
    private bool _awaitingData;
    private bool _sourceClosed;
    private bool _drained;

    public AuditWriter(AuditLog log)
    {
        _log = log;
        _batcher = new AuditBatcher(log.Options.BatchMaxSize, log.Options.RetryMin, log.Options.RetryMax);
    }

    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>The writer of <paramref name="log"/>; start exactly one per log, named <c>audit</c> under <c>/user/sark</c>.</summary>
    public static Props Props(AuditLog log) => Akka.Actor.Props.Create(() => new AuditWriter(log));

    /// <summary>Asks for a <see cref="Status"/> (tests, the ops console).</summary>
    public sealed record GetStatus
    {
        public static GetStatus Instance { get; } = new();
    }

    /// <summary>The writer's state.</summary>
    public sealed record Status(int Batched, bool Writing, bool BackingOff, int Failures, bool Drained);

    protected override void PreStart() => Pull();

    protected override void PostStop()
    {
        _stopping.Cancel();
        _stopping.Dispose();
        _log.DropUnwritten(_batcher.Count + _log.Reader.Count);
        _log.SetBatched(0);
    }

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case DataAvailable:
                _awaitingData = false;
                Pull();
                break;
            case SourceClosed:
                _awaitingData = false;
                _sourceClosed = true;
                Pull();
                break;
            case IntervalElapsed:
                _batcher.IntervalElapsed();
                Pull();
                break;
            case Stored stored:
                OnStored(stored);
                break;
            case StoreFailed failed:
                OnFailed(failed);
                break;
            case RetryDue:
                _batcher.RetryDue();
                Pull();
                break;
            case GetStatus:
                Sender.Tell(new Status(_batcher.Count, _batcher.Writing, _batcher.BackingOff, _batcher.Failures, _drained));
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    /// <summary>Takes what the queue holds into the batch (while it has room), then acts on the batcher's decision.</summary>
    private void Pull()
    {
        var reader = _log.Reader;
        while (_batcher.HasRoom && reader.TryRead(out var e))
            _batcher.Add(e);
        _log.SetBatched(_batcher.Count);
        _sourceClosed |= reader.Completion.IsCompleted;

        switch (_batcher.Next(_sourceClosed))
        {
            case AuditStep.Write:
                Timers.Cancel(IntervalTimer);
                Write();
                return;
            case AuditStep.ArmTimer:
                Timers.StartSingleTimer(IntervalTimer, IntervalElapsed.Instance, _log.Options.BatchInterval);
                break;
            case AuditStep.Drained when !_drained:
                _drained = true;
                _logger.Info("Audit log flushed: every recorded event is written");
                _log.MarkDrained();
                return;
        }

        if (_batcher.HasRoom && !_sourceClosed && !_awaitingData)
        {
            _awaitingData = true;
            reader.WaitToReadAsync(_stopping.Token).AsTask().PipeTo(
                Self,
                success: more => more ? DataAvailable.Instance : SourceClosed.Instance,
                failure: _ => SourceClosed.Instance);
        }
    }

    private void Write()
    {
        var store = _log.Store;
        var batch = _batcher.Batch;
        var initialize = !_initialized;
        var ct = _stopping.Token;
        var started = Stopwatch.GetTimestamp();
        Task.Run(async () =>
        {
            if (initialize)
                await store.InitializeAsync(ct).ConfigureAwait(false);
            return await store.WriteBatchAsync(batch, ct).ConfigureAwait(false);
        }, ct).PipeTo(
            Self,
            success: written => new Stored(written, Stopwatch.GetElapsedTime(started)),
            failure: ex => new StoreFailed(ex));
    }

    private void OnStored(Stored stored)
    {
        _initialized = true;
        if (_batcher.Failures > 0)
            _logger.Info("Audit store is writable again after {Failures} failed attempts; {Count} held events written", _batcher.Failures, stored.Events.Count);
        _batcher.Written();
        _log.ReportWrite(0, null);
        AuditTelemetry.Written.Add(stored.Events.Count);
        AuditTelemetry.BatchSize.Record(stored.Events.Count);
        AuditTelemetry.BatchDuration.Record(stored.Duration.TotalSeconds);
        _log.Publish(stored.Events);
        Pull();
    }

    private void OnFailed(StoreFailed failed)
    {
        // Initialize again before the retry: the store may have lost its schema or connection.
        _initialized = false;
        var delay = _batcher.Failed();
        AuditTelemetry.WriteErrors.Add(1);
        _log.ReportWrite(_batcher.Failures, failed.Cause.Message);
        _logger.Warning(
            failed.Cause,
            "Audit store write of {Count} events failed (attempt {Attempt}); the events are kept and retried in {Delay}; {Queued} more are queued",
            _batcher.Count, _batcher.Failures, delay, _log.Reader.Count);
        Timers.StartSingleTimer(RetryTimer, RetryDue.Instance, delay);
    }

    private sealed record DataAvailable
    {
        public static DataAvailable Instance { get; } = new();
    }

    private sealed record SourceClosed
    {
        public static SourceClosed Instance { get; } = new();
    }

    private sealed record IntervalElapsed
    {
        public static IntervalElapsed Instance { get; } = new();
    }

    private sealed record RetryDue
    {
        public static RetryDue Instance { get; } = new();
    }

    private sealed record Stored(IReadOnlyList<AuditEvent> Events, TimeSpan Duration);

    private sealed record StoreFailed(Exception Cause);
}
