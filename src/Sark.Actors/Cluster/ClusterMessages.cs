using System.Collections.Immutable;
using System.Text.Json;
using Akka.Actor;
using Sark.Actors.Catalog;
using Sark.Actors.Upstreams;

namespace Sark.Actors.Cluster;

/// <summary>
/// A message that crosses nodes. Bound in HOCON to <see cref="SarkClusterSerializer"/>
/// (System.Text.Json, one manifest per type), so that nothing falls back to a reflection-based
/// serializer; a type marked with it and not known to the serializer fails at the first send.
/// </summary>
public interface ISarkClusterMessage;

/// <summary>The messages only the cluster mode sends (docs/cluster-internals.md).</summary>
internal static class ClusterMessages
{
    /// <summary>
    /// <see cref="UpstreamCommands.CallTool"/> as it crosses nodes: the progress sink and the
    /// caller's client stay on the facade's node, and the entity gets relays to them
    /// (<see cref="CallProgress"/>, <see cref="ClientRequest"/>) that talk to the sender.
    /// </summary>
    public sealed record ClusterCall(
        string RequestId,
        string Upstream,
        string Server,
        string Tool,
        JsonElement? Arguments,
        TimeSpan? Timeout,
        string? TraceParent,
        string? BearerToken,
        bool WantsProgress,
        bool WantsClient,
        IActorRef ReplyTo) : UpstreamCommands.IUpstreamMessage, ISarkClusterMessage
    {
        /// <summary>The wire form of <paramref name="call"/>; replies, progress and client requests go to <paramref name="replyTo"/>.</summary>
        public static ClusterCall From(UpstreamCommands.CallTool call, IActorRef replyTo) => new(
            call.RequestId, call.Upstream, call.Server, call.Tool, call.Arguments, call.Timeout, call.TraceParent, call.BearerToken,
            call.Progress is not null, call.ClientRequests is not null, replyTo);

        /// <inheritdoc />
        public override string ToString() => $"ClusterCall {{ RequestId = {RequestId}, Upstream = {Upstream}, Server = {Server}, Tool = {Tool} }}";
    }

    /// <summary>
    /// The entity has a call (<see cref="ClusterCall"/> or <see cref="UpstreamCommands.ForwardRequest"/>),
    /// to the manager that routed it: until then the manager sends it again, since sharding drops
    /// a message that reaches a shard's old home during its hand-off.
    /// </summary>
    public sealed record CallAccepted(string RequestId) : ISarkClusterMessage;

    /// <summary>Start the entity of an upstream if it is not running (every node sends it once it is up; idempotent).</summary>
    public sealed record WakeUpstream(string Upstream) : UpstreamCommands.IUpstreamMessage, ISarkClusterMessage;

    /// <summary>A progress notification of a call, from the entity to the node that made the call.</summary>
    public sealed record CallProgress(string RequestId, ToolProgress Progress) : ISarkClusterMessage;

    /// <summary>A server request (sampling, elicitation) of a call, to the caller's client on the facade's node. Answered with <see cref="ClientReply"/>.</summary>
    public sealed record ClientRequest(string RequestId, string Method, JsonElement? Params) : ISarkClusterMessage;

    /// <summary>A server notification (<c>notifications/message</c>) of a call, to the caller's client. No reply.</summary>
    public sealed record ClientNotify(string RequestId, string Method, JsonElement? Params) : ISarkClusterMessage;

    /// <summary>The client's answer to a <see cref="ClientRequest"/>: its result, or why it failed (with the JSON-RPC code, when it had one).</summary>
    public sealed record ClientReply(JsonElement? Result, string? Error, int? ErrorCode) : ISarkClusterMessage;

    /// <summary>
    /// An upstream's status as its hosting node published it (distributed data, and straight to
    /// the hosting node's manager). <paramref name="Incarnation"/> names one entity instance, and
    /// <paramref name="Seq"/> orders its statuses.
    /// </summary>
    public sealed record HostedStatus(UpstreamStatus Status, string Host, string Incarnation, long Seq, DateTimeOffset At) : ISarkClusterMessage
    {
        /// <summary>Whether this status replaces <paramref name="previous"/>: a later one of the same entity, or one written later by another.</summary>
        public bool Supersedes(HostedStatus? previous) =>
            previous is null || (previous.Incarnation == Incarnation ? Seq > previous.Seq : At >= previous.At);
    }

    /// <summary>What an upstream exposes (servers, tools, health), as its hosting node published it (distributed data).</summary>
    public sealed record UpstreamListing(
        string Upstream, ImmutableArray<CatalogEntry> Servers, string? Health, string Host, string Incarnation, long Seq) : ISarkClusterMessage;

    /// <summary>A registry said something changed: every node's catalog expires it (distributed pub-sub).</summary>
    public sealed record CatalogExpire(string Upstream, string? Server) : ISarkClusterMessage;

    /// <summary>A node event produced on <paramref name="Origin"/>, for the journals of the other nodes (distributed pub-sub).</summary>
    public sealed record SharedEvent(string Origin, string Type, string Data) : ISarkClusterMessage;
}
