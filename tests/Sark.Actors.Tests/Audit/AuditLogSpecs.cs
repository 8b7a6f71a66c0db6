using System.Text.Json;
using Akka.Configuration;
using Sark.Actors.Audit;
using Sark.Actors.Configuration;
using Sark.Actors.Errors;

namespace Sark.Actors.Tests.Audit;

/// <summary>The producer side without a writer: overflow, time-outs, arguments; the options and the JSON shape.</summary>
public sealed class AuditLogSpecs : IAsyncLifetime
{
    private readonly InMemoryAuditStore _store = new();
    private readonly AuditMeter _dropped = new();
    private readonly List<AuditLog> _logs = [];

    private AuditLog Log(AuditOptions options)
    {
        var log = new AuditLog(options, _store);
        _logs.Add(log);
        return log;
    }

    private static AuditEvent Event(int i) => AuditEvent.ForDecision($"req-{i}", "alice", "files", "read", allow: false, "no role");

    [Fact]
    public async Task Drop_newest_counts_exactly_the_events_beyond_the_queue_capacity()
    {
        var log = Log(new AuditOptions { QueueCapacity = 5, Overflow = AuditOverflow.DropNewest });
        var accepted = 0;
        for (var i = 0; i < 8; i++)
            accepted += await log.RecordAsync(Event(i)) ? 1 : 0;

        Assert.Equal(5, accepted);
        Assert.Equal(5, log.QueueDepth);
        Assert.Equal(3, log.Dropped);
        Assert.Equal(3, _dropped[AuditTelemetry.DropReasons.Overflow]);
    }

