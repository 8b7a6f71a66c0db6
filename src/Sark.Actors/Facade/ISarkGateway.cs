using System.Text.Json;

namespace Sark.Actors;

/// <summary>Per-call settings of <see cref="ISarkGateway.InvokeToolAsync"/>.</summary>
public sealed record InvokeOptions
{
    /// <summary>The id of the logical call; a new one is made when absent. It appears in logs and errors.</summary>
    public string? RequestId { get; init; }

    /// <summary>Overrides the upstream's <c>call-timeout</c>.</summary>
    public TimeSpan? Timeout { get; init; }

    /// <summary>Overrides the node's <c>sark.routing.mode</c> for this call: which kinds of upstream may take it.</summary>
    public Configuration.RouteMode? Route { get; init; }

    /// <summary>Who makes the call; <see cref="Caller.Local"/> when absent.</summary>
    public Caller? Caller { get; init; }

    /// <summary>
    /// Where the upstream's progress notifications for this call go; when absent, no progress is
    /// asked for. mcp-stdio and mcp-http upstreams relay it; gateway upstreams have none. It is
    /// called on an actor's or the MCP client's thread: it must be thread-safe and must not block.
    /// Over mcp-http the SDK hands notifications on apart from results, so the last update can
    /// come just after the call has returned (up to a second); stdio keeps the upstream's order.
    /// </summary>
    public IProgress<ToolProgress>? Progress { get; init; }

    /// <summary>
    /// The caller's own MCP client, for an mcp-stdio upstream with <c>relay-client-requests</c>:
    /// while this is the only call in flight on that upstream with a handler, the server's
    /// <c>sampling/createMessage</c> and <c>elicitation/create</c> go to it and its answer goes back,
    /// and the server's log messages (<c>notifications/message</c>) are passed on.
    /// </summary>
    public IUpstreamClient? ClientRequests { get; init; }
}

/// <summary>The downstream MCP client an upstream server's own requests are relayed to (see <see cref="InvokeOptions.ClientRequests"/>).</summary>
public interface IUpstreamClient
{
    /// <summary>Sends a server request (<c>sampling/createMessage</c>, <c>elicitation/create</c>) to the caller's client; its raw result, or an exception.</summary>
    Task<JsonElement> RequestAsync(string method, JsonElement? parameters, CancellationToken cancellationToken);

    /// <summary>Passes a server notification on (<c>notifications/message</c>); must not block.</summary>
    void Notify(string method, JsonElement? parameters);
}

/// <summary>One MCP progress notification of a call (<c>notifications/progress</c>), without its token.</summary>
/// <param name="Progress">How far it is; increases with every notification.</param>
/// <param name="Total">The total, when the upstream knows it.</param>
/// <param name="Message">What it is doing, when the upstream says.</param>
public sealed record ToolProgress(double Progress, double? Total, string? Message);

/// <summary>
/// The gateway as a library user sees it: no actors, only tasks. Every failure is a
/// <see cref="Errors.SarkException"/> whose <see cref="Errors.SarkException.Code"/> is stable.
/// </summary>
public interface ISarkGateway
{
    /// <summary>
    /// Every server the node knows, from every upstream, that the policy lets
    /// <paramref name="caller"/> see (<c>server:list</c>; <see cref="Caller.Local"/> when null).
    /// </summary>
    Task<IReadOnlyList<ServerInfo>> ListServersAsync(Caller? caller = null, CancellationToken cancellationToken = default);

    /// <summary>One server; <see cref="Errors.SarkNotFoundException"/> if unknown, or if the caller may not see it.</summary>
    Task<ServerInfo> GetServerAsync(string server, Caller? caller = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// The tools of one server, or of all servers when <paramref name="server"/> is null, that the
    /// policy lets <paramref name="caller"/> call (<c>tool:list</c>): a caller never sees a tool it may not call.
    /// </summary>
    Task<IReadOnlyList<ToolInfo>> ListToolsAsync(string? server = null, Caller? caller = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Calls a tool, authorized by the policy for <see cref="InvokeOptions.Caller"/> (<c>tool:invoke</c>)
    /// and sent with the arguments the decision allows. <paramref name="arguments"/> must be a JSON object (or null for none).
    /// A tool that reports an error (<c>isError</c>) is a result, not an exception; a call that
    /// could not be made or answered throws. Cancelling the token cancels the call upstream.
    /// </summary>
    Task<ToolCallResult> InvokeToolAsync(
        string server, string tool, JsonElement? arguments = null, InvokeOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Sends one MCP request other than <c>tools/call</c> (<c>resources/list</c>, <c>resources/templates/list</c>,
    /// <c>resources/read</c>, <c>prompts/list</c>, <c>prompts/get</c>) to the <c>mcp-*</c> upstream of
    /// <paramref name="server"/>, as <see cref="InvokeOptions.Caller"/>, and returns its raw result.
    /// Listings need the server to be visible to the caller (<c>server:list</c>); a read is decided as
    /// <c>resource:read</c> and a get as <c>prompt:get</c> (the URI or prompt name in the input's
    /// <c>tool.name</c>), and both are audited. Gateway upstreams serve tools only (<c>invalid_request</c>).
    /// The upstream's call timeout, circuit and cancellation apply as for a tool call.
    /// </summary>
    Task<JsonElement> SendRequestAsync(
        string server, string method, JsonElement? parameters = null, InvokeOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>Every upstream: its state, breaker state, restart count, last error, and for gateway upstreams paging and cache figures.</summary>
    Task<IReadOnlyList<UpstreamStatus>> GetUpstreamsAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Expires a server's catalog entry (or every entry when <paramref name="server"/> is null), so
    /// that the next lookup reads it from its upstream again. Returns how many entries were
    /// expired. Servers that an mcp-* upstream pushes are always current and are not counted.
    /// </summary>
    Task<int> InvalidateAsync(string? server = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Follows an upstream's server-sent events (<paramref name="path"/> under the upstream's
    /// url, <c>/api/v1/events</c> by default) as its own supervised subscription: reconnects with
    /// backoff and <c>Last-Event-ID</c>, honours <c>retry:</c>, and ends with an error on a 4xx.
    /// Only events whose type is in <paramref name="eventTypes"/> are delivered, when given.
    /// Throws <c>stream_limit_reached</c> when <c>sark.events.max-streams</c> subscriptions exist.
    /// </summary>
    Task<Events.EventSubscriptionReader> SubscribeAsync(
        string upstream, string path = "/api/v1/events", IReadOnlyCollection<string>? eventTypes = null, CancellationToken cancellationToken = default);
}
