using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Akka.Actor;
using Akka.Configuration;
using Sark.Actors.Audit;
using Sark.Actors.Telemetry;
using Xunit.Abstractions;

namespace Sark.Integration.Tests.Audit;

/// <summary>
/// The same specs against each real store: round trip, every query filter, and 20,000 events
/// recorded through <see cref="AuditLog"/> and its writer, then a clean coordinated shutdown.
/// </summary>
public abstract class AuditStoreSpecs(ITestOutputHelper output) : IAsyncLifetime
{
    protected static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    private static readonly DateTimeOffset T0 = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);

    protected ITestOutputHelper Output { get; } = output;

    /// <summary>A fresh, empty store (not initialized).</summary>
    protected abstract Task<IAuditStore> NewStoreAsync();

    [Fact]
    public async Task Written_events_come_back_with_every_field_and_increasing_ids()
    {
        await using var store = await NewStoreAsync();
        await store.InitializeAsync(CancellationToken.None);
        var decision = AuditEvent.ForDecision("req-1", "alice", "files", "read", allow: true, "role reader", "sha256:aa", "trace-1", "local", T0.AddMilliseconds(123));
        var outcome = AuditEvent.ForOutcome("req-1", "alice", "files", "read", AuditOutcomes.ToolError, 12.25, "local", "sha256:aa", "trace-1", "bad path", T0.AddSeconds(1));
        var written = await store.WriteBatchAsync([decision, outcome], CancellationToken.None);
        var again = await store.WriteBatchAsync([decision with { RequestId = "req-2", Arguments = "{\"a\":1}" }], CancellationToken.None);

        Assert.True(written[0].Id > 0);
        Assert.Equal(written[0].Id + 1, written[1].Id);
        Assert.True(again[0].Id > written[1].Id);
        var read = await store.QueryAsync(new AuditQuery(), CancellationToken.None);
        Assert.Equal([.. written, .. again], read);
        Assert.Equal(T0.AddMilliseconds(123), read[0].Timestamp);
        Assert.Null(read[1].Decision);
        Assert.Equal("{\"a\":1}", read[2].Arguments);
    }

    [Fact]
    public async Task A_batch_that_fails_part_way_leaves_no_row_and_its_retry_writes_it_once()
    {
        await using var store = await NewStoreAsync();
        await store.InitializeAsync(CancellationToken.None);
        var good = Enumerable.Range(0, 20).Select(i => AuditEvent.ForDecision($"req-{i}", "alice", "files", "read", true, "ok")).ToList();
        var broken = good.Take(15).Append(good[15] with { EventType = null! }).Concat(good.Skip(16)).ToList();

        await Assert.ThrowsAnyAsync<Exception>(() => store.WriteBatchAsync(broken, CancellationToken.None));
        Assert.Empty(await store.QueryAsync(new AuditQuery(), CancellationToken.None));

        await store.InitializeAsync(CancellationToken.None); // what the writer does before a retry
        var written = await store.WriteBatchAsync(good, CancellationToken.None);
        var rows = await store.QueryAsync(new AuditQuery(), CancellationToken.None);
        Assert.Equal(good.Select(e => e.RequestId), rows.Select(e => e.RequestId));
        Assert.Equal(written.Select(e => e.Id), rows.Select(e => e.Id));
    }

    [Fact]
    public async Task Each_query_filter_selects_exactly_the_matching_events()
    {
        await using var store = await NewStoreAsync();
        await store.InitializeAsync(CancellationToken.None);
        var events = new List<AuditEvent>();
        for (var i = 0; i < 30; i++)
        {
            events.Add(AuditEvent.ForDecision(
                $"req-{i}", i % 3 == 0 ? "alice" : "bob", i % 2 == 0 ? "files" : "git", "t", allow: i % 5 != 0, "r", timestamp: T0.AddSeconds(i)));
        }

        events.Add(AuditEvent.ForOutcome("req-out", "alice", "files", "t", AuditOutcomes.Ok, 1, timestamp: T0.AddSeconds(40)));
        var written = await store.WriteBatchAsync(events, CancellationToken.None);

        async Task<string[]> Ids(AuditQuery q) => [.. (await store.QueryAsync(q, CancellationToken.None)).Select(e => e.RequestId)];
        static string[] Expect(IEnumerable<AuditEvent> es) => [.. es.Select(e => e.RequestId)];

        Assert.Equal(Expect(written.Where(e => e.Timestamp >= T0.AddSeconds(25))), await Ids(new AuditQuery { Since = T0.AddSeconds(25) }));
        Assert.Equal(Expect(written.Where(e => e.Id > written[9].Id)), await Ids(new AuditQuery { AfterId = written[9].Id }));
        Assert.Equal(Expect(written.Where(e => e.SubjectId == "alice")), await Ids(new AuditQuery { Subject = "alice" }));
        Assert.Equal(Expect(written.Where(e => e.ServerName == "git")), await Ids(new AuditQuery { Server = "git" }));
        Assert.Equal(Expect(written.Where(e => e.Decision == "deny")), await Ids(new AuditQuery { Decision = "deny" }));
        Assert.Equal(Expect(written.Take(7)), await Ids(new AuditQuery { Limit = 7 }));
        Assert.Equal(
            Expect(written.Where(e => e.SubjectId == "bob" && e.ServerName == "files" && e.Decision == "allow" && e.Timestamp >= T0.AddSeconds(10)).Take(3)),
            await Ids(new AuditQuery { Subject = "bob", Server = "files", Decision = "allow", Since = T0.AddSeconds(10), Limit = 3 }));
        Assert.Empty(await Ids(new AuditQuery { Subject = "nobody" }));
    }

    [Fact]
    public async Task Twenty_thousand_events_recorded_then_a_clean_shutdown_leave_exactly_twenty_thousand_rows()
    {
        const int Total = 20_000;
        var store = await NewStoreAsync();
        await using var log = new AuditLog(new AuditOptions { BatchMaxSize = 1000, QueueCapacity = 100_000, FlushTimeout = Bound }, store);
        var system = ActorSystem.Create("audit-spec", ConfigurationFactory.ParseString("""
            akka.loglevel = INFO
            akka.coordinated-shutdown.phases.before-actor-system-terminate.timeout = 60s
            akka.coordinated-shutdown.exit-clr = off
            """));
        system.ActorOf(AuditWriter.Props(log), "audit");
        log.FlushOnShutdown(system);

        var clock = Stopwatch.StartNew();
        var accepted = 0;
        await Task.WhenAll(Enumerable.Range(0, 4).Select(p => Task.Run(async () =>
        {
            for (var i = p; i < Total; i += 4)
            {
                if (await log.RecordAsync(AuditEvent.ForOutcome($"req-{i}", "alice", "files", "read", AuditOutcomes.Ok, 1)))
                    Interlocked.Increment(ref accepted);
            }
        })));
        var recorded = clock.Elapsed;
        await CoordinatedShutdown.Get(system).Run(CoordinatedShutdown.UnknownReason.Instance).WaitAsync(Bound);
        await system.WhenTerminated.WaitAsync(Bound);
        Output.WriteLine($"recorded {Total} in {recorded.TotalMilliseconds:0} ms, all written at {clock.Elapsed.TotalMilliseconds:0} ms");

        Assert.Equal(Total, accepted);
        Assert.Equal(0, log.Dropped);
        var rows = await ReadAllAsync(store);
        Assert.Equal(Total, rows.Count);
        Assert.Equal(Total, rows.Select(e => e.RequestId).Distinct().Count());
        Assert.True(rows.Zip(rows.Skip(1)).All(pair => pair.First.Id < pair.Second.Id));
    }

    /// <summary>Every row, paging by id.</summary>
    protected static async Task<List<AuditEvent>> ReadAllAsync(IAuditStore store)
    {
        var all = new List<AuditEvent>();
        long? after = null;
        while (true)
        {
            var page = await store.QueryAsync(new AuditQuery { AfterId = after, Limit = AuditQuery.MaxLimit }, CancellationToken.None);
            all.AddRange(page);
            if (page.Count < AuditQuery.MaxLimit)
                return all;
            after = page[^1].Id;
        }
    }

    public virtual Task InitializeAsync() => Task.CompletedTask;

    public virtual Task DisposeAsync() => Task.CompletedTask;
}
