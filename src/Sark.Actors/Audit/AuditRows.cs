using System.Data.Common;

namespace Sark.Actors.Audit;

/// <summary>
/// Reads one row of the audit table, as both stores select it: <c>id, event_type, request_id,
/// timestamp, subject_id, server_name, tool_name, decision, reason, outcome, duration_ms,
/// upstream, arguments_hash, arguments, trace_id</c>. Each store reads the timestamp its own way.
/// </summary>
internal static class AuditRows
{
    public static AuditEvent Read(DbDataReader reader, DateTimeOffset timestamp) => new()
    {
        Id = reader.GetInt64(0),
        EventType = reader.GetString(1),
        RequestId = reader.GetString(2),
        Timestamp = timestamp,
        SubjectId = Text(reader, 4),
        ServerName = Text(reader, 5),
        ToolName = Text(reader, 6),
        Decision = Text(reader, 7),
        Reason = Text(reader, 8),
        Outcome = Text(reader, 9),
        DurationMs = reader.IsDBNull(10) ? null : reader.GetDouble(10),
        Upstream = Text(reader, 11),
        ArgumentsHash = Text(reader, 12),
        Arguments = Text(reader, 13),
        TraceId = Text(reader, 14),
    };

    private static string? Text(DbDataReader reader, int i) => reader.IsDBNull(i) ? null : reader.GetString(i);
}
