using System.Collections.Immutable;
using System.Threading.Channels;
using Akka;
using Akka.Actor;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Sark.Actors.Audit;

/// <summary>
/// The audit log's front: what the facade calls on every call (<see cref="RecordAsync"/>), what
/// coordinated shutdown calls (<see cref="FlushAsync"/>), what the REST API reads
/// (<see cref="QueryAsync"/>) and follows (<see cref="Subscribe"/>). The writing is done by the
/// <see cref="AuditWriter"/> actor (<c>/user/sark/audit</c>), started with <see cref="AuditWriter.Props"/>.
/// <para>
/// Ingress is a bounded <see cref="Channel{T}"/>, not <c>Source.Queue</c>: it takes many concurrent
/// producers (Source.Queue's back-pressured offers must be awaited one at a time), its
/// <c>WriteAsync</c> is the back-pressure, and its length is the queue-depth gauge. The writer
/// drains it in batches, so it is also the buffer that holds events while the store is down.
/// </para>
/// <code>
/// var log = new AuditLog(AuditOptions.Read(config), AuditStores.Create(options), logger);
/// var writer = Context.ActorOf(AuditWriter.Props(log), "audit");      // in SarkRoot
/// log.FlushOnShutdown(system);                                        // once
/// await log.RecordAsync(AuditEvent.ForDecision(...));                 // per decision and outcome
/// </code>
/// </summary>
public sealed partial class AuditLog : IAsyncDisposable
{
    private readonly Channel<AuditEvent> _queue;
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ILogger _logger;
    private readonly object _gate = new();
    private ImmutableArray<AuditSubscription> _subscribers = [];
    private int _batched;
    private long _dropped;

    public AuditLog(AuditOptions options, IAuditStore store, ILogger? logger = null)
    {
        Options = options;
        Store = store;
        _logger = logger ?? NullLogger.Instance;
        _queue = Channel.CreateBounded<AuditEvent>(new BoundedChannelOptions(options.QueueCapacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
            SingleWriter = false,
        });
        if (!options.Enabled)
        {
            _queue.Writer.TryComplete();
            _drained.TrySetResult();
        }

        AuditTelemetry.Register(this);
    }

    public AuditOptions Options { get; }

    public IAuditStore Store { get; }

    /// <summary>Events recorded and not yet written: those queued and the writer's current batch.</summary>
    public long QueueDepth => _queue.Reader.Count + Volatile.Read(ref _batched);

    /// <summary>Batch writes that failed in a row (0 after a success), for the readiness detail.</summary>
    public int ConsecutiveWriteFailures { get; private set; }

    /// <summary>The last write failure's message while writes are failing, else null.</summary>
    public string? LastWriteError { get; private set; }

    /// <summary>The writer reports each batch write: <paramref name="error"/> null on success.</summary>
    internal void ReportWrite(int failures, string? error)
    {
        LastWriteError = error;
        ConsecutiveWriteFailures = failures;
    }

    /// <summary>Events this log dropped (all reasons); the same as the sum of its <c>sark.audit.dropped</c> increments.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    internal ChannelReader<AuditEvent> Reader => _queue.Reader;

    internal Task Drained => _drained.Task;

    /// <summary>
    /// Queues an event for writing. Returns true once it is queued, false when it was dropped
    /// (counted in <c>sark.audit.dropped</c> and logged). With <c>overflow = backpressure</c> a full
    /// queue makes this wait, at most <c>enqueue-timeout</c>. Pass a token that is cancelled on
    /// shutdown rather than the call's own token: a cancelled wait drops the event. Arguments in
    /// clear are stripped unless <c>store-arguments = true</c>.
    /// </summary>
    public ValueTask<bool> RecordAsync(AuditEvent e, CancellationToken ct = default)
    {
        if (!Options.Enabled)
            return ValueTask.FromResult(true);
        if (e.Arguments is not null && !Options.StoreArguments)
            e = e with { Arguments = null };
        if (_queue.Writer.TryWrite(e))
            return ValueTask.FromResult(true);
        if (_queue.Reader.Completion.IsCompleted || IsClosed)
            return ValueTask.FromResult(Drop(AuditTelemetry.DropReasons.Closed, e));
        if (Options.Overflow == AuditOverflow.DropNewest)
            return ValueTask.FromResult(Drop(AuditTelemetry.DropReasons.Overflow, e));
        return WaitForRoomAsync(e, ct);
    }

    /// <summary>
    /// Closes the log to new events (later ones are dropped as <c>closed</c>) and waits, at most
    /// <paramref name="timeout"/>, until the writer has written every event recorded before.
    /// True when everything is written. Idempotent.
    /// </summary>
    public async Task<bool> FlushAsync(TimeSpan timeout)
    {
        IsClosed = true;
        _queue.Writer.TryComplete();
        try
        {
            await _drained.Task.WaitAsync(timeout).ConfigureAwait(false);
            return true;
        }
        catch (TimeoutException)
        {
            LogFlushTimedOut(_logger, timeout.TotalSeconds, QueueDepth);
            return false;
        }
    }

    /// <summary>
    /// Runs <see cref="FlushAsync"/> with <c>flush-timeout</c> in the coordinated-shutdown phase
    /// <c>before-actor-system-terminate</c>, while the writer is still alive. Give that phase a
    /// timeout of at least flush-timeout (<c>akka.coordinated-shutdown.phases.before-actor-system-terminate.timeout</c>).
    /// </summary>
    public void FlushOnShutdown(ActorSystem system) =>
        CoordinatedShutdown.Get(system).AddTask(CoordinatedShutdown.PhaseBeforeActorSystemTerminate, "sark-audit-flush", async () =>
        {
            await FlushAsync(Options.FlushTimeout).ConfigureAwait(false);
            return Done.Instance;
        });

