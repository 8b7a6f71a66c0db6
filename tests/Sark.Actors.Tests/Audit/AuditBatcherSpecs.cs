using Sark.Actors.Audit;

namespace Sark.Actors.Tests.Audit;

public sealed class AuditBatcherSpecs
{
    private static readonly TimeSpan Second = TimeSpan.FromSeconds(1);

    private static AuditEvent Event(int i) => AuditEvent.ForDecision($"r{i}", "alice", "s", "t", allow: true, "ok");

    [Fact]
    public void The_first_event_of_a_batch_arms_the_interval_timer_once()
    {
        var batcher = new AuditBatcher(3, Second, 30 * Second);
        Assert.Equal(AuditStep.Wait, batcher.Next(sourceClosed: false));
        batcher.Add(Event(1));
        Assert.Equal(AuditStep.ArmTimer, batcher.Next(false));
        batcher.Add(Event(2));
        Assert.Equal(AuditStep.Wait, batcher.Next(false));
    }

    [Fact]
    public void A_full_batch_is_written_at_once_and_takes_no_more_events()
    {
        var batcher = new AuditBatcher(2, Second, 30 * Second);
        batcher.Add(Event(1));
        batcher.Add(Event(2));
        Assert.False(batcher.HasRoom);
        Assert.Equal(AuditStep.Write, batcher.Next(false));
        Assert.True(batcher.Writing);
        Assert.Throws<InvalidOperationException>(() => batcher.Add(Event(3)));
        Assert.Equal(AuditStep.Wait, batcher.Next(false));
    }

    [Fact]
    public void A_partial_batch_is_written_when_its_interval_has_passed()
    {
        var batcher = new AuditBatcher(10, Second, 30 * Second);
        batcher.Add(Event(1));
        Assert.Equal(AuditStep.ArmTimer, batcher.Next(false));
        batcher.IntervalElapsed();
        Assert.Equal(AuditStep.Write, batcher.Next(false));
    }

    [Fact]
    public void A_closed_source_writes_a_partial_batch_at_once_and_then_reports_drained()
    {
        var batcher = new AuditBatcher(10, Second, 30 * Second);
        batcher.Add(Event(1));
        Assert.Equal(AuditStep.Write, batcher.Next(sourceClosed: true));
        Assert.Equal(AuditStep.Wait, batcher.Next(true));
        batcher.Written();
        Assert.Equal(AuditStep.Drained, batcher.Next(true));
    }

    [Fact]
    public void A_failed_batch_is_kept_whole_and_is_due_again_only_when_its_retry_comes()
    {
        var batcher = new AuditBatcher(2, Second, 30 * Second);
        batcher.Add(Event(1));
        batcher.Add(Event(2));
        Assert.Equal(AuditStep.Write, batcher.Next(false));
        Assert.Equal(Second, batcher.Failed());
        Assert.True(batcher.BackingOff);
        Assert.False(batcher.HasRoom);
        Assert.Equal(AuditStep.Wait, batcher.Next(false));
        Assert.Equal(AuditStep.Wait, batcher.Next(true));
        batcher.RetryDue();
        Assert.Equal(AuditStep.Write, batcher.Next(false));
        Assert.Equal(["r1", "r2"], batcher.Batch.Select(e => e.RequestId));
    }

    [Fact]
    public void A_partial_batch_that_failed_is_retried_without_waiting_for_another_interval()
    {
        var batcher = new AuditBatcher(10, Second, 30 * Second);
        batcher.Add(Event(1));
        batcher.Next(false);
        batcher.IntervalElapsed();
        Assert.Equal(AuditStep.Write, batcher.Next(false));
        batcher.Failed();
        batcher.RetryDue();
        Assert.Equal(AuditStep.Write, batcher.Next(false));
    }

    [Fact]
    public void Retry_delays_double_from_the_minimum_and_stop_at_the_maximum()
    {
        var batcher = new AuditBatcher(1, Second, 10 * Second);
        batcher.Add(Event(1));
        var delays = new List<TimeSpan>();
        for (var i = 0; i < 6; i++)
        {
            Assert.Equal(AuditStep.Write, batcher.Next(false));
            delays.Add(batcher.Failed());
            batcher.RetryDue();
        }

        Assert.Equal([1, 2, 4, 8, 10, 10], delays.Select(d => d.TotalSeconds));
        Assert.Equal(10 * Second, batcher.RetryDelay(1000));
    }

    [Fact]
    public void A_successful_write_resets_the_failures_and_empties_the_batch()
    {
        var batcher = new AuditBatcher(1, Second, 10 * Second);
        batcher.Add(Event(1));
        batcher.Next(false);
        batcher.Failed();
        batcher.RetryDue();
        batcher.Next(false);
        batcher.Written();
        Assert.Equal(0, batcher.Failures);
        Assert.Equal(0, batcher.Count);
        Assert.True(batcher.HasRoom);
        batcher.Add(Event(2));
        Assert.Equal(AuditStep.Write, batcher.Next(false));
        Assert.Equal(Second, batcher.Failed());
    }
}
