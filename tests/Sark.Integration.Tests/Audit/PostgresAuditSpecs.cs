using Sark.Actors.Tests.Audit;
using System.Diagnostics;
using Akka.Actor;
using Akka.Configuration;
using Sark.Actors.Audit;
using Sark.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Sark.Integration.Tests.Audit;

/// <summary>One private PostgreSQL server for the PostgreSQL audit specs; each spec gets its own database.</summary>
public sealed class PostgresFixture : IAsyncLifetime
{
    internal PostgresServer Server { get; private set; } = null!;

    public async Task InitializeAsync() => Server = await PostgresServer.StartNewAsync();

    public async Task DisposeAsync()
    {
        if (Server is not null)
            await Server.DisposeAsync();
    }
}

/// <summary>
/// The audit specs against a real PostgreSQL server (started by <see cref="PostgresFixture"/>),
/// and what happens when that server goes away for a while in the middle of a run.
/// </summary>
public sealed class PostgresAuditSpecs(PostgresFixture postgres, ITestOutputHelper output)
    : AuditStoreSpecs(output), IClassFixture<PostgresFixture>
{
    private readonly List<ActorSystem> _systems = [];

    protected override async Task<IAuditStore> NewStoreAsync() =>
        new PostgresAuditStore(await postgres.Server.CreateDatabaseAsync("audit_" + Guid.NewGuid().ToString("N")[..12]));

    private (AuditLog Log, IActorRef Writer) StartWriter(IAuditStore store, AuditOptions options)
    {
        var log = new AuditLog(options, store);
        var system = ActorSystem.Create("audit-pg-spec", ConfigurationFactory.ParseString("akka.loglevel = INFO"));
        _systems.Add(system);
        return (log, system.ActorOf(AuditWriter.Props(log), "audit"));
    }

    private static async Task UntilAsync(Func<Task<bool>> done, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!await done())
        {
            Assert.True(clock.Elapsed < Bound, $"{what} did not happen within {Bound.TotalSeconds:0}s.");
            await Task.Delay(100);
        }
    }

    [Fact]
    public async Task Events_recorded_while_PostgreSQL_is_stopped_for_10s_are_buffered_and_all_written_after_it_returns()
    {
        using var errors = new AuditMeter("sark.audit.write_errors");
        using var dropped = new AuditMeter("sark.audit.dropped");
        var store = await NewStoreAsync();
        var (log, _) = StartWriter(store, new AuditOptions
        {
            BatchMaxSize = 100,
            BatchInterval = TimeSpan.FromMilliseconds(100),
            RetryMin = TimeSpan.FromMilliseconds(250),
            RetryMax = TimeSpan.FromSeconds(1),
            FlushTimeout = Bound,
        });
        await using var _ = log;
        var next = 0;
        async Task RecordAsync(int count)
        {
            for (var i = 0; i < count; i++)
                Assert.True(await log.RecordAsync(AuditEvent.ForOutcome($"req-{next++}", "alice", "files", "read", AuditOutcomes.Ok, 1)));
        }

        await RecordAsync(500);
        await UntilAsync(async () => (await ReadAllAsync(store)).Count == 500, "the first 500 rows");

        postgres.Server.Stop();
        var down = Stopwatch.StartNew();
        while (down.Elapsed < TimeSpan.FromSeconds(10))
        {
            await RecordAsync(50);
            await Task.Delay(50);
        }

        var recordedWhileDown = next - 500;
        Assert.True(errors.Total >= 1, "The writer never saw the server go away.");
        Assert.True(log.QueueDepth > 0, "Nothing was held while the server was down.");
        await postgres.Server.StartAsync();
        await RecordAsync(500);

        Assert.True(await log.FlushAsync(Bound), "The flush did not finish after the server came back.");
        var rows = await ReadAllAsync(store);
        Output.WriteLine($"{recordedWhileDown} recorded while down; {errors.Total} failed writes; {rows.Count} rows");
        Assert.Equal(next, rows.Count);
        Assert.Equal(Enumerable.Range(0, next).Select(i => $"req-{i}").Order(), rows.Select(e => e.RequestId).Order());
        Assert.Equal(0, dropped.Total);
    }

    [Fact]
    public async Task With_a_small_buffer_in_drop_mode_what_PostgreSQL_could_not_take_is_counted_exactly_as_dropped()
    {
        const int WhileDown = 1000;
        using var dropped = new AuditMeter("sark.audit.dropped");
        var store = await NewStoreAsync();
        var (log, _) = StartWriter(store, new AuditOptions
        {
            QueueCapacity = 50,
            Overflow = AuditOverflow.DropNewest,
            BatchMaxSize = 10,
            BatchInterval = TimeSpan.FromMilliseconds(100),
            RetryMin = TimeSpan.FromMilliseconds(250),
            RetryMax = TimeSpan.FromSeconds(1),
        });
        await using var _ = log;
        for (var i = 0; i < 20; i++)
            Assert.True(await log.RecordAsync(AuditEvent.ForDecision($"up-{i}", "alice", "files", "read", true, "ok")));
        await UntilAsync(async () => (await ReadAllAsync(store)).Count == 20, "the first 20 rows");

        postgres.Server.Stop();
        var accepted = 0;
        for (var i = 0; i < WhileDown; i++)
        {
            if (await log.RecordAsync(AuditEvent.ForDecision($"down-{i}", "alice", "files", "read", true, "ok")))
                accepted++;
            if (i % 100 == 0)
                await Task.Delay(100); // give the writer time to try and fail
        }

        await postgres.Server.StartAsync();
        Assert.True(await log.FlushAsync(Bound));

        var rows = await ReadAllAsync(store);
        Output.WriteLine($"{accepted} of {WhileDown} accepted while down; {dropped.Total} dropped; {rows.Count} rows");
        Assert.InRange(accepted, 50, 60); // the queue, and at most one batch the writer holds
        Assert.Equal(20 + accepted, rows.Count);
        Assert.Equal(WhileDown - accepted, dropped[AuditTelemetry.DropReasons.Overflow]);
        Assert.Equal(WhileDown - accepted, dropped.Total);
        Assert.Equal(WhileDown - accepted, log.Dropped);
    }

    [Fact]
    public async Task The_fixture_stops_the_server_by_pid_and_brings_it_back_on_the_same_port_and_data()
    {
        var connection = await postgres.Server.CreateDatabaseAsync("restart_" + Guid.NewGuid().ToString("N")[..8]);
        var pid = postgres.Server.ProcessId!.Value;
        postgres.Server.Stop();
        Assert.Null(postgres.Server.ProcessId);
        Assert.False(ProcessTools.IsAlive(pid));
        await postgres.Server.StartAsync();
        Assert.NotEqual(pid, postgres.Server.ProcessId);
        await using var store = new PostgresAuditStore(connection);
        await store.InitializeAsync(CancellationToken.None);
    }

    public override async Task DisposeAsync()
    {
        foreach (var system in _systems)
            await system.Terminate().WaitAsync(Bound);
        if (postgres.Server.ProcessId is null)
            await postgres.Server.StartAsync();
    }
}