    /// <summary>Events matching the query, ascending by id (validates it first).</summary>
    public Task<IReadOnlyList<AuditEvent>> QueryAsync(AuditQuery query, CancellationToken ct = default) =>
        Store.QueryAsync(query.Validate(), ct);

    /// <summary>
    /// Follows events live, as they are written (so with their ids). A follower that lags by more
    /// than <paramref name="capacity"/> (default <c>subscriber-capacity</c>) loses its oldest
    /// events, counted in <c>sark.audit.stream_dropped</c>. Dispose the subscription to stop.
    /// For an SSE resume, subscribe first, then query with <c>AfterId</c> = Last-Event-ID, and skip
    /// live events whose id is not above the last one sent.
    /// </summary>
    public AuditSubscription Subscribe(int? capacity = null)
    {
        var subscription = new AuditSubscription(this, capacity ?? Options.SubscriberCapacity);
        lock (_gate)
            _subscribers = _subscribers.Add(subscription);
        return subscription;
    }

    /// <summary>Closes the log, ends every follower and disposes the store. Call it after the actor system has terminated (the writer uses the store).</summary>
    public async ValueTask DisposeAsync()
    {
        AuditTelemetry.Unregister(this);
        IsClosed = true;
        _queue.Writer.TryComplete();
        foreach (var subscriber in _subscribers)
            subscriber.Dispose();
        await Store.DisposeAsync().ConfigureAwait(false);
    }

    internal bool IsClosed { get; private set; }

    internal void SetBatched(int count) => Volatile.Write(ref _batched, count);

    internal void MarkDrained() => _drained.TrySetResult();

    /// <summary>Called by the writer after a batch is stored.</summary>
    internal void Publish(IReadOnlyList<AuditEvent> written)
    {
        var subscribers = _subscribers;
        if (subscribers.IsEmpty)
            return;
        foreach (var subscriber in subscribers)
        {
            foreach (var e in written)
                subscriber.Offer(e);
        }
    }

    internal void Unsubscribe(AuditSubscription subscription)
    {
        lock (_gate)
            _subscribers = _subscribers.Remove(subscription);
    }

    /// <summary>Counts and logs events that were recorded but never written (the writer stopped).</summary>
    internal void DropUnwritten(int count)
    {
        if (count <= 0)
            return;
        Interlocked.Add(ref _dropped, count);
        AuditTelemetry.Drop(AuditTelemetry.DropReasons.Unwritten, count);
        LogUnwritten(_logger, count);
    }

    private async ValueTask<bool> WaitForRoomAsync(AuditEvent e, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(Options.EnqueueTimeout);
        try
        {
            await _queue.Writer.WriteAsync(e, timeout.Token).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException)
        {
            return Drop(ct.IsCancellationRequested ? AuditTelemetry.DropReasons.Cancelled : AuditTelemetry.DropReasons.Timeout, e);
        }
        catch (ChannelClosedException)
        {
            return Drop(AuditTelemetry.DropReasons.Closed, e);
        }
    }

    private bool Drop(string reason, AuditEvent e)
    {
        var total = Interlocked.Increment(ref _dropped);
        AuditTelemetry.Drop(reason);
        // Every drop is counted; the log line is rate-limited to the first ten, then one in a thousand.
        if (total <= 10 || total % 1000 == 0)
            LogDropped(_logger, reason, e.EventType, e.RequestId, total);
        return false;
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Warning, Message = "Audit event dropped ({Reason}): {EventType} of request {RequestId}; {Total} dropped so far")]
    private static partial void LogDropped(ILogger logger, string reason, string eventType, string requestId, long total);

    [LoggerMessage(EventId = 2, Level = LogLevel.Error, Message = "Audit flush did not finish within {Seconds}s; {Left} events are not written yet")]
    private static partial void LogFlushTimedOut(ILogger logger, double seconds, long left);

    [LoggerMessage(EventId = 3, Level = LogLevel.Error, Message = "Audit writer stopped with {Count} events not written; they are counted as dropped (unwritten)")]
    private static partial void LogUnwritten(ILogger logger, int count);
}

/// <summary>A live follower of the audit log (<see cref="AuditLog.Subscribe"/>). Dispose it to stop following.</summary>
public sealed class AuditSubscription : IDisposable
{
    private readonly AuditLog _log;
    private readonly Channel<AuditEvent> _channel;

    internal AuditSubscription(AuditLog log, int capacity)
    {
        _log = log;
        _channel = Channel.CreateBounded<AuditEvent>(
            new BoundedChannelOptions(capacity) { FullMode = BoundedChannelFullMode.DropOldest, SingleWriter = true },
            _ =>
            {
                Interlocked.Increment(ref _dropped);
                AuditTelemetry.StreamDropped.Add(1);
            });
    }

    private long _dropped;

    /// <summary>Written events, in id order; completes when the subscription is disposed.</summary>
    public ChannelReader<AuditEvent> Reader => _channel.Reader;

    /// <summary>Events this follower lost because it lagged.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    public void Dispose()
    {
        _log.Unsubscribe(this);
        _channel.Writer.TryComplete();
    }

    internal void Offer(AuditEvent e) => _channel.Writer.TryWrite(e);
}

/// <summary>The node's audit log as the host's services see it: <see cref="Log"/> is null when audit is off.</summary>
public sealed record AuditAccess(AuditLog? Log);
