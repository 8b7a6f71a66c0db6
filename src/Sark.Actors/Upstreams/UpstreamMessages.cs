using System.Collections.Immutable;
using System.Text.Json;
using Akka.Actor;
using Sark.Actors.Errors;

namespace Sark.Actors.Upstreams;

/// <summary>Messages anything may send to the upstream tree (the manager routes them by upstream name).</summary>
public static class UpstreamCommands
{
    /// <summary>An upstream-addressed message: the manager forwards it to the named upstream.</summary>
    public interface IUpstreamMessage
    {
        string Upstream { get; }
    }

    /// <summary>
    /// Call a tool. Replied to with <see cref="UpstreamReplies.ToolCallCompleted"/> or
    /// <see cref="UpstreamReplies.ToolCallFailed"/>. It never crosses nodes (it carries in-process
    /// objects): in a cluster the manager sends its wire form, <c>ClusterCall</c>, instead.
    /// </summary>
    public sealed record CallTool(
        string RequestId, string Upstream, string Tool, JsonElement? Arguments, TimeSpan? Timeout)
        : IUpstreamMessage, INoSerializationVerificationNeeded
    {
        /// <summary>The server the tool belongs to: the upstream's only server unless it exposes many.</summary>
        public string Server { get; init; } = Upstream;

        /// <summary>The W3C <c>traceparent</c> of the facade's activity, passed on to HTTP upstreams.</summary>
        public string? TraceParent { get; init; }

        /// <summary>The caller's bearer token, passed on only by an upstream with <c>forward-caller-token = true</c>.</summary>
        public string? BearerToken { get; init; }

        /// <summary>Where progress notifications of this call go; null: no <c>progressToken</c> is sent upstream.</summary>
        public IProgress<ToolProgress>? Progress { get; init; }

        /// <summary>The caller's client, for server requests relayed while this call is in flight.</summary>
        public IUpstreamClient? ClientRequests { get; init; }

        /// <inheritdoc />
        public override string ToString() => $"CallTool {{ RequestId = {RequestId}, Upstream = {Upstream}, Server = {Server}, Tool = {Tool} }}";
    }

    /// <summary>
    /// Send one MCP request other than <c>tools/call</c> (<c>resources/list</c>, <c>resources/read</c>,
    /// <c>resources/templates/list</c>, <c>prompts/list</c>, <c>prompts/get</c>) to an <c>mcp-*</c>
    /// upstream and hand back its raw result. Replied to with <see cref="UpstreamReplies.RequestCompleted"/>
    /// or <see cref="UpstreamReplies.ToolCallFailed"/>; cancelled with <see cref="CancelCall"/> like a tool call.
    /// </summary>
    public sealed record ForwardRequest(string RequestId, string Upstream, string Method, JsonElement? Params, TimeSpan Timeout)
        : IUpstreamMessage, Cluster.ISarkClusterMessage
    {
        /// <inheritdoc />
        public override string ToString() => $"ForwardRequest {{ RequestId = {RequestId}, Upstream = {Upstream}, Method = {Method} }}";
    }

    /// <summary>
    /// The catalog asks an upstream to read a part of its listing again. Answered (to the catalog)
    /// with <see cref="Catalog.CatalogCommands.Refreshed"/> or <see cref="Catalog.CatalogCommands.RefreshFailed"/>.
    /// </summary>
    public sealed record RefreshCatalog(Catalog.RefreshKey Key) : IUpstreamMessage, Cluster.ISarkClusterMessage
    {
        public string Upstream => Key.Upstream;
    }

    /// <summary>The caller gave up on a call: cancel it upstream. No reply.</summary>
    public sealed record CancelCall(string RequestId, string Upstream) : IUpstreamMessage, Cluster.ISarkClusterMessage;

    /// <summary>What an operator can do to an upstream (the ops console's <c>upstream stop|start|restart</c>).</summary>
    public enum OperatorAction
    {
        /// <summary>Stop the connection (and its process) and keep it down; calls are refused until a start.</summary>
        Stop,

        /// <summary>Start a stopped upstream again, with a fresh backoff.</summary>
        Start,

        /// <summary>Stop, then start at once (a new process for a stdio upstream).</summary>
        Restart,
    }

