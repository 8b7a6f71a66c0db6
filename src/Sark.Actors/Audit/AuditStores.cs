namespace Sark.Actors.Audit;

/// <summary>Creates the configured <see cref="IAuditStore"/>.</summary>
public static class AuditStores
{
    /// <summary>The store <paramref name="options"/> names; a relative SQLite path is resolved against <paramref name="workingDirectory"/> (default: the current directory).</summary>
    public static IAuditStore Create(AuditOptions options, string? workingDirectory = null) => options.Store switch
    {
        AuditStoreKind.Postgres => new PostgresAuditStore(options.PostgresConnectionString
            ?? throw new InvalidOperationException("sark.audit.postgres.connection-string is not set.")),
        _ => new SqliteAuditStore(options.ResolveSqlitePath(workingDirectory)),
    };
}
