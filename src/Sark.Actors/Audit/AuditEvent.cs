using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using Sark.Actors.Errors;

namespace Sark.Actors.Audit;

/// <summary>
/// One audit record (DESIGN.md section 8): one per policy decision and one per call outcome.
/// Arguments are never kept in clear: <see cref="ArgumentsHash"/> is computed by the caller
/// (<see cref="HashArguments"/>); <see cref="Arguments"/> is kept only with
/// <c>sark.audit.store-arguments = true</c>, and is stripped by <see cref="AuditLog"/> otherwise.
/// The REST and SSE shape is <see cref="AuditJsonContext"/> (snake_case).
/// </summary>
public sealed record AuditEvent
{
    /// <summary>Assigned by the store when the event is written: unique and increasing, for paging and SSE ids. 0 before.</summary>
    public long Id { get; init; }

    /// <summary><see cref="AuditEventTypes.Decision"/> or <see cref="AuditEventTypes.Outcome"/>.</summary>
    public required string EventType { get; init; }

    /// <summary>The id of the logical call (X-Request-ID), shared by its decision and outcome events.</summary>
    public required string RequestId { get; init; }

    /// <summary>UTC, millisecond precision (the stores keep milliseconds).</summary>
    public required DateTimeOffset Timestamp { get; init; }

    public string? SubjectId { get; init; }

    public string? ServerName { get; init; }

    public string? ToolName { get; init; }

    /// <summary><see cref="AuditDecisions.Allow"/>, <see cref="AuditDecisions.Deny"/>, or null on outcome events.</summary>
    public string? Decision { get; init; }

    public string? Reason { get; init; }

    /// <summary>
    /// <see cref="AuditOutcomes.Ok"/>, <see cref="AuditOutcomes.ToolError"/>, <see cref="AuditOutcomes.Cancelled"/>
    /// or an error's wire code (<c>upstream_timeout</c>, ...); null on decision events.
    /// </summary>
    public string? Outcome { get; init; }

    public double? DurationMs { get; init; }

    /// <summary>The upstream that served (or would have served) the call.</summary>
    public string? Upstream { get; init; }

    /// <summary>A hash of the canonical arguments, for example <c>sha256:…</c> from <see cref="HashArguments"/>.</summary>
    public string? ArgumentsHash { get; init; }

    /// <summary>The arguments as JSON text, only when <c>store-arguments = true</c>; otherwise always null.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Arguments { get; init; }

    /// <summary>The W3C trace id of the call, when one was active.</summary>
    public string? TraceId { get; init; }

    /// <summary>A decision event, stamped now (UTC, ms).</summary>
    public static AuditEvent ForDecision(
        string requestId, string? subjectId, string? serverName, string? toolName, bool allow, string? reason,
        string? argumentsHash = null, string? traceId = null, string? upstream = null, DateTimeOffset? timestamp = null) =>
        new()
        {
            EventType = AuditEventTypes.Decision,
            RequestId = requestId,
            Timestamp = Truncate(timestamp ?? DateTimeOffset.UtcNow),
            SubjectId = subjectId,
            ServerName = serverName,
            ToolName = toolName,
            Decision = allow ? AuditDecisions.Allow : AuditDecisions.Deny,
            Reason = reason,
            ArgumentsHash = argumentsHash,
            TraceId = traceId,
            Upstream = upstream,
        };

    /// <summary>An outcome event, stamped now (UTC, ms).</summary>
    public static AuditEvent ForOutcome(
        string requestId, string? subjectId, string? serverName, string? toolName, string outcome, double? durationMs,
        string? upstream = null, string? argumentsHash = null, string? traceId = null, string? reason = null, DateTimeOffset? timestamp = null) =>
        new()
        {
            EventType = AuditEventTypes.Outcome,
            RequestId = requestId,
            Timestamp = Truncate(timestamp ?? DateTimeOffset.UtcNow),
            SubjectId = subjectId,
            ServerName = serverName,
            ToolName = toolName,
            Outcome = outcome,
            DurationMs = durationMs,
            Upstream = upstream,
            ArgumentsHash = argumentsHash,
            TraceId = traceId,
            Reason = reason,
        };

    /// <summary><c>sha256:</c> and the lower-case hex SHA-256 of UTF-8 JSON (canonicalize it first, so equal arguments hash equally).</summary>
    public static string HashArguments(ReadOnlySpan<byte> utf8Json)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(utf8Json, hash);
        return "sha256:" + Convert.ToHexStringLower(hash);
    }

    /// <summary>UTC, whole milliseconds.</summary>
    public static DateTimeOffset Truncate(DateTimeOffset t) =>
        DateTimeOffset.FromUnixTimeMilliseconds(t.ToUnixTimeMilliseconds());
}

/// <summary>Values of <see cref="AuditEvent.EventType"/>.</summary>
public static class AuditEventTypes
{
    public const string Decision = "decision";
    public const string Outcome = "outcome";
}

/// <summary>Values of <see cref="AuditEvent.Decision"/>.</summary>
public static class AuditDecisions
{
    public const string Allow = "allow";
    public const string Deny = "deny";
}

/// <summary>Values of <see cref="AuditEvent.Outcome"/>.</summary>
public static class AuditOutcomes
{
    public const string Ok = "ok";
    public const string ToolError = "tool_error";
    public const string Cancelled = "cancelled";

    /// <summary>A failure's outcome is its error's wire code.</summary>
    public static string From(SarkErrorCode code) => code.ToWire();
}

/// <summary>A page of <c>GET /api/v1/audit</c>: events in id order and the cursor for the next page.</summary>
/// <param name="Events">At most <c>limit</c> events, ascending by id.</param>
/// <param name="NextAfterId">Pass as <c>after_id</c> for the next page; null when this page was not full.</param>
public sealed record AuditPage(IReadOnlyList<AuditEvent> Events, long? NextAfterId)
{
    public static AuditPage From(IReadOnlyList<AuditEvent> events, int limit) =>
        new(events, events.Count >= limit && events.Count > 0 ? events[^1].Id : null);
}

/// <summary>The REST/SSE JSON shape of audit events (snake_case, timestamps as ISO 8601 UTC with milliseconds).</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    Converters = [typeof(UtcMillisecondsConverter)])]
[JsonSerializable(typeof(AuditEvent))]
[JsonSerializable(typeof(AuditPage))]
public sealed partial class AuditJsonContext : JsonSerializerContext;

/// <summary>Writes <c>2025-01-31T12:00:00.123Z</c>; reads any ISO 8601 time.</summary>
public sealed class UtcMillisecondsConverter : JsonConverter<DateTimeOffset>
{
    public override DateTimeOffset Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        AuditEvent.Truncate(DateTimeOffset.Parse(reader.GetString()!, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal));

    public override void Write(Utf8JsonWriter writer, DateTimeOffset value, JsonSerializerOptions options)
    {
        Span<char> buffer = stackalloc char[24];
        value.UtcDateTime.TryFormat(buffer, out var n, "yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
        writer.WriteStringValue(buffer[..n]);
    }
}
