using Sark.Actors.Events;

namespace Sark.Actors.Tests;

public sealed class EventJournalSpecs
{
    [Fact]
    public void Events_get_increasing_ids_and_are_read_after_an_id()
    {
        var journal = new EventJournal(capacity: 8);
        for (var i = 1; i <= 5; i++)
            Assert.Equal(i, journal.Append("tick", $"{{\"n\":{i}}}"));

        var read = new List<JournalEntry>();
        Assert.Equal(3, journal.Read(2, read, 100, out var gap));

        Assert.False(gap);
        Assert.Equal([3L, 4L, 5L], read.Select(e => e.Id));
        Assert.Equal("{\"n\":3}", read[0].Data);
        Assert.Equal(5, journal.LastId);
    }

    [Fact]
    public void A_reader_behind_the_ring_is_told_of_the_gap_and_gets_what_is_held()
    {
        var journal = new EventJournal(capacity: 4);
        for (var i = 1; i <= 10; i++)
            journal.Append("tick", "{}");

        var read = new List<JournalEntry>();
        journal.Read(1, read, 100, out var gap);

        Assert.True(gap);
        Assert.Equal(7, journal.FirstId);
        Assert.Equal([7L, 8L, 9L, 10L], read.Select(e => e.Id));
    }

    [Fact]
    public void Typed_data_is_serialized_when_first_read()
    {
        var journal = new EventJournal();
        NodeEvents.Invocation(journal, "r-1", "demo", "echo", "ok", TimeSpan.FromMilliseconds(1.5));

        var read = new List<JournalEntry>();
        journal.Read(0, read, 10, out _);

        var entry = Assert.Single(read);
        Assert.Equal(GatewayEventTypes.Invocation, entry.Type);
        Assert.Equal("""{"request_id":"r-1","server":"demo","tool":"echo","outcome":"ok","duration_ms":1.5}""", entry.Data);
    }

    [Fact]
    public async Task A_waiting_reader_wakes_on_the_next_append_and_not_before()
    {
        var journal = new EventJournal();
        journal.Append("a", "{}");
        Assert.True(journal.WaitAsync(0, CancellationToken.None).IsCompleted);

        var waiting = journal.WaitAsync(1, CancellationToken.None);
        Assert.False(waiting.IsCompleted);
        journal.Append("b", "{}");
        await waiting.WaitAsync(TimeSpan.FromSeconds(5));

        using var cancelled = new CancellationTokenSource();
        var stopped = journal.WaitAsync(2, cancelled.Token);
        await cancelled.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => stopped);
    }
}
