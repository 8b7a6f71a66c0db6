using System.Collections.Immutable;
using System.Text.Json;
using Sark.Actors.Configuration;

namespace Sark.Actors;

/// <summary>The breaker state of an upstream's circuit (DESIGN.md section 4).</summary>
public enum BreakerState
{
    /// <summary>The connection is up and serves requests.</summary>
    Closed,

    /// <summary>A fresh connection is being tried after a failure; its handshake is the probe.</summary>
    HalfOpen,

    /// <summary>The connection failed; calls are refused until the backoff has passed.</summary>
    Open,
}

/// <summary>Where an upstream's connection is in its life.</summary>
public enum UpstreamState
{
    /// <summary>The process or connection is being started and initialized.</summary>
    Connecting,

    /// <summary>Initialized, tools listed, serving calls.</summary>
    Ready,

    /// <summary>Down; the supervisor will try again after the backoff.</summary>
    Backoff,

    /// <summary>Stopped on purpose (shutdown or an operator).</summary>
    Stopped,
}

/// <summary>What <see cref="ISarkGateway.GetUpstreamsAsync"/> reports for one upstream.</summary>
public sealed record UpstreamStatus(
    string Name,
    UpstreamKind Kind,
    UpstreamState State,
    BreakerState Breaker,
    int RestartCount,
    int ConsecutiveRestarts,
    string? LastError,
    DateTimeOffset? LastErrorAt,
    DateTimeOffset? ConnectedSince,
    int? ProcessId,
    TimeSpan? RetryAfter,
    int ToolCount)
{
    /// <summary>gateway: what the last discovery walk took.</summary>
    public PagingStats? Paging { get; init; }

    /// <summary>gateway: the catalog's cache of this upstream's servers (filled in by the facade).</summary>
    public CacheStats? Cache { get; init; }

    /// <summary>gateway: the registry's own <c>GET /health</c>, last read (<c>healthy</c>, <c>unhealthy</c>), or null before the first.</summary>
    public string? RegistryHealth { get; init; }

    /// <summary>In a cluster: the node that hosts the upstream (<c>akka.tcp://sark@host:port</c>), as last reported; null on a node alone.</summary>
    public string? Node { get; init; }
}

/// <summary>What a gateway upstream's last discovery walk took.</summary>
/// <param name="Pages">Pages read (servers and tools).</param>
/// <param name="Retries">Attempts beyond one per page (the read's retry budget spent).</param>
public sealed record PagingStats(int Pages, int Servers, int Tools, int Retries, TimeSpan Duration);

/// <summary>The catalog's cache of one upstream's servers.</summary>
/// <param name="Entries">Servers held.</param>
/// <param name="Hits">Lookups answered from fresh entries.</param>
/// <param name="Misses">Lookups that needed a fetch (however many shared one).</param>
/// <param name="Fetches">Reads of the upstream the catalog made (listings and single servers).</param>
/// <param name="FetchFailures">Fetches that failed (stale entries were served meanwhile).</param>
/// <param name="ExpiresAt">When the listing is next read; null for upstreams that push their tools (mcp-*).</param>
public sealed record CacheStats(
    int Entries, long Hits, long Misses, long Fetches, long FetchFailures, DateTimeOffset? LastFetchAt, DateTimeOffset? ExpiresAt, TimeSpan? Ttl);

/// <summary>
/// An MCP server as a caller sees it. Field names follow the gateway REST contract
/// (<c>server_id</c>, <c>server_name</c>, ...).
/// </summary>
public sealed record ServerInfo(
    string ServerId,
    string ServerName,
    string ServerUrl,
    string SensitivityLevel,
    ImmutableArray<string> AuthorizedTeams,
    string HealthStatus,
    int ToolsCount,
    string Upstream,
    string Transport,
    string? Description,
    string? ServerVersion,
    string? ProtocolVersion,
    DateTimeOffset? UpdatedAt);

/// <summary>One tool parameter, as the gateway REST contract lists it.</summary>
public sealed record ToolParameter(string Name, string Type, bool Required, string? Description);

/// <summary>A tool of a server. <see cref="InputSchema"/> is the MCP JSON Schema as the server gave it.</summary>
public sealed record ToolInfo(
    string ToolName,
    string ServerName,
    string Description,
    string SensitivityLevel,
    ImmutableArray<ToolParameter> Parameters,
    ImmutableArray<string> SensitiveParams,
    ImmutableArray<string> RequiredCapabilities,
    JsonElement? InputSchema);

/// <summary>The outcome of a tool call that reached the upstream and came back.</summary>
/// <param name="RequestId">The id of the logical call (also in logs and audit).</param>
/// <param name="Result">The MCP <c>CallToolResult</c>, untouched.</param>
/// <param name="IsError">The tool reported an error (<c>isError: true</c>); the call itself worked.</param>
public sealed record ToolCallResult(
    string RequestId,
    string Server,
    string Tool,
    JsonElement Result,
    bool IsError,
    TimeSpan Duration);
