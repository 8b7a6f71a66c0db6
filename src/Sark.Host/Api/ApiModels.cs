using System.Text.Json;
using System.Text.Json.Serialization;
using Sark.Actors;
using Sark.Actors.Configuration;

namespace Sark.Host.Api;

/// <summary><c>GET /api/v1/servers</c>: one page of servers.</summary>
internal sealed record ServerListResponse(
    IReadOnlyList<ServerInfo> Servers,
    int Total,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? NextOffset);

/// <summary><c>GET /api/v1/tools</c>: one page of tools.</summary>
internal sealed record ToolListResponse(
    IReadOnlyList<ToolInfo> Tools,
    int Total,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? NextOffset);

/// <summary><c>POST /api/v1/invoke</c>: <see cref="Result"/> is the MCP <c>CallToolResult</c> as the server sent it.</summary>
internal sealed record InvokeResponse(string Status, JsonElement Result, string RequestId);

/// <summary><c>GET /api/v1/upstreams</c>.</summary>
internal sealed record UpstreamListResponse(IReadOnlyList<UpstreamStatusResponse> Upstreams);

/// <summary>One upstream as <c>GET /api/v1/upstreams</c> shows it.</summary>
internal sealed record UpstreamStatusResponse(
    string Name,
    string Kind,
    UpstreamState State,
    BreakerState Breaker,
    int RestartCount,
    int ConsecutiveRestarts,
    string? LastError,
    DateTimeOffset? LastErrorAt,
    DateTimeOffset? ConnectedSince,
    int? ProcessId,
    long? RetryAfterMs,
    int ToolCount,
    string? RegistryHealth,
    PagingResponse? Paging,
    CacheResponse? Cache)
{
    /// <summary>In a cluster: the member that hosts the upstream (<c>akka.tcp://sark@HOST:PORT</c>); absent on a node alone.</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public string? Node { get; init; }

    public static UpstreamStatusResponse From(UpstreamStatus s) => new(
        s.Name, s.Kind.ToConfigName(), s.State, s.Breaker, s.RestartCount, s.ConsecutiveRestarts, s.LastError, s.LastErrorAt,
        s.ConnectedSince, s.ProcessId, s.RetryAfter is { } retry ? (long)Math.Ceiling(retry.TotalMilliseconds) : null, s.ToolCount,
        s.RegistryHealth,
        s.Paging is { } p ? new PagingResponse(p.Pages, p.Servers, p.Tools, p.Retries, Math.Round(p.Duration.TotalMilliseconds, 1)) : null,
        s.Cache is { } c ? new CacheResponse(c.Entries, c.Hits, c.Misses, c.Hits + c.Misses == 0 ? null : Math.Round((double)c.Hits / (c.Hits + c.Misses), 4),
            c.Fetches, c.FetchFailures, c.LastFetchAt, c.ExpiresAt is { } e && e != DateTimeOffset.MaxValue ? e : null, c.Ttl is { } t ? (long)t.TotalSeconds : null) : null)
    {
        Node = s.Node,
    };
}

/// <summary>A gateway upstream's last discovery walk.</summary>
internal sealed record PagingResponse(int Pages, int Servers, int Tools, int Retries, double DurationMs);

/// <summary>The catalog's cache of one upstream.</summary>
internal sealed record CacheResponse(
    int Entries, long Hits, long Misses, double? HitRate, long Fetches, long FetchFailures, DateTimeOffset? LastFetchAt, DateTimeOffset? ExpiresAt, long? TtlSeconds);

/// <summary><c>POST /api/v1/catalog/invalidate</c>: how many entries will be read again.</summary>
internal sealed record InvalidateResponse(int Invalidated);

/// <summary>The body of every failure: <c>{"error":{"code","message","request_id"}}</c>.</summary>
internal sealed record ErrorResponse(ErrorDetail Error);

/// <summary>A stable code (DESIGN.md section 9, or <c>internal</c>), a sentence, and the request id.</summary>
internal sealed record ErrorDetail(string Code, string Message, string? RequestId);
