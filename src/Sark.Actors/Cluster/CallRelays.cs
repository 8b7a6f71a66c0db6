using System.Text.Json;
using Akka.Actor;
using ModelContextProtocol;
using static Sark.Actors.Cluster.ClusterMessages;

namespace Sark.Actors.Cluster;

/// <summary>
/// The entity side of a call's progress sink: each report becomes a <see cref="CallProgress"/>
/// to the manager that routed the call, which hands it to the caller's sink on its node.
/// </summary>
internal sealed class ProgressRelay(IActorRef replyTo, string requestId) : IProgress<ToolProgress>
{
    public void Report(ToolProgress value) => replyTo.Tell(new CallProgress(requestId, value));
}

/// <summary>
/// The entity side of a caller's client: server requests (sampling, elicitation) go to the
/// manager that routed the call as <see cref="ClientRequest"/> and wait for its
/// <see cref="ClientReply"/> (bounded by the call's timeout); notifications are told.
/// This is a task-based boundary the connection already awaits as a detached task, not one actor
/// waiting on another.
/// </summary>
internal sealed class ClientRelay(IActorRef replyTo, string requestId, TimeSpan timeout) : IUpstreamClient
{
    public async Task<JsonElement> RequestAsync(string method, JsonElement? parameters, CancellationToken cancellationToken)
    {
        var reply = await replyTo.Ask<ClientReply>(new ClientRequest(requestId, method, parameters), timeout, cancellationToken).ConfigureAwait(false);
        if (reply.Error is { } error)
            throw new McpProtocolException(error, (McpErrorCode)(reply.ErrorCode ?? (int)McpErrorCode.InternalError));
        return reply.Result ?? default;
    }

    public void Notify(string method, JsonElement? parameters) => replyTo.Tell(new ClientNotify(requestId, method, parameters));
}
