using System.Globalization;
using System.Text.Json;
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

    [Theory]
    [InlineData("r-1", "demo", "echo", "ok")]
    [InlineData("r-\"quoted\"", "dé<mo>", "tool & 'more' 🔧", "upstream_error")]
    [InlineData("", "s", "t", "")]
    public void An_invocation_held_as_text_reads_as_the_serializer_writes_it(string requestId, string server, string tool, string outcome)
    {
        var journal = new EventJournal(capacity: 4);
        var invocation = new InvocationEvent(requestId, server, tool, outcome, 12.345);
        journal.AppendInvocation(invocation);

        var read = new List<JournalEntry>();
        journal.Read(0, read, 10, out _);

        var entry = Assert.Single(read);
        Assert.Equal(GatewayEventTypes.Invocation, entry.Type);
        Assert.Equal(JsonSerializer.Serialize(invocation, EventJsonContext.Default.InvocationEvent), entry.Data);
    }

    [Fact]
    public void An_invocation_too_long_for_its_place_keeps_an_object_and_reads_the_same()
    {
        var journal = new EventJournal(capacity: 4);
        var longTool = new string('t', EventJournal.TextBytes);
        var invocation = new InvocationEvent("r-1", "demo", longTool, "ok", 1);
        journal.AppendInvocation(invocation);
        journal.AppendInvocation(invocation with { Tool = "echo" });

        var read = new List<JournalEntry>();
        journal.Read(0, read, 10, out _);

        Assert.Equal(2, read.Count);
        Assert.Contains(longTool, read[0].Data, StringComparison.Ordinal);
        Assert.Contains("\"tool\":\"echo\"", read[1].Data, StringComparison.Ordinal);
    }

    [Fact]
    public void An_invocation_is_rendered_once_for_every_reader_and_the_ring_wraps_over_it()
    {
        var journal = new EventJournal(capacity: 3);
        journal.AppendInvocation(new InvocationEvent("r-1", "demo", "echo", "ok", 1));

        var first = new List<JournalEntry>();
        var second = new List<JournalEntry>();
        journal.Read(0, first, 10, out _);
        journal.Read(0, second, 10, out _);
        Assert.Same(first[0].Data, second[0].Data);

        for (var i = 2; i <= 5; i++)
            journal.AppendInvocation(new InvocationEvent($"r-{i}", "demo", "echo", "ok", i));
        var after = new List<JournalEntry>();
        journal.Read(0, after, 10, out var gap);

        Assert.True(gap);
        Assert.Equal([3L, 4L, 5L], after.Select(e => e.Id));
        Assert.Equal(["r-3", "r-4", "r-5"], after.Select(e => JsonDocument.Parse(e.Data).RootElement.GetProperty("request_id").GetString()));
    }

    [Fact]
    public async Task Readers_never_see_an_invocation_torn_by_writers_wrapping_the_ring()
    {
        // A small ring and two writers, so that the ring wraps over events while readers copy them.
        var journal = new EventJournal(capacity: 8);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(3));
        var writers = Enumerable.Range(0, 2).Select(w => Task.Run(() =>
        {
            for (var n = 0; n < 50_000 && !stop.IsCancellationRequested; n++)
                journal.AppendInvocation(new InvocationEvent($"r-{w}-{n}", $"server-{w}", $"tool-{w}-{n}", "ok", n));
        })).ToArray();

        var checkedEvents = 0;
        var after = 0L;
        var read = new List<JournalEntry>();
        while (!Task.WhenAll(writers).IsCompleted && checkedEvents < 200_000)
        {
            read.Clear();
            journal.Read(after, read, 64, out _);
            foreach (var entry in read)
            {
                var root = JsonDocument.Parse(entry.Data).RootElement;
                var requestId = root.GetProperty("request_id").GetString()!;
                Assert.Equal(requestId.Replace("r-", "tool-", StringComparison.Ordinal), root.GetProperty("tool").GetString());
                Assert.Equal("server-" + requestId.Split('-')[1], root.GetProperty("server").GetString());
                Assert.Equal(double.Parse(requestId.Split('-')[2], CultureInfo.InvariantCulture), root.GetProperty("duration_ms").GetDouble());
                Assert.True(entry.Id > after);
                after = entry.Id;
                checkedEvents++;
            }
        }

        await Task.WhenAll(writers);
        Assert.True(checkedEvents > 0);
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
