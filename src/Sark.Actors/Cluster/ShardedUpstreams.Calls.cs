using System.Collections.Immutable;
using Akka.Actor;
using Akka.Event;
using Sark.Actors.Errors;
using Sark.Actors.Upstreams;
using static Sark.Actors.Cluster.ClusterMessages;
using static Sark.Actors.Upstreams.UpstreamCommands;
using static Sark.Actors.Upstreams.UpstreamReplies;

namespace Sark.Actors.Cluster;

/// <summary>
/// The calls <see cref="ShardedUpstreams"/> routed: tracking them, relaying their progress and
/// client requests to the caller's objects on this node, and failing them when their host is lost.
/// </summary>
internal sealed partial class ShardedUpstreams
{
    /// <summary>Sends <paramref name="message"/> to <paramref name="region"/> and keeps it until its entity accepts it or the call ends.</summary>
    private void Route(IActorRef region, object message, string requestId, string upstream, TimeSpan? timeout, IProgress<ToolProgress>? progress, IUpstreamClient? client)
    {
        var wait = (timeout ?? _options.Upstreams[upstream].CallTimeout) + _options.AskMargin + SweepEvery;
        _directory.Track(new UpstreamDirectory.PendingCall(requestId, upstream, Sender, progress, client, Now + wait) { Unaccepted = message, SentAt = Now });
        region.Tell(message, Self);
    }

    /// <summary>Sends again the calls that no entity has accepted (dropped during a hand-off); the entity ignores a second copy.</summary>
    private void SendAgain()
    {
        foreach (var call in _directory.DueAgain(Now, ResendAfter))
        {
            if (call.Unaccepted is { } message && _regions.TryGetValue(call.Upstream, out var region))
            {
                _log.Info("Cluster: call {RequestId} to {Upstream} not accepted within {After}s (a hand-off?); sent again", call.RequestId, call.Upstream, ResendAfter.TotalSeconds);
                region.Tell(message, Self);
            }
        }
    }

    /// <summary>Opens the circuits of what <paramref name="host"/> hosted and fails the calls in flight there; returns those upstreams.</summary>
    private ImmutableArray<string> NodeLost(string host, string what)
    {
        if (host == _services.Host)
            return [];
        var upstreams = _directory.NodeLost(host);
        Refresh(upstreams);
        var calls = _directory.TakeCallsHostedAt(host);
        if (upstreams.Length > 0 || calls.Length > 0)
            _log.Warning("Cluster: node {Host} {What}; upstreams {Upstreams} move to other nodes, {Calls} calls in flight there fail", host, what, string.Join(", ", upstreams), calls.Length);
        foreach (var call in calls)
        {
            call.ReplyTo.Tell(new ToolCallFailed(call.RequestId, new SarkError(SarkErrorCode.UpstreamUnavailable,
                $"Upstream '{call.Upstream}' was lost with its node {host} ({what}) while the call was in flight; whether it ran is unknown. The upstream restarts on another node; try again.",
                RetryAfter: _options.Cluster.StableAfter)));
        }

        return upstreams;
    }

    /// <summary>Wakes upstreams whose node was lost: their shards are allocated anew and the entities start on a survivor.</summary>
    private void WakeAgain(ImmutableArray<string> upstreams)
    {
        foreach (var upstream in upstreams)
        {
            if (_regions.TryGetValue(upstream, out var region))
                region.Tell(new WakeUpstream(upstream));
        }
    }

    private void OnClientRequest(ClientRequest request)
    {
        if (_directory.Find(request.RequestId)?.Client is not { } client)
        {
            Sender.Tell(new ClientReply(null, $"The call {request.RequestId} is over or has no client.", null));
            return;
        }

        client.RequestAsync(request.Method, request.Params, CancellationToken.None).PipeTo(Sender,
            success: result => new ClientReply(result, null, null),
            failure: ex =>
            {
                var cause = ex is AggregateException { InnerException: { } inner } ? inner : ex;
                return new ClientReply(null, cause.Message, cause is ModelContextProtocol.McpProtocolException protocol ? (int)protocol.ErrorCode : null);
            });
    }

    private void RefuseUnknown(IUpstreamMessage message)
    {
        var known = string.Join(", ", _options.Upstreams.Keys.Order(StringComparer.Ordinal));
        switch (message)
        {
            case CallTool or ForwardRequest:
                var requestId = message is CallTool call ? call.RequestId : ((ForwardRequest)message).RequestId;
                Sender.Tell(new ToolCallFailed(requestId, new SarkError(SarkErrorCode.NotFound,
                    $"Server '{message.Upstream}' is not known to this node. List the servers to see which are.")));
                break;
            case Operate operate:
                Sender.Tell(new OperatorFailed(operate.Upstream, new SarkError(SarkErrorCode.NotFound, $"No upstream '{operate.Upstream}'. Upstreams: {known}.")));
                break;
        }
    }
}
