using System.Collections.Immutable;
using System.Text.Json;
using Akka.Actor;
using Sark.Actors;
using Sark.Actors.Configuration;
using Sark.Actors.Upstreams;
using static Sark.Actors.Upstreams.UpstreamCommands;
using static Sark.Actors.Upstreams.UpstreamReplies;

namespace Sark.Benchmarks.Load;

/// <summary>
/// A connection actor with no process behind it: it is ready at once and answers every
/// <c>echo</c> call with a fixed <c>Echo: hi</c> result. Put in place of the stdio connection,
/// it measures what the actor path alone costs (the <c>actors</c> path of the stdio command).
/// </summary>
internal sealed class InMemoryEchoConnection : UntypedActor
{
    private static readonly JsonElement Result = Parse("""{"content":[{"type":"text","text":"Echo: hi"}]}""");

    private readonly UpstreamOptions _options;
    private readonly IActorRef _owner;

    public InMemoryEchoConnection(UpstreamOptions options, IActorRef owner)
    {
        _options = options;
        _owner = owner;
    }

    public static Props Props(UpstreamOptions options, IActorRef owner) =>
        Akka.Actor.Props.Create(() => new InMemoryEchoConnection(options, owner));

    protected override void PreStart()
    {
        _owner.Tell(new ConnectionEvents.Started(Self, null));
        var server = new ServerInfo(_options.Name, _options.Name, $"memory://{_options.Name}", "medium", [], "healthy", 1,
            _options.Name, "memory", null, "in-memory echo", null, DateTimeOffset.UtcNow);
        ImmutableArray<ToolInfo> tools = [new ToolInfo("echo", _options.Name, "Echoes back the input string", "medium", [], [], [], null)];
        _owner.Tell(ConnectionEvents.Ready.Single(Self, server, tools));
    }

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case CallTool call:
                Sender.Tell(new ToolCallCompleted(call.RequestId, Result, false));
                break;
            case CancelCall:
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    private static JsonElement Parse(string json)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.Clone();
    }
}
