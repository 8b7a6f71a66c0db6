using Akka.Configuration;
using Akka.Configuration.Hocon;
using Sark.Actors.Configuration;

namespace Sark.Actors.Audit;

/// <summary>Which <see cref="IAuditStore"/> a node writes to.</summary>
public enum AuditStoreKind
{
    Sqlite,
    Postgres,
}

/// <summary>What <see cref="AuditLog.RecordAsync"/> does when the queue is full.</summary>
public enum AuditOverflow
{
    /// <summary>The producer waits for room, at most <see cref="AuditOptions.EnqueueTimeout"/>; then the event is dropped, counted and logged.</summary>
    Backpressure,

    /// <summary>The new event is dropped at once and counted in <c>sark.audit.dropped</c>.</summary>
    DropNewest,
}

/// <summary>The <c>sark.audit</c> section (hocon/reference.conf documents every key).</summary>
public sealed record AuditOptions
{
    private const string Root = "sark.audit";

    public bool Enabled { get; init; } = true;

    public AuditStoreKind Store { get; init; } = AuditStoreKind.Sqlite;

    /// <summary>Relative paths are resolved against the node's working directory (<see cref="ResolveSqlitePath"/>).</summary>
    public string SqlitePath { get; init; } = "data/audit.db";

    /// <summary>From <c>postgres.connection-string</c>, or the <c>SARK_AUDIT_PG</c> environment variable when that is empty.</summary>
    public string? PostgresConnectionString { get; init; }

    /// <summary>Events waiting to be written (the writer holds up to one batch more).</summary>
    public int QueueCapacity { get; init; } = 100_000;

    public AuditOverflow Overflow { get; init; } = AuditOverflow.Backpressure;

    public TimeSpan EnqueueTimeout { get; init; } = TimeSpan.FromSeconds(5);

    public int BatchMaxSize { get; init; } = 1000;

    public TimeSpan BatchInterval { get; init; } = TimeSpan.FromSeconds(1);

    public TimeSpan RetryMin { get; init; } = TimeSpan.FromSeconds(1);

    public TimeSpan RetryMax { get; init; } = TimeSpan.FromSeconds(30);

    public bool StoreArguments { get; init; }

    /// <summary>How long the shutdown flush may take (<see cref="AuditLog.FlushAsync"/>).</summary>
    public TimeSpan FlushTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Events a live follower (SSE) may lag behind before its oldest are dropped.</summary>
    public int SubscriberCapacity { get; init; } = 1024;

    /// <summary>The SQLite file's full path, relative paths against <paramref name="workingDirectory"/> (the current directory by default).</summary>
    public string ResolveSqlitePath(string? workingDirectory = null) =>
        Path.GetFullPath(SqlitePath, workingDirectory ?? Environment.CurrentDirectory);

    /// <summary>
    /// Reads <c>sark.audit</c> from a resolved config (the embedded defaults are added as a fallback),
    /// failing with a <see cref="SarkConfigException"/> that names the key.
    /// </summary>
    public static AuditOptions Read(Config config)
    {
        // A config loaded through SarkConfigLoader already falls back to the defaults (and Akka
        // refuses a fallback that is already in the chain).
        var resolved = ReferenceEquals(config, SarkConfigLoader.Defaults) ? config : config.WithFallback(SarkConfigLoader.Defaults);
        var c = resolved.GetConfig(Root)
            ?? throw new SarkConfigException($"{Root}: missing.");
        var options = new AuditOptions
        {
            Enabled = ReadBool(c, "enabled"),
            Store = ReadString(c, "store") switch
            {
                "sqlite" => AuditStoreKind.Sqlite,
                "postgres" => AuditStoreKind.Postgres,
                var other => throw new SarkConfigException($"{Root}.store: '{other}' is not a store; use sqlite or postgres."),
            },
            SqlitePath = ReadString(c, "sqlite.path"),
            PostgresConnectionString = c.GetString("postgres.connection-string", null) is { Length: > 0 } pg
                ? pg
                : Environment.GetEnvironmentVariable("SARK_AUDIT_PG") is { Length: > 0 } env ? env : null,
            QueueCapacity = ReadInt(c, "queue-capacity", 1, 10_000_000),
            Overflow = ReadString(c, "overflow") switch
            {
                "backpressure" => AuditOverflow.Backpressure,
                "drop-newest" => AuditOverflow.DropNewest,
                var other => throw new SarkConfigException($"{Root}.overflow: '{other}' is not an overflow mode; use backpressure or drop-newest."),
            },
            EnqueueTimeout = ReadDuration(c, "enqueue-timeout"),
            BatchMaxSize = ReadInt(c, "batch.max-size", 1, 100_000),
            BatchInterval = ReadDuration(c, "batch.interval", positive: true),
            RetryMin = ReadDuration(c, "retry.min", positive: true),
            RetryMax = ReadDuration(c, "retry.max", positive: true),
            StoreArguments = ReadBool(c, "store-arguments"),
            FlushTimeout = ReadDuration(c, "flush-timeout"),
            SubscriberCapacity = ReadInt(c, "subscriber-capacity", 1, 1_000_000),
        };

        if (options.RetryMin > options.RetryMax)
            throw new SarkConfigException($"{Root}.retry.min: must not exceed retry.max.");
        if (options is { Enabled: true, Store: AuditStoreKind.Postgres, PostgresConnectionString: null })
            throw new SarkConfigException($"{Root}.postgres.connection-string: missing; set it or the SARK_AUDIT_PG environment variable when store = postgres.");
        if (options.SqlitePath.Length == 0)
            throw new SarkConfigException($"{Root}.sqlite.path: must not be empty.");
        return options;
    }

    private static HoconValue Require(Config c, string path)
    {
        var v = c.HasPath(path) ? c.GetValue(path) : null;
        if (v is null || v.IsEmpty)
            throw new SarkConfigException($"{Root}.{path}: missing.");
        return v;
    }

    private static string ReadString(Config c, string path) => Require(c, path).GetString();

    private static bool ReadBool(Config c, string path) => ReadString(c, path) switch
    {
        "true" or "on" or "yes" => true,
        "false" or "off" or "no" => false,
        var text => throw new SarkConfigException($"{Root}.{path}: '{text}' must be true or false."),
    };

    private static int ReadInt(Config c, string path, int min, int max)
    {
        var text = ReadString(c, path);
        if (!int.TryParse(text, out var v) || v < min || v > max)
            throw new SarkConfigException($"{Root}.{path}: '{text}' must be a whole number from {min} to {max}.");
        return v;
    }

    private static TimeSpan ReadDuration(Config c, string path, bool positive = false)
    {
        Require(c, path);
        TimeSpan t;
        try
        {
            t = c.GetTimeSpan(path, null, allowInfinite: false);
        }
        catch (Exception ex)
        {
            throw new SarkConfigException($"{Root}.{path}: '{c.GetString(path)}' is not a duration (for example 30s, 500ms, 2m).", ex);
        }

        if (t < TimeSpan.Zero || (positive && t == TimeSpan.Zero))
            throw new SarkConfigException($"{Root}.{path}: must be {(positive ? "greater than zero" : "zero or more")}.");
        return t;
    }
}
