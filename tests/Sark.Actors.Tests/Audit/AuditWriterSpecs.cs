using System.Diagnostics;
using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using Sark.Actors.Audit;
using Xunit.Abstractions;

namespace Sark.Actors.Tests.Audit;

/// <summary>The audit writer on virtual time, over an in-memory store that can fail or hold its writes.</summary>
public sealed class AuditWriterSpecs : TestKit, IAsyncLifetime
{
    private static readonly Config Config = ConfigurationFactory.ParseString("""
        akka.scheduler.implementation = "Akka.TestKit.TestScheduler, Akka.TestKit"
        akka.loglevel = INFO
        """);

    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    private readonly InMemoryAuditStore _store = new();
    private readonly AuditMeter _dropped = new();
    private AuditLog? _log;

    public AuditWriterSpecs(ITestOutputHelper output)
        : base(Config, output: output)
    {
    }

    private TestScheduler Scheduler => (TestScheduler)Sys.Scheduler;

    private static AuditOptions Options(int maxBatch = 10, int capacity = 1000) => new()
    {
        BatchMaxSize = maxBatch,
        QueueCapacity = capacity,
        BatchInterval = TimeSpan.FromSeconds(1),
        RetryMin = TimeSpan.FromSeconds(1),
        RetryMax = TimeSpan.FromSeconds(8),
    };

    private static AuditEvent Event(int i, string subject = "alice") =>
        AuditEvent.ForOutcome($"req-{i}", subject, "files", "read", AuditOutcomes.Ok, 1.5, upstream: "local");

    private IActorRef Start(AuditOptions options)
    {
        _log = new AuditLog(options, _store);
        return Sys.ActorOf(AuditWriter.Props(_log), "audit");
    }

    private async Task RecordAsync(int from, int count)
    {
        for (var i = from; i < from + count; i++)
            Assert.True(await _log!.RecordAsync(Event(i)));
    }

    private async Task<AuditWriter.Status> StatusAsync(IActorRef writer) =>
        await writer.Ask<AuditWriter.Status>(AuditWriter.GetStatus.Instance, TimeSpan.FromSeconds(3));

