using System.Net.ServerSentEvents;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace Sark.Host.FrontDoor;

#pragma warning disable MCP9006 // The event store belongs to the SDK's stateful Streamable HTTP, which is what sessions are.

/// <summary>
/// Keeps for resumption (<c>Last-Event-ID</c>) only the events of a session's GET stream, where
/// the server's own messages go (<c>list_changed</c>, relayed requests). A POST's response stream
/// carries one call's progress and its answer: the store would keep every answer of every call for
/// <c>resume-window</c> (millions at thousands of calls a second), so those events pass through
/// without an id, and a client whose POST breaks sends the request again.
/// </summary>
internal sealed class GetStreamEventStore(ISseEventStreamStore inner) : ISseEventStreamStore
{
    /// <summary>The SDK's stream id of a session's standalone GET stream.</summary>
    internal const string GetStreamId = "__get__";

    public ValueTask<ISseEventStreamWriter> CreateStreamAsync(SseEventStreamOptions options, CancellationToken cancellationToken = default) =>
        options.StreamId == GetStreamId
            ? inner.CreateStreamAsync(options, cancellationToken)
            : ValueTask.FromResult<ISseEventStreamWriter>(PassThrough.Instance);

    public ValueTask<ISseEventStreamReader?> GetStreamReaderAsync(string lastEventId, CancellationToken cancellationToken = default) =>
        inner.GetStreamReaderAsync(lastEventId, cancellationToken);

    private sealed class PassThrough : ISseEventStreamWriter
    {
        public static readonly PassThrough Instance = new();

        public ValueTask SetModeAsync(SseEventStreamMode mode, CancellationToken cancellationToken = default) => ValueTask.CompletedTask;

        public ValueTask<SseItem<JsonRpcMessage?>> WriteEventAsync(SseItem<JsonRpcMessage?> sseItem, CancellationToken cancellationToken = default) =>
            ValueTask.FromResult(sseItem);

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
#pragma warning restore MCP9006