    /// <summary>
    /// An operator's command to one upstream. Replied to with <see cref="UpstreamReplies.OperatorDone"/>
    /// once the old connection is gone (stop, restart) or the new one is started (start, restart),
    /// or with <see cref="UpstreamReplies.OperatorFailed"/> (<c>not_found</c>).
    /// </summary>
    public sealed record Operate(string Upstream, OperatorAction Action) : IUpstreamMessage, Cluster.ISarkClusterMessage;

    /// <summary>Replied to with <see cref="UpstreamReplies.UpstreamList"/>.</summary>
    public sealed class ListUpstreams
    {
        public static readonly ListUpstreams Instance = new();

        private ListUpstreams()
        {
        }
    }
}

/// <summary>Replies from the upstream tree.</summary>
public static class UpstreamReplies
{
    public sealed record ToolCallCompleted(string RequestId, JsonElement Result, bool IsError) : Cluster.ISarkClusterMessage;

    public sealed record ToolCallFailed(string RequestId, SarkError Error) : Cluster.ISarkClusterMessage;

    /// <summary>The raw result of a <see cref="UpstreamCommands.ForwardRequest"/>.</summary>
    public sealed record RequestCompleted(string RequestId, JsonElement Result) : Cluster.ISarkClusterMessage;

    public sealed record UpstreamList(ImmutableArray<UpstreamStatus> Upstreams);

    /// <summary>An operator's command took effect. <paramref name="PreviousProcessId"/> is the process before it (stdio); <paramref name="At"/> is when, by the scheduler.</summary>
    public sealed record OperatorDone(string Upstream, UpstreamCommands.OperatorAction Action, int? PreviousProcessId, DateTimeOffset At, string Message)
        : Cluster.ISarkClusterMessage;

    public sealed record OperatorFailed(string Upstream, SarkError Error) : Cluster.ISarkClusterMessage;
}

/// <summary>What a connection actor tells its circuit (its owner) about itself.</summary>
internal static class ConnectionEvents
{
    /// <summary>A new connection actor exists (a process is being started or a connect attempted).</summary>
    public sealed record Started(IActorRef Connection, int? ProcessId);

    /// <summary>Handshake done and tools listed: the connection serves calls for these servers.</summary>
    public sealed record Ready(IActorRef Connection, ImmutableArray<Catalog.CatalogEntry> Servers)
        : INoSerializationVerificationNeeded
    {
        /// <summary>gateway: what the discovery walk took.</summary>
        public PagingStats? Paging { get; init; }

        /// <summary>The one server of an <c>mcp-*</c> upstream.</summary>
        public static Ready Single(IActorRef connection, ServerInfo server, ImmutableArray<ToolInfo> tools) =>
            new(connection, [new Catalog.CatalogEntry(server, tools)]);

        public int ToolCount => Servers.Sum(s => s.Tools.Length);
    }

    /// <summary>gateway: the registry's <c>GET /health</c> changed (or a listing was read again, with its paging figures).</summary>
    public sealed record RegistryChecked(string? Health, PagingStats? Paging) : INoSerializationVerificationNeeded;

    /// <summary>gateway: the registry's events say a server (or, when null, its listing) changed.</summary>
    public sealed record RegistryChanged(string? Server);

    /// <summary>A server's tool list changed (list_changed) and was read again.</summary>
    public sealed record ToolsChanged(string Server, ImmutableArray<ToolInfo> Tools) : INoSerializationVerificationNeeded;

    /// <summary>
    /// The connection failed. It answers every call it still receives with
    /// <c>upstream_unavailable</c> until the circuit acknowledges (<see cref="FaultAcknowledged"/>),
    /// then stops, and its BackoffSupervisor starts a fresh one after the backoff. Calls the circuit forwarded before it learnt of the fault
    /// therefore arrive before the acknowledgement and are answered, never lost.
    /// </summary>
    public sealed record Faulted(string Reason);

    /// <summary>The circuit's answer to <see cref="Faulted"/>: it forwards nothing more to that connection.</summary>
    public sealed class FaultAcknowledged
    {
        public static readonly FaultAcknowledged Instance = new();

        private FaultAcknowledged()
        {
        }
    }

    /// <summary>The circuit tells a new connection which attempt it is, so its failures can say when the next one comes.</summary>
    public sealed record Attempt(int ConsecutiveRestarts);
}
