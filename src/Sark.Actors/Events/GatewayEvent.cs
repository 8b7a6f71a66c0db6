using System.Text.Json;

namespace Sark.Actors.Events;

/// <summary>
/// One server-sent event as a subscriber receives it: its type (<c>event:</c>, <c>message</c> when
/// absent), its data (the <c>data:</c> lines joined by newlines; JSON arrives as text) and its id.
/// </summary>
public sealed record GatewayEvent(string EventType, string Data, string? EventId)
{
    /// <summary>The data parsed as JSON; throws <see cref="JsonException"/> when it is not JSON.</summary>
    public JsonElement Json() => JsonElement.Parse(Data);
}

/// <summary>The event types the node publishes on <c>GET /api/v1/events</c>.</summary>
public static class GatewayEventTypes
{
    /// <summary>An upstream's state or breaker changed: <c>{upstream, kind, state, breaker, restart_count, last_error}</c>.</summary>
    public const string UpstreamState = "upstream_state";

    /// <summary>A server appeared in the catalog: <c>{server, upstream}</c>.</summary>
    public const string ServerRegistered = "server_registered";

    /// <summary>A server left the catalog: <c>{server, upstream}</c>.</summary>
    public const string ServerRemoved = "server_removed";

    /// <summary>A server's tools changed: <c>{server, upstream, tools_count}</c>.</summary>
    public const string ToolsChanged = "tools_changed";

    /// <summary>Many catalog changes at once (a first listing): <c>{registered, removed, tools_changed}</c>.</summary>
    public const string CatalogChanged = "catalog_changed";

    /// <summary>A tool call ended: <c>{request_id, server, tool, outcome, duration_ms}</c>.</summary>
    public const string Invocation = "invocation";

    /// <summary>Sent once to a client whose Last-Event-ID is older than the journal holds: <c>{first_id, last_event_id}</c>.</summary>
    public const string Gap = "gap";
}

/// <summary>The state of one subscription (DESIGN.md section 5).</summary>
public enum SubscriptionState
{
    /// <summary>The first connection is being made.</summary>
    Connecting,

    /// <summary>The stream is open and events flow.</summary>
    Connected,

    /// <summary>The stream ended or broke; a new connection is made after the backoff (with Last-Event-ID).</summary>
    Reconnecting,

    /// <summary>The server refused the subscription (4xx); no retry. The reader completes with the error.</summary>
    Failed,

    /// <summary>Closed by the subscriber or the node; the reader completes.</summary>
    Closed,
}
