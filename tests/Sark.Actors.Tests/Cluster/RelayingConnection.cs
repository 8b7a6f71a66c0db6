using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Text.Json;
using Akka.Actor;
using Sark.Actors.Configuration;
using Sark.Actors.Upstreams;
using static Sark.Actors.Upstreams.UpstreamCommands;
using static Sark.Actors.Upstreams.UpstreamReplies;

namespace Sark.Actors.Tests.Cluster;

/// <summary>
/// Stands in for a connection that, during a call, reports progress and asks the caller's client
/// (as a server's sampling request would), then answers with what the client said. The demo
/// server does neither, and the relays are what crosses nodes here.
/// </summary>
internal sealed class RelayingConnection : ReceiveActor
{
    public RelayingConnection(UpstreamOptions options, IActorRef owner)
    {
        var server = new ServerInfo(options.Name, options.Name, "stdio://relay", "low", ImmutableArray<string>.Empty, "healthy", 1, options.Name, "stdio", null, null, null, null);
        var tool = new ToolInfo("ask", options.Name, "Asks the caller's client", "low", [], [], [], null);
        owner.Tell(new ConnectionEvents.Started(Self, null));
        owner.Tell(ConnectionEvents.Ready.Single(Self, server, [tool]));
        Receive<CallTool>(call =>
        {
            var replyTo = Sender;
            call.Progress?.Report(new ToolProgress(1, 2, "half way"));
            if (call.ClientRequests is not { } client)
            {
                replyTo.Tell(new ToolCallFailed(call.RequestId, new Errors.SarkError(Errors.SarkErrorCode.InvalidRequest, "no client")));
                return;
            }

            client.Notify("notifications/message", JsonSerializer.SerializeToElement(new { level = "info", data = "asking" }));
            client.RequestAsync("sampling/createMessage", JsonSerializer.SerializeToElement(new { question = call.Tool }), CancellationToken.None)
                .PipeTo(replyTo,
                    success: answer => new ToolCallCompleted(call.RequestId, answer, false),
                    failure: ex => new ToolCallFailed(call.RequestId, new Errors.SarkError(Errors.SarkErrorCode.UpstreamError, ex.Message)));
        });
    }

    /// <summary>Connections for every upstream: this one for <paramref name="name"/>, the real kind for the others.</summary>
    public static Func<UpstreamOptions, IActorRef, Props> For(string name) =>
        (options, owner) => options.Name == name
            ? Props.Create(() => new RelayingConnection(options, owner))
            : UpstreamManager.ConnectionProps(options, owner);
}

/// <summary>A caller's client that answers every request with what it was asked, and keeps what it was told.</summary>
internal sealed class AnsweringClient : IUpstreamClient
{
    public ConcurrentQueue<string> Notified { get; } = new();

    public Task<JsonElement> RequestAsync(string method, JsonElement? parameters, CancellationToken cancellationToken) =>
        Task.FromResult(JsonSerializer.SerializeToElement(new { method, answered = parameters }));

    public void Notify(string method, JsonElement? parameters) => Notified.Enqueue(method);
}

/// <summary>Keeps every progress report (thread-safe, no synchronization context).</summary>
internal sealed class ProgressLog : IProgress<ToolProgress>
{
    public ConcurrentQueue<ToolProgress> Reports { get; } = new();

    public void Report(ToolProgress value) => Reports.Enqueue(value);
}

/// <summary>A caller's client that holds every request until <see cref="Answer"/>, and says when it was first asked.</summary>
internal sealed class GatedClient : IUpstreamClient
{
    private readonly TaskCompletionSource _asked = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _gate = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task Asked => _asked.Task;

    public void Answer() => _gate.TrySetResult();

    public async Task<JsonElement> RequestAsync(string method, JsonElement? parameters, CancellationToken cancellationToken)
    {
        _asked.TrySetResult();
        await _gate.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        return JsonSerializer.SerializeToElement(new { method, answered = parameters });
    }

    public void Notify(string method, JsonElement? parameters)
    {
    }
}