    [Fact]
    public async Task Back_pressure_drops_and_counts_an_event_that_finds_no_room_within_the_enqueue_timeout()
    {
        var log = Log(new AuditOptions { QueueCapacity = 1, EnqueueTimeout = TimeSpan.FromMilliseconds(100) });
        Assert.True(await log.RecordAsync(Event(0)));

        var second = log.RecordAsync(Event(1)).AsTask();
        Assert.False(second.IsCompleted);
        Assert.False(await second.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(1, _dropped[AuditTelemetry.DropReasons.Timeout]);
        Assert.Equal(1, log.Dropped);
    }

    [Fact]
    public async Task A_producer_whose_token_is_cancelled_while_it_waits_has_its_event_counted_as_dropped()
    {
        var log = Log(new AuditOptions { QueueCapacity = 1, EnqueueTimeout = TimeSpan.FromSeconds(30) });
        await log.RecordAsync(Event(0));
        using var cts = new CancellationTokenSource();
        var waiting = log.RecordAsync(Event(1), cts.Token).AsTask();
        await cts.CancelAsync();
        Assert.False(await waiting.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(1, _dropped[AuditTelemetry.DropReasons.Cancelled]);
    }

    [Fact]
    public async Task Arguments_in_clear_are_stripped_unless_store_arguments_is_on()
    {
        var stripping = Log(new AuditOptions());
        var keeping = Log(new AuditOptions { StoreArguments = true });
        var e = Event(0) with { Arguments = """{"path":"/etc/passwd"}""", ArgumentsHash = "sha256:ab" };
        await stripping.RecordAsync(e);
        await keeping.RecordAsync(e);

        Assert.True(stripping.Reader.TryRead(out var stripped));
        Assert.True(keeping.Reader.TryRead(out var kept));
        Assert.Null(stripped!.Arguments);
        Assert.Equal("sha256:ab", stripped.ArgumentsHash);
        Assert.Equal(e.Arguments, kept!.Arguments);
    }

    [Fact]
    public async Task A_disabled_log_accepts_events_without_queueing_them_and_flushes_at_once()
    {
        var log = Log(new AuditOptions { Enabled = false });
        Assert.True(await log.RecordAsync(Event(0)));
        Assert.Equal(0, log.QueueDepth);
        Assert.True(await log.FlushAsync(TimeSpan.FromSeconds(1)));
    }

    [Fact]
    public void The_defaults_come_from_reference_conf()
    {
        var options = AuditOptions.Read(ConfigurationFactory.Empty);
        Assert.True(options.Enabled);
        Assert.Equal(AuditStoreKind.Sqlite, options.Store);
        Assert.Equal("data/audit.db", options.SqlitePath);
        Assert.Equal(100_000, options.QueueCapacity);
        Assert.Equal(AuditOverflow.Backpressure, options.Overflow);
        Assert.Equal(TimeSpan.FromSeconds(5), options.EnqueueTimeout);
        Assert.Equal(1000, options.BatchMaxSize);
        Assert.Equal(TimeSpan.FromSeconds(1), options.BatchInterval);
        Assert.Equal(TimeSpan.FromSeconds(1), options.RetryMin);
        Assert.Equal(TimeSpan.FromSeconds(30), options.RetryMax);
        Assert.False(options.StoreArguments);
        Assert.Equal(Path.Combine("/srv/node", "data/audit.db"), options.ResolveSqlitePath("/srv/node"));
    }

    [Fact]
    public void A_node_file_overrides_the_defaults()
    {
        var options = AuditOptions.Read(ConfigurationFactory.ParseString("""
            sark.audit { store = postgres, postgres.connection-string = "Host=db", overflow = drop-newest, batch.max-size = 500, retry.max = 5s }
            """));
        Assert.Equal(AuditStoreKind.Postgres, options.Store);
        Assert.Equal("Host=db", options.PostgresConnectionString);
        Assert.Equal(AuditOverflow.DropNewest, options.Overflow);
        Assert.Equal(500, options.BatchMaxSize);
        Assert.Equal(TimeSpan.FromSeconds(5), options.RetryMax);
    }

    [Theory]
    [InlineData("sark.audit.store = mysql", "sark.audit.store")]
    [InlineData("sark.audit.overflow = drop-oldest", "sark.audit.overflow")]
    [InlineData("sark.audit.batch.max-size = 0", "sark.audit.batch.max-size")]
    [InlineData("sark.audit.batch.interval = soon", "sark.audit.batch.interval")]
    [InlineData("sark.audit.retry { min = 10s, max = 1s }", "sark.audit.retry.min")]
    [InlineData("sark.audit.store-arguments = maybe", "sark.audit.store-arguments")]
    public void An_invalid_value_is_an_error_that_names_the_key(string hocon, string key)
    {
        var ex = Assert.Throws<SarkConfigException>(() => AuditOptions.Read(ConfigurationFactory.ParseString(hocon)));
        Assert.StartsWith(key + ":", ex.Message);
    }

    [Fact]
    public void Postgres_without_a_connection_string_is_an_error_that_names_the_key()
    {
        if (Environment.GetEnvironmentVariable("SARK_AUDIT_PG") is { Length: > 0 })
            return; // the environment supplies one
        var ex = Assert.Throws<SarkConfigException>(() => AuditOptions.Read(ConfigurationFactory.ParseString("sark.audit.store = postgres")));
        Assert.StartsWith("sark.audit.postgres.connection-string:", ex.Message);
    }

    [Fact]
    public void A_node_file_may_take_the_connection_string_from_the_environment()
    {
        Environment.SetEnvironmentVariable("SARK_AUDIT_SPEC_PG", "Host=from-env");
        var hocon = """sark.audit { store = postgres, postgres.connection-string = ${?SARK_AUDIT_SPEC_PG} }""";
        var options = AuditOptions.Read(ConfigurationFactory.ParseString(SarkConfigLoader.SubstituteEnvironment(hocon)));
        Assert.Equal("Host=from-env", options.PostgresConnectionString);

        var unset = """sark.audit { store = postgres, postgres.connection-string = ${?SARK_AUDIT_SPEC_UNSET} }""";
        if (Environment.GetEnvironmentVariable("SARK_AUDIT_PG") is null)
        {
            var ex = Assert.Throws<SarkConfigException>(() => AuditOptions.Read(ConfigurationFactory.ParseString(SarkConfigLoader.SubstituteEnvironment(unset))));
            Assert.StartsWith("sark.audit.postgres.connection-string:", ex.Message);
        }
    }

    [Fact]
    public void The_json_shape_is_snake_case_with_utc_millisecond_timestamps_and_no_arguments()
    {
        var e = AuditEvent.ForOutcome("req-1", "alice", "files", "read", AuditOutcomes.From(SarkErrorCode.UpstreamTimeout), 12.5,
            upstream: "local", argumentsHash: "sha256:00", traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
            timestamp: new DateTimeOffset(2026, 1, 2, 3, 4, 5, 678, TimeSpan.FromHours(2)).AddTicks(9999)) with { Id = 42 };

        var json = JsonSerializer.Serialize(e, AuditJsonContext.Default.AuditEvent);
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        Assert.Equal(42, root.GetProperty("id").GetInt64());
        Assert.Equal("outcome", root.GetProperty("event_type").GetString());
        Assert.Equal("req-1", root.GetProperty("request_id").GetString());
        Assert.Equal("2026-01-02T01:04:05.678Z", root.GetProperty("timestamp").GetString());
        Assert.Equal("upstream_timeout", root.GetProperty("outcome").GetString());
        Assert.Equal(JsonValueKind.Null, root.GetProperty("decision").ValueKind);
        Assert.Equal(12.5, root.GetProperty("duration_ms").GetDouble());
        Assert.Equal("sha256:00", root.GetProperty("arguments_hash").GetString());
        Assert.Equal("4bf92f3577b34da6a3ce929d0e0e4736", root.GetProperty("trace_id").GetString());
        Assert.False(root.TryGetProperty("arguments", out _));
        Assert.Equal(e, JsonSerializer.Deserialize(json, AuditJsonContext.Default.AuditEvent));
    }

    [Fact]
    public void A_query_outside_its_limits_is_an_invalid_request_naming_the_parameter()
    {
        Assert.StartsWith("limit:", Assert.Throws<SarkInvalidRequestException>(() => new AuditQuery { Limit = 1001 }.Validate()).Message);
        Assert.StartsWith("decision:", Assert.Throws<SarkInvalidRequestException>(() => new AuditQuery { Decision = "maybe" }.Validate()).Message);
        Assert.Equal(100, new AuditQuery().Validate().Limit);
    }

    [Fact]
    public void Equal_arguments_hash_equally_and_the_hash_names_its_algorithm()
    {
        var a = AuditEvent.HashArguments("""{"path":"/tmp"}"""u8);
        Assert.Equal(a, AuditEvent.HashArguments("""{"path":"/tmp"}"""u8));
        Assert.NotEqual(a, AuditEvent.HashArguments("""{"path":"/etc"}"""u8));
        Assert.Matches("^sha256:[0-9a-f]{64}$", a);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        _dropped.Dispose();
        foreach (var log in _logs)
            await log.DisposeAsync();
    }
}