    private async Task<AuditWriter.Status> StatusUntilAsync(IActorRef writer, Func<AuditWriter.Status, bool> done)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var status = await StatusAsync(writer);
            if (done(status))
                return status;
            Assert.True(clock.Elapsed < Bound, $"The writer did not reach the expected state within {Bound}; last: {status}");
            await Task.Delay(10);
        }
    }

    private async Task RowsUntilAsync(int count)
    {
        var clock = Stopwatch.StartNew();
        while (_store.Rows.Count < count)
        {
            Assert.True(clock.Elapsed < Bound, $"Only {_store.Rows.Count} of {count} rows were written within {Bound}.");
            await Task.Delay(10);
        }
    }

    [Fact]
    public async Task A_full_batch_is_written_at_once_without_waiting_for_the_interval()
    {
        Start(Options(maxBatch: 10));
        await RecordAsync(0, 10);
        await RowsUntilAsync(10);
        Assert.Equal([10], _store.BatchSizes);
        Assert.Equal(Enumerable.Range(0, 10).Select(i => $"req-{i}"), _store.Rows.Select(e => e.RequestId));
    }

    [Fact]
    public async Task A_partial_batch_is_written_when_the_interval_has_passed_and_not_before()
    {
        var writer = Start(Options(maxBatch: 10));
        await RecordAsync(0, 3);
        await StatusUntilAsync(writer, s => s.Batched == 3);
        Scheduler.Advance(TimeSpan.FromMilliseconds(999));
        var before = await StatusAsync(writer);
        Assert.False(before.Writing);
        Assert.Empty(_store.Rows);

        Scheduler.Advance(TimeSpan.FromMilliseconds(1));
        await RowsUntilAsync(3);
        Assert.Equal([3], _store.BatchSizes);
    }

    [Fact]
    public async Task A_failed_write_keeps_its_events_and_retries_them_after_1s_then_2s()
    {
        _store.FailNext(2);
        var writer = Start(Options(maxBatch: 5));
        await RecordAsync(0, 5);
        await StatusUntilAsync(writer, s => s is { Failures: 1, BackingOff: true });
        Assert.Equal(1, _store.Attempts);

        Scheduler.Advance(TimeSpan.FromMilliseconds(999));
        Assert.Equal(1, (await StatusAsync(writer)).Failures);
        Assert.Equal(1, _store.Attempts);
        Scheduler.Advance(TimeSpan.FromMilliseconds(1));
        await StatusUntilAsync(writer, s => s is { Failures: 2, BackingOff: true });

        Scheduler.Advance(TimeSpan.FromMilliseconds(1999));
        Assert.Equal(2, (await StatusAsync(writer)).Failures);
        Assert.Equal(2, _store.Attempts);
        Scheduler.Advance(TimeSpan.FromMilliseconds(1));
        await RowsUntilAsync(5);

        Assert.Equal(3, _store.Attempts);
        Assert.Equal(3, _store.Initializations); // once at first, then again before each retry
        Assert.Equal(Enumerable.Range(0, 5).Select(i => $"req-{i}"), _store.Rows.Select(e => e.RequestId));
        Assert.Equal(0, (await StatusAsync(writer)).Failures);
    }

    [Fact]
    public async Task Events_recorded_while_the_store_is_down_wait_in_the_queue_and_are_all_written_when_it_returns()
    {
        _store.FailAlways(true);
        var writer = Start(Options(maxBatch: 10, capacity: 100));
        await RecordAsync(0, 60);
        await StatusUntilAsync(writer, s => s.Failures >= 1);
        Assert.Equal(60, _log!.QueueDepth);
        Scheduler.Advance(TimeSpan.FromSeconds(1));
        await StatusUntilAsync(writer, s => s.Failures >= 2);

        _store.FailAlways(false);
        Scheduler.Advance(TimeSpan.FromSeconds(2));
        await RowsUntilAsync(60);

        Assert.Equal(Enumerable.Range(0, 60).Select(i => $"req-{i}"), _store.Rows.Select(e => e.RequestId));
        Assert.Equal(Enumerable.Range(1, 60).Select(i => (long)i), _store.Rows.Select(e => e.Id));
        Assert.Equal(0, _log.Dropped);
        Assert.Equal(0, _dropped.Total);
    }

    [Fact]
    public async Task Flush_writes_a_partial_batch_at_once_and_closes_the_log_to_new_events()
    {
        var writer = Start(Options(maxBatch: 10));
        await RecordAsync(0, 3);

        Assert.True(await _log!.FlushAsync(Bound));

        Assert.Equal(3, _store.Rows.Count);
        Assert.True((await StatusAsync(writer)).Drained);
        Assert.False(await _log.RecordAsync(Event(99)));
        Assert.Equal(1, _dropped[AuditTelemetry.DropReasons.Closed]);
    }

    [Fact]
    public async Task Flush_reports_false_while_the_store_is_down_and_a_stopped_writer_counts_what_it_held_as_dropped()
    {
        _store.FailAlways(true);
        var writer = Start(Options(maxBatch: 4));
        await RecordAsync(0, 10);
        await StatusUntilAsync(writer, s => s.Failures >= 1);

        Assert.False(await _log!.FlushAsync(TimeSpan.FromMilliseconds(200)));

        Watch(writer);
        Sys.Stop(writer);
        ExpectTerminated(writer);
        Assert.Equal(10, _log.Dropped);
        Assert.Equal(10, _dropped[AuditTelemetry.DropReasons.Unwritten]);
    }

    [Fact]
    public async Task Followers_receive_events_after_they_are_written_with_their_ids()
    {
        Start(Options(maxBatch: 3));
        using var follower = _log!.Subscribe();
        await RecordAsync(0, 3);

        var received = new List<AuditEvent>();
        using var timeout = new CancellationTokenSource(Bound);
        while (received.Count < 3)
            received.Add(await follower.Reader.ReadAsync(timeout.Token));

        Assert.Equal([1L, 2L, 3L], received.Select(e => e.Id));
        Assert.Equal(3, _store.Rows.Count);
    }

    [Fact]
    public async Task A_slow_follower_loses_its_oldest_events_and_the_loss_is_counted()
    {
        using var streamDropped = new AuditMeter("sark.audit.stream_dropped");
        Start(Options(maxBatch: 5));
        using var follower = _log!.Subscribe(capacity: 2);
        await RecordAsync(0, 5);
        await RowsUntilAsync(5);
        // Followers hear of a batch just after the store took it.
        await AwaitAssertAsync(() => Assert.Equal(3, follower.Dropped), Bound);

        Assert.True(follower.Reader.TryRead(out var first));
        Assert.True(follower.Reader.TryRead(out var second));
        Assert.Equal([4L, 5L], new[] { first!.Id, second!.Id });
        Assert.Equal(3, follower.Dropped);
        Assert.Equal(3, streamDropped.Total);
    }

    [Fact]
    public async Task With_back_pressure_a_producer_waits_for_room_and_its_event_is_written_without_a_drop()
    {
        _store.Hold();
        var writer = Start(Options(maxBatch: 2, capacity: 2) with { EnqueueTimeout = TimeSpan.FromSeconds(30) });
        await RecordAsync(0, 2);
        await StatusUntilAsync(writer, s => s.Writing);
        await RecordAsync(2, 2); // fills the queue while the first batch is held

        var waiting = _log!.RecordAsync(Event(4)).AsTask();
        Assert.False(waiting.IsCompleted);

        _store.Release();
        Assert.True(await waiting.WaitAsync(Bound));
        Assert.True(await _log.FlushAsync(Bound));
        Assert.Equal(5, _store.Rows.Count);
        Assert.Equal(0, _dropped.Total);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    async Task IAsyncLifetime.DisposeAsync()
    {
        _dropped.Dispose();
        if (_log is not null)
            await _log.DisposeAsync();
    }
}
