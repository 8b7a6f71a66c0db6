using System.Text;
using Npgsql;
using NpgsqlTypes;

namespace Sark.Actors.Audit;

/// <summary>
/// The audit store for clusters: a PostgreSQL table shared by every node. A batch is one
/// transaction: ids are reserved from the table's sequence in one round trip, then the rows go
/// in with binary COPY. Connection failures (server down, restarted, unreachable) surface as
/// exceptions; the writer keeps the batch and retries it, and Npgsql's pool replaces broken
/// connections.
/// </summary>
public sealed class PostgresAuditStore : IAuditStore
{
    private const string Schema = """
        CREATE TABLE IF NOT EXISTS audit_events (
            id             BIGSERIAL PRIMARY KEY,
            event_type     TEXT        NOT NULL,
            request_id     TEXT        NOT NULL,
            timestamp      TIMESTAMPTZ NOT NULL,
            subject_id     TEXT,
            server_name    TEXT,
            tool_name      TEXT,
            decision       TEXT,
            reason         TEXT,
            outcome        TEXT,
            duration_ms    DOUBLE PRECISION,
            upstream       TEXT,
            arguments_hash TEXT,
            arguments      TEXT,
            trace_id       TEXT
        );
        CREATE INDEX IF NOT EXISTS ix_audit_events_timestamp  ON audit_events (timestamp);
        CREATE INDEX IF NOT EXISTS ix_audit_events_subject    ON audit_events (subject_id, id);
        CREATE INDEX IF NOT EXISTS ix_audit_events_server     ON audit_events (server_name, id);
        CREATE INDEX IF NOT EXISTS ix_audit_events_decision   ON audit_events (decision, id);
        CREATE INDEX IF NOT EXISTS ix_audit_events_request_id ON audit_events (request_id);
        """;

    // Nodes of a cluster may start together: the schema is created under a transaction-scoped advisory lock.
    private const long SchemaLock = 0x5341524B_41554454; // "SARKAUDT"

    private readonly NpgsqlDataSource _dataSource;
    private volatile bool _schemaReady;

    public PostgresAuditStore(string connectionString)
    {
        _dataSource = NpgsqlDataSource.Create(connectionString);
    }

    public async Task InitializeAsync(CancellationToken ct)
    {
        try
        {
            await CreateSchemaAsync(ct).ConfigureAwait(false);
        }
        catch (NpgsqlException)
        {
            // Idle pooled connections are likely dead too (the server restarted): start fresh.
            _dataSource.Clear();
            throw;
        }
    }

