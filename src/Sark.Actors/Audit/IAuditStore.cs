using Sark.Actors.Errors;

namespace Sark.Actors.Audit;

/// <summary>
/// Where audit events are kept: <see cref="SqliteAuditStore"/> (embedded default) or
/// <see cref="PostgresAuditStore"/> (clusters). Only the <see cref="AuditWriter"/> writes, one batch
/// at a time; queries may run concurrently with writes. Failures surface as exceptions: the writer
/// keeps the batch and retries it with back-off.
/// </summary>
public interface IAuditStore : IAsyncDisposable
{
    /// <summary>Creates the schema if it is missing. The writer calls it before its first write, and again after it failed.</summary>
    Task InitializeAsync(CancellationToken ct);

    /// <summary>
    /// Writes the batch in one transaction and returns the same events with their store-assigned
    /// <see cref="AuditEvent.Id"/>s, in order. Either all are written or the call throws.
    /// </summary>
    Task<IReadOnlyList<AuditEvent>> WriteBatchAsync(IReadOnlyList<AuditEvent> events, CancellationToken ct);

    /// <summary>Events matching every given filter, ascending by id, at most <see cref="AuditQuery.Limit"/>.</summary>
    Task<IReadOnlyList<AuditEvent>> QueryAsync(AuditQuery query, CancellationToken ct);
}

/// <summary>
/// A filter over the audit log, the shape of <c>GET /api/v1/audit?since&amp;after_id&amp;subject&amp;server&amp;decision&amp;limit</c>.
/// Every filter that is set must match; results are ascending by id.
/// </summary>
public sealed record AuditQuery
{
    public const int DefaultLimit = 100;
    public const int MaxLimit = 1000;

    /// <summary>Only events at or after this time.</summary>
    public DateTimeOffset? Since { get; init; }

    /// <summary>Only events with a larger id (paging, SSE Last-Event-ID).</summary>
    public long? AfterId { get; init; }

    /// <summary>Exact subject id.</summary>
    public string? Subject { get; init; }

    /// <summary>Exact server name.</summary>
    public string? Server { get; init; }

    /// <summary><c>allow</c> or <c>deny</c> (matches decision events only).</summary>
    public string? Decision { get; init; }

    /// <summary>1 to <see cref="MaxLimit"/>; <see cref="DefaultLimit"/> by default.</summary>
    public int Limit { get; init; } = DefaultLimit;

    /// <summary>Throws <see cref="SarkInvalidRequestException"/> naming the parameter when the query is not valid.</summary>
    public AuditQuery Validate()
    {
        if (Limit is < 1 or > MaxLimit)
            throw new SarkInvalidRequestException($"limit: {Limit} must be from 1 to {MaxLimit}.");
        if (Decision is not null and not AuditDecisions.Allow and not AuditDecisions.Deny)
            throw new SarkInvalidRequestException($"decision: '{Decision}' must be allow or deny.");
        if (AfterId is < 0)
            throw new SarkInvalidRequestException("after_id: must not be negative.");
        return this;
    }
}
