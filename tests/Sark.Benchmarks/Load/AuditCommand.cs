using System.Diagnostics;
using Akka.Actor;
using Sark.Actors.Audit;
using Sark.Integration.Tests.Infrastructure;

namespace Sark.Benchmarks.Load;

/// <summary>
/// Sustained audit throughput: P producers record N events through <see cref="AuditLog"/> as fast
/// as it takes them (back-pressure on, the default queue of 100,000), into a real store, and the
/// clock stops when <see cref="AuditLog.FlushAsync"/> reports every event written. Then the rows
/// are counted. SQLite: a temporary file (WAL, synchronous = FULL). PostgreSQL: <c>--pg</c> names a
/// database, or a private server is started from /usr/lib/postgresql/*/bin with fsync on.
/// </summary>
internal static class AuditCommand
{
    public const string Command = "audit";

    public static async Task<int> RunAsync(Args args)
    {
        var storeName = args.String("--store") ?? "sqlite";
        var events = args.Int("--events", 200_000, 1, 100_000_000);
        var producers = args.Int("--producers", 4, 1, 256);
        var batch = args.Int("--batch", 1000, 1, 100_000);
        if (storeName is not ("sqlite" or "postgres"))
            throw new ArgumentException($"--store must be sqlite or postgres, not '{storeName}'.");

        PostgresServer? server = null;
        string? dir = null;
        try
        {
            IAuditStore store;
            string where;
            if (storeName == "sqlite")
            {
                dir = Path.Combine(Path.GetTempPath(), "sark-audit-bench-" + Guid.NewGuid().ToString("N")[..8]);
                store = new SqliteAuditStore(Path.Combine(dir, "audit.db"));
                where = "SQLite file in " + Path.GetTempPath() + " (WAL, synchronous = FULL)";
            }
            else if (args.String("--pg") is { } connectionString)
            {
                store = new PostgresAuditStore(connectionString);
                where = "PostgreSQL from --pg";
            }
            else
            {
                server = await PostgresServer.StartNewAsync(fsync: true).ConfigureAwait(false);
                store = new PostgresAuditStore(await server.CreateDatabaseAsync("audit_bench").ConfigureAwait(false));
                where = $"private PostgreSQL server on 127.0.0.1:{server.Port} (fsync on)";
            }

            if (args.String("--direct") is not null)
            {
                // Diagnostic: the store alone, batches written back to back, no log and no actor.
                await store.InitializeAsync(CancellationToken.None).ConfigureAwait(false);
                var rows0 = Enumerable.Range(0, batch).Select(i => AuditEvent.ForOutcome($"d-{i}", "bench-user", "files", "read", AuditOutcomes.Ok, 1.25,
                    upstream: "local", argumentsHash: "sha256:0f343b0931126a20f133d67c2b018a3b5e8a0d6f5c6e2f1d4a0b3c2d1e0f9a8b")).ToArray();
                var sw = Stopwatch.StartNew();
                for (var n = 0; n < events; n += batch)
                    await store.WriteBatchAsync(rows0, CancellationToken.None).ConfigureAwait(false);
                Console.WriteLine($"direct {storeName}: {events / sw.Elapsed.TotalSeconds:0} rows/s");
                await store.DisposeAsync().ConfigureAwait(false);
                return 0;
            }

            var warmup = Math.Min(events, 5_000);
            var (warmupRate, _) = await MeasureAsync(store, warmup, producers, batch, "w").ConfigureAwait(false);
            var (rate, recorded) = await MeasureAsync(store, events, producers, batch, "m").ConfigureAwait(false);
            var rows = await CountAsync(store).ConfigureAwait(false);
            await store.DisposeAsync().ConfigureAwait(false);

            Console.WriteLine($"## audit: {events} events through AuditLog into {storeName}, {producers} producers, batch.max-size {batch}");
            Console.WriteLine();
            Console.WriteLine(Machine.Describe());
            Console.WriteLine();
            Console.WriteLine($"store: {where}");
            Console.WriteLine();
            Console.WriteLine("| store | events | recorded/s (enqueue) | written/s (sustained, to flush) | rows | missing |");
            Console.WriteLine("|---|---:|---:|---:|---:|---:|");
            Console.WriteLine($"| {storeName} | {events} | {recorded:0} | {rate:0} | {rows} | {warmup + events - rows} |");
            Console.WriteLine();
            Console.WriteLine($"(warm-up of {warmup} events first: {warmupRate:0}/s; its rows are counted above)");
            return rows == warmup + events ? 0 : 1;
        }
        finally
        {
            if (server is not null)
                await server.DisposeAsync().ConfigureAwait(false);
            if (dir is not null && Directory.Exists(dir))
            {
                Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
                Directory.Delete(dir, recursive: true);
            }
        }
    }

    /// <summary>Events per second until the flush completes, and events per second of enqueueing alone.</summary>
    private static async Task<(double Written, double Recorded)> MeasureAsync(IAuditStore store, int events, int producers, int batch, string prefix)
    {
        var options = new AuditOptions { BatchMaxSize = batch, EnqueueTimeout = TimeSpan.FromMinutes(5), FlushTimeout = TimeSpan.FromMinutes(10) };
        var log = new AuditLog(options, store);
        var system = ActorSystem.Create("audit-bench", "akka.loglevel = WARNING");
        try
        {
            system.ActorOf(AuditWriter.Props(log), "audit");
            var clock = Stopwatch.StartNew();
            await Task.WhenAll(Enumerable.Range(0, producers).Select(p => Task.Run(async () =>
            {
                for (var i = p; i < events; i += producers)
                {
                    var e = AuditEvent.ForOutcome($"{prefix}-{i}", "bench-user", "files", "read", AuditOutcomes.Ok, 1.25,
                        upstream: "local", argumentsHash: "sha256:0f343b0931126a20f133d67c2b018a3b5e8a0d6f5c6e2f1d4a0b3c2d1e0f9a8b");
                    if (!await log.RecordAsync(e).ConfigureAwait(false))
                        throw new InvalidOperationException("An event was dropped.");
                }
            }))).ConfigureAwait(false);
            var recorded = clock.Elapsed;
            if (!await log.FlushAsync(options.FlushTimeout).ConfigureAwait(false))
                throw new TimeoutException("The flush did not finish.");
            var written = clock.Elapsed;
            if (log.Dropped != 0)
                throw new InvalidOperationException($"{log.Dropped} events were dropped.");
            return (events / written.TotalSeconds, events / recorded.TotalSeconds);
        }
        finally
        {
            await system.Terminate().ConfigureAwait(false);
        }
    }

    private static async Task<long> CountAsync(IAuditStore store)
    {
        long count = 0;
        long? after = null;
        while (true)
        {
            var page = await store.QueryAsync(new AuditQuery { AfterId = after, Limit = AuditQuery.MaxLimit }, CancellationToken.None).ConfigureAwait(false);
            count += page.Count;
            if (page.Count < AuditQuery.MaxLimit)
                return count;
            after = page[^1].Id;
        }
    }
}
