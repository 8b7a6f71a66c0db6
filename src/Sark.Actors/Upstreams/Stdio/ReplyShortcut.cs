using System.Collections.Concurrent;
using Akka.Actor;
using Sark.Actors.Errors;
using Sark.Actors.Protocol;
using Sark.Actors.Telemetry;
using static Sark.Actors.Upstreams.UpstreamReplies;

namespace Sark.Actors.Upstreams.Stdio;

/// <summary>
/// Answers a plain tool call from the stdout reader of its connection, without the hop through
/// the connection's mailbox: the reader hands the result to the caller, and the connection gets an
/// <see cref="Answered"/> note for its books (the table of requests in flight, the failure count).
/// <para>
/// Only calls with nothing else to deliver are offered: no progress sink and no relayed client,
/// whose notifications go through the connection in stream order, before the answer. A call is
/// answered once, by whoever claims it first (<see cref="PendingCall.TryClaim"/>): the reader
/// here, or the connection when the call times out, is cancelled or fails with the process.
/// </para>
/// </summary>
internal sealed class ReplyShortcut(IActorRef connection, string upstream)
{
    private readonly ConcurrentDictionary<long, PendingCall> _offered = new();

    /// <summary>Calls offered and not yet answered or withdrawn.</summary>
    public int Count => _offered.Count;

    /// <summary>Offers a call before its request is written, so that its response always finds it.</summary>
    public void Offer(long id, PendingCall call) => _offered[id] = call;

    public void Withdraw(long id) => _offered.TryRemove(id, out _);

    public void Clear() => _offered.Clear();

    /// <summary>On the reader's thread: one message parsed off stdout, answered here or passed to the connection.</summary>
    public void Deliver(JsonRpcInbound message)
    {
        if (message is not JsonRpcInbound.Response { Id: { } id } response || !_offered.TryRemove(id, out var call))
        {
            connection.Tell(message);
            return;
        }

        // The note goes first: a caller that sends its next call as soon as it has this answer
        // finds the slot (max-in-flight) and the request id free in the connection's books.
        var claimed = call.TryClaim();
        connection.Tell(new Answered(id));
        if (claimed)
            call.ReplyTo!.Tell(Answer(upstream, call, response));
    }

    /// <summary>What a tool call's caller gets for its JSON-RPC response, counted in the request metrics.</summary>
    internal static object Answer(string upstream, PendingCall call, JsonRpcInbound.Response response)
    {
        if (response.Error is { } error)
        {
            SarkTelemetry.RecordRequest(upstream, "tools/call", "upstream_error", call.StartTimestamp, call.TraceParent);
            return new ToolCallFailed(call.RequestId!, new SarkError(
                SarkErrorCode.UpstreamError,
                $"Upstream '{upstream}' answered tools/call '{call.Tool}' with JSON-RPC error {error.Code}: {error.Message}",
                JsonRpcCode: error.Code,
                Data: error.Data));
        }

        var result = response.Result!.Value;
        var isError = McpMessages.IsToolError(result);
        SarkTelemetry.RecordRequest(upstream, "tools/call", isError ? "tool_error" : "ok", call.StartTimestamp, call.TraceParent);
        return new ToolCallCompleted(call.RequestId!, result, isError);
    }

    /// <summary>To the connection: the reader answered the call under this JSON-RPC id.</summary>
    public sealed record Answered(long Id) : INoSerializationVerificationNeeded;
}
