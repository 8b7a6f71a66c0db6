using System.Text;
using Microsoft.Data.Sqlite;

namespace Sark.Actors.Audit;

/// <summary>
/// The embedded audit store: one SQLite file in WAL mode (<c>synchronous = FULL</c>: a written batch
/// survives a crash of the node). The writer's connection stays open with prepared statements; a
/// batch is one transaction of multi-row inserts (<see cref="RowsPerInsert"/> rows each). Queries use
/// their own connections, which WAL lets read while the writer writes. Microsoft.Data.Sqlite is
/// synchronous underneath: callers run it off the actor thread (the writer does).
/// </summary>
public sealed class SqliteAuditStore : IAuditStore
{
    // Few rows per statement: Microsoft.Data.Sqlite binds every parameter by name, and SQLite finds a
    // name by a linear scan of the statement's parameters, so the cost per row grows with the rows
    // per statement. 128 rows (1,792 parameters) ran 5x slower than 8; 8 is a little cheaper than 16 or 1.
    internal const int RowsPerInsert = 8;

    internal const string Columns =
        "event_type, request_id, timestamp, subject_id, server_name, tool_name, decision, reason, outcome, duration_ms, upstream, arguments_hash, arguments, trace_id";

    private const int ColumnCount = 14;

    private const string Schema = """
        CREATE TABLE IF NOT EXISTS audit_events (
            id             INTEGER PRIMARY KEY AUTOINCREMENT,
            event_type     TEXT    NOT NULL,
            request_id     TEXT    NOT NULL,
            timestamp      INTEGER NOT NULL, -- Unix milliseconds, UTC
            subject_id     TEXT,
            server_name    TEXT,
            tool_name      TEXT,
            decision       TEXT,
            reason         TEXT,
            outcome        TEXT,
            duration_ms    REAL,
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

    private readonly string _connectionString;
    private readonly string _path;
    private volatile bool _schemaReady;
    private SqliteConnection? _writer;
    private SqliteCommand? _insertMany;
    private SqliteCommand? _insertOne;
    private SqliteCommand? _lastId;

    /// <param name="path">The database file; its directory is created if missing.</param>
    public SqliteAuditStore(string path)
    {
        _path = Path.GetFullPath(path);
        _connectionString = new SqliteConnectionStringBuilder { DataSource = _path, Pooling = true }.ToString();
    }

    /// <summary>The full path of the database file.</summary>
    public string FilePath => _path;

    public Task InitializeAsync(CancellationToken ct)
    {
        CloseWriter();
        if (Path.GetDirectoryName(_path) is { Length: > 0 } dir)
            Directory.CreateDirectory(dir);
        var connection = new SqliteConnection(_connectionString);
        try
        {
            connection.Open();
            Execute(connection, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;");
            Execute(connection, Schema);
            _schemaReady = true;
            _insertMany = Prepare(connection, RowsPerInsert);
            _insertOne = Prepare(connection, 1);
            _lastId = new SqliteCommand("SELECT last_insert_rowid()", connection);
            _lastId.Prepare();
            _writer = connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }

        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<AuditEvent>> WriteBatchAsync(IReadOnlyList<AuditEvent> events, CancellationToken ct)
    {
        if (_writer is null)
            throw new InvalidOperationException("The SQLite audit store is not initialized.");
        var written = new AuditEvent[events.Count];
        if (events.Count == 0)
            return Task.FromResult<IReadOnlyList<AuditEvent>>(written);
        using var tx = _writer.BeginTransaction(deferred: false);
        try
        {
            var i = 0;
            while (i < events.Count)
            {
                ct.ThrowIfCancellationRequested();
                var command = events.Count - i >= RowsPerInsert ? _insertMany! : _insertOne!;
                var rows = command == _insertMany ? RowsPerInsert : 1;
                command.Transaction = tx;
                for (var r = 0; r < rows; r++)
                    Bind(command.Parameters, r * ColumnCount, events[i + r]);
                command.ExecuteNonQuery();
                i += rows;
            }

            // The transaction holds the write lock (BEGIN IMMEDIATE), so its AUTOINCREMENT ids are
            // consecutive: the batch's ids end at last_insert_rowid().
            _lastId!.Transaction = tx;
            var first = (long)_lastId.ExecuteScalar()! - events.Count + 1;
            for (var r = 0; r < events.Count; r++)
                written[r] = events[r] with { Id = first + r };
            tx.Commit();
        }
        catch
        {
            // A failed write may leave the connection in an unknown state: start clean on the retry.
            CloseWriter();
            throw;
        }

        return Task.FromResult<IReadOnlyList<AuditEvent>>(written);
    }

    public async Task<IReadOnlyList<AuditEvent>> QueryAsync(AuditQuery query, CancellationToken ct)
    {
        query.Validate();
        if (Path.GetDirectoryName(_path) is { Length: > 0 } dir)
            Directory.CreateDirectory(dir);
        await using var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync(ct).ConfigureAwait(false);
        if (!_schemaReady)
        {
            // A query may come before the writer's first write: create the schema (idempotent).
            Execute(connection, "PRAGMA journal_mode = WAL;");
            Execute(connection, Schema);
            _schemaReady = true;
        }

        await using var command = connection.CreateCommand();
        var sql = new StringBuilder($"SELECT id, {Columns} FROM audit_events WHERE 1 = 1");
        if (query.Since is { } since)
        {
            sql.Append(" AND timestamp >= $since");
            command.Parameters.AddWithValue("$since", since.ToUnixTimeMilliseconds());
        }

        if (query.AfterId is { } after)
        {
            sql.Append(" AND id > $after");
            command.Parameters.AddWithValue("$after", after);
        }

        AddEquals(sql, command, "subject_id", "$subject", query.Subject);
        AddEquals(sql, command, "server_name", "$server", query.Server);
        AddEquals(sql, command, "decision", "$decision", query.Decision);
        sql.Append(" ORDER BY id LIMIT $limit");
        command.Parameters.AddWithValue("$limit", query.Limit);
        command.CommandText = sql.ToString();

        var result = new List<AuditEvent>();
        await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
        while (await reader.ReadAsync(ct).ConfigureAwait(false))
        {
            result.Add(AuditRows.Read(reader, DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(3))));
        }

        return result;
    }

    public ValueTask DisposeAsync()
    {
        CloseWriter();
        return ValueTask.CompletedTask;
    }

    private static void AddEquals(StringBuilder sql, SqliteCommand command, string column, string name, string? value)
    {
        if (value is null)
            return;
        sql.Append(" AND ").Append(column).Append(" = ").Append(name);
        command.Parameters.AddWithValue(name, value);
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = new SqliteCommand(sql, connection);
        command.ExecuteNonQuery();
    }

    private static SqliteCommand Prepare(SqliteConnection connection, int rows)
    {
        var sql = new StringBuilder($"INSERT INTO audit_events ({Columns}) VALUES ");
        var command = connection.CreateCommand();
        for (var r = 0; r < rows; r++)
        {
            sql.Append(r == 0 ? "(" : ",(");
            for (var c = 0; c < ColumnCount; c++)
            {
                var name = $"$p{(r * ColumnCount) + c}";
                sql.Append(c == 0 ? "" : ",").Append(name);
                command.Parameters.Add(new SqliteParameter { ParameterName = name });
            }

            sql.Append(')');
        }

        command.CommandText = sql.ToString();
        command.Prepare();
        return command;
    }

    private static void Bind(SqliteParameterCollection p, int at, AuditEvent e)
    {
        p[at].Value = e.EventType;
        p[at + 1].Value = e.RequestId;
        p[at + 2].Value = e.Timestamp.ToUnixTimeMilliseconds();
        p[at + 3].Value = (object?)e.SubjectId ?? DBNull.Value;
        p[at + 4].Value = (object?)e.ServerName ?? DBNull.Value;
        p[at + 5].Value = (object?)e.ToolName ?? DBNull.Value;
        p[at + 6].Value = (object?)e.Decision ?? DBNull.Value;
        p[at + 7].Value = (object?)e.Reason ?? DBNull.Value;
        p[at + 8].Value = (object?)e.Outcome ?? DBNull.Value;
        p[at + 9].Value = (object?)e.DurationMs ?? DBNull.Value;
        p[at + 10].Value = (object?)e.Upstream ?? DBNull.Value;
        p[at + 11].Value = (object?)e.ArgumentsHash ?? DBNull.Value;
        p[at + 12].Value = (object?)e.Arguments ?? DBNull.Value;
        p[at + 13].Value = (object?)e.TraceId ?? DBNull.Value;
    }

    private void CloseWriter()
    {
        _insertMany?.Dispose();
        _insertOne?.Dispose();
        _lastId?.Dispose();
        _writer?.Dispose();
        _insertMany = _insertOne = _lastId = null;
        _writer = null;
    }
}
