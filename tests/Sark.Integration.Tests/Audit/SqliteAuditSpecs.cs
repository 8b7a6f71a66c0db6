using Sark.Actors.Audit;
using Xunit.Abstractions;

namespace Sark.Integration.Tests.Audit;

/// <summary>The audit specs against a real SQLite file in a temporary directory.</summary>
public sealed class SqliteAuditSpecs(ITestOutputHelper output) : AuditStoreSpecs(output)
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "sark-audit-" + Guid.NewGuid().ToString("N")[..12]);

    protected override Task<IAuditStore> NewStoreAsync() =>
        Task.FromResult<IAuditStore>(new SqliteAuditStore(Path.Combine(_dir, "data", $"audit-{Guid.NewGuid():N}.db")));

    [Fact]
    public async Task The_database_is_created_in_wal_mode_with_its_directory()
    {
        var path = Path.Combine(_dir, "nested", "audit.db");
        await using var store = new SqliteAuditStore(path);
        await store.InitializeAsync(CancellationToken.None);
        await store.WriteBatchAsync([AuditEvent.ForDecision("r", "s", "srv", "t", true, "ok")], CancellationToken.None);

        Assert.True(File.Exists(path));
        Assert.True(File.Exists(path + "-wal"));
        Assert.Single(await store.QueryAsync(new AuditQuery(), CancellationToken.None));
    }

    public override Task DisposeAsync()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (Directory.Exists(_dir))
            Directory.Delete(_dir, recursive: true);
        return Task.CompletedTask;
    }
}