    private async Task CreateSchemaAsync(CancellationToken ct)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(ct).ConfigureAwait(false);
        await using var tx = await connection.BeginTransactionAsync(ct).ConfigureAwait(false);
        await using (var command = new NpgsqlCommand($"SELECT pg_advisory_xact_lock({SchemaLock}); {Schema}", connection, tx))
            await command.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        await tx.CommitAsync(ct).ConfigureAwait(false);
        _schemaReady = true;
    }

    public async Task<IReadOnlyList<AuditEvent>> WriteBatchAsync(IReadOnlyList<AuditEvent> events, CancellationToken ct)
    {
        try
        {
            return await WriteAsync(events, ct).ConfigureAwait(false);
        }
        catch (NpgsqlException)
        {
            _dataSource.Clear();
            throw;
        }
    }

    /// <summary>
    /// Events matching the query. The schema is created first if this store has not done so yet (a
    /// query may come before the first write); a query that meets a connection broken by a server
    /// restart is tried once more on a fresh one.
    /// </summary>
    public async Task<IReadOnlyList<AuditEvent>> QueryAsync(AuditQuery query, CancellationToken ct)
    {
        query.Validate();
        try
        {
            if (!_schemaReady)
                await CreateSchemaAsync(ct).ConfigureAwait(false);
            return await ReadAsync(query, ct).ConfigureAwait(false);
        }
        catch (NpgsqlException ex) when (ex.IsTransient || ex is PostgresException { SqlState: "57P01" or "57P02" or "57P03" })
        {
            _dataSource.Clear();
            if (!_schemaReady)
                await CreateSchemaAsync(ct).ConfigureAwait(false);
            return await ReadAsync(query, ct).ConfigureAwait(false);
        }
    }

    private async Task<IReadOnlyList<AuditEvent>> WriteAsync(IReadOnlyList<AuditEvent> events, CancellationToken ct)
    {
        var written = new AuditEvent[events.Count];
        if (events.Count == 0)
            return written;
        await using var connection = await _dataSource.OpenConnectionAsync(ct).ConfigureAwait(false);
        await using var tx = await connection.BeginTransactionAsync(ct).ConfigureAwait(false);
        await using (var reserve = new NpgsqlCommand(
            "SELECT nextval('audit_events_id_seq') AS id FROM generate_series(1, $1) ORDER BY id", connection, tx))
        {
            reserve.Parameters.Add(new NpgsqlParameter<int> { TypedValue = events.Count });
            await using var reader = await reserve.ExecuteReaderAsync(ct).ConfigureAwait(false);
            var i = 0;
            while (await reader.ReadAsync(ct).ConfigureAwait(false))
            {
                written[i] = events[i] with { Id = reader.GetInt64(0) };
                i++;
            }
        }

        await using (var copy = await connection.BeginBinaryImportAsync(
            $"COPY audit_events (id, {SqliteAuditStore.Columns}) FROM STDIN (FORMAT BINARY)", ct).ConfigureAwait(false))
        {
            foreach (var e in written)
            {
                await copy.StartRowAsync(ct).ConfigureAwait(false);
                await copy.WriteAsync(e.Id, NpgsqlDbType.Bigint, ct).ConfigureAwait(false);
                await copy.WriteAsync(e.EventType, NpgsqlDbType.Text, ct).ConfigureAwait(false);
                await copy.WriteAsync(e.RequestId, NpgsqlDbType.Text, ct).ConfigureAwait(false);
                await copy.WriteAsync(e.Timestamp.UtcDateTime, NpgsqlDbType.TimestampTz, ct).ConfigureAwait(false);
                await Text(copy, e.SubjectId, ct).ConfigureAwait(false);
                await Text(copy, e.ServerName, ct).ConfigureAwait(false);
                await Text(copy, e.ToolName, ct).ConfigureAwait(false);
                await Text(copy, e.Decision, ct).ConfigureAwait(false);
                await Text(copy, e.Reason, ct).ConfigureAwait(false);
                await Text(copy, e.Outcome, ct).ConfigureAwait(false);
                if (e.DurationMs is { } duration)
                    await copy.WriteAsync(duration, NpgsqlDbType.Double, ct).ConfigureAwait(false);
                else
                    await copy.WriteNullAsync(ct).ConfigureAwait(false);
                await Text(copy, e.Upstream, ct).ConfigureAwait(false);
                await Text(copy, e.ArgumentsHash, ct).ConfigureAwait(false);
                await Text(copy, e.Arguments, ct).ConfigureAwait(false);
                await Text(copy, e.TraceId, ct).ConfigureAwait(false);
            }

            await copy.CompleteAsync(ct).ConfigureAwait(false);
        }

        await tx.CommitAsync(ct).ConfigureAwait(false);
        return written;
    }

    private async Task<IReadOnlyList<AuditEvent>> ReadAsync(AuditQuery query, CancellationToken ct)
    {
        await using var command = _dataSource.CreateCommand();
        var sql = new StringBuilder($"SELECT id, {SqliteAuditStore.Columns} FROM audit_events WHERE TRUE");
        if (query.Since is { } since)
        {
            sql.Append(" AND timestamp >= @since");
            command.Parameters.Add(new NpgsqlParameter<DateTime>("since", NpgsqlDbType.TimestampTz) { TypedValue = since.UtcDateTime });
        }

        if (query.AfterId is { } after)
        {
            sql.Append(" AND id > @after");
            command.Parameters.Add(new NpgsqlParameter<long>("after", after));
        }

        AddEquals(sql, command, "subject_id", "subject", query.Subject);
        AddEquals(sql, command, "server_name", "server", query.Server);
        AddEquals(sql, command, "decision", "decision", query.Decision);
        sql.Append(" ORDER BY id LIMIT @limit");
        command.Parameters.Add(new NpgsqlParameter<int>("limit", query.Limit));
        command.CommandText = sql.ToString();

        var result = new List<AuditEvent>();
        await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
        while (await reader.ReadAsync(ct).ConfigureAwait(false))
        {
            result.Add(AuditRows.Read(reader, AuditEvent.Truncate(new DateTimeOffset(reader.GetFieldValue<DateTime>(3), TimeSpan.Zero))));
        }

        return result;
    }

    public ValueTask DisposeAsync() => _dataSource.DisposeAsync();

    private static void AddEquals(StringBuilder sql, NpgsqlCommand command, string column, string name, string? value)
    {
        if (value is null)
            return;
        sql.Append(" AND ").Append(column).Append(" = @").Append(name);
        command.Parameters.Add(new NpgsqlParameter<string>(name, value));
    }

    private static Task Text(NpgsqlBinaryImporter copy, string? value, CancellationToken ct) =>
        value is null ? copy.WriteNullAsync(ct) : copy.WriteAsync(value, NpgsqlDbType.Text, ct);
}
