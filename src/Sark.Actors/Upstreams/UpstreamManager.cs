using System.Collections.Immutable;
using Akka.Actor;
using Akka.Event;
using Sark.Actors.Configuration;
using Sark.Actors.Errors;
using Sark.Actors.Upstreams.Stdio;
using static Sark.Actors.Upstreams.UpstreamCommands;
using static Sark.Actors.Upstreams.UpstreamReplies;

namespace Sark.Actors.Upstreams;

/// <summary>
/// The transport manager: one <see cref="UpstreamCircuit"/> child per configured upstream
/// (named after it, escaped), and the router of every upstream-addressed message. It keeps the
/// last status each circuit published, so status queries never wait on a child.
/// </summary>
internal sealed class UpstreamManager : UntypedActor
{
    private readonly Dictionary<string, IActorRef> _circuits = new(StringComparer.Ordinal);
    private readonly SortedDictionary<string, UpstreamStatus> _statuses = new(StringComparer.Ordinal);
    private readonly SarkOptions _options;
    private readonly IActorRef _catalog;
    private readonly Func<UpstreamOptions, IActorRef, Props> _connectionProps;
    private readonly CircuitBoard? _board;
    private readonly Events.EventJournal? _journal;

    public UpstreamManager(
        SarkOptions options, IActorRef catalog, Func<UpstreamOptions, IActorRef, Props>? connectionProps, CircuitBoard? board, Events.EventJournal? journal)
    {
        _journal = journal;
        _options = options;
        _catalog = catalog;
        _connectionProps = connectionProps ?? ConnectionProps;
        _board = board;
    }

    public static Props Props(
        SarkOptions options, IActorRef catalog, Func<UpstreamOptions, IActorRef, Props>? connectionProps = null, CircuitBoard? board = null,
        Events.EventJournal? journal = null) =>
        Akka.Actor.Props.Create(() => new UpstreamManager(options, catalog, connectionProps, board, journal));

    /// <summary>The connection actor for an upstream's kind.</summary>
    public static Props ConnectionProps(UpstreamOptions options, IActorRef owner) => options.Kind switch
    {
        UpstreamKind.McpStdio => StdioServer.Props(options, owner),
        UpstreamKind.McpHttp => McpHttp.McpHttpServer.Props(options, owner),
        UpstreamKind.Gateway => Gateway.GatewayConnection.Props(options, owner),
        _ => throw new SarkConfigException(
            $"sark.upstreams.{options.Name}.kind: upstreams of kind {options.Kind.ToConfigName()} are not available in this version."),
    };

    protected override void PreStart()
    {
        foreach (var upstream in _options.Upstreams.Values)
        {
            var circuit = Context.ActorOf(UpstreamCircuit.Props(upstream, _catalog, _connectionProps, _board), Uri.EscapeDataString(upstream.Name));
            _circuits[upstream.Name] = circuit;
        }
    }

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case IUpstreamMessage routed when _circuits.TryGetValue(routed.Upstream, out var circuit):
                circuit.Forward(routed);
                break;
            case CallTool call:
                Sender.Tell(new ToolCallFailed(call.RequestId, new SarkError(SarkErrorCode.NotFound,
                    $"Server '{call.Upstream}' is not known to this node. List the servers to see which are.")));
                break;
            case Operate operate:
                Sender.Tell(new OperatorFailed(operate.Upstream, new SarkError(SarkErrorCode.NotFound,
                    $"No upstream '{operate.Upstream}'. Upstreams: {string.Join(", ", _circuits.Keys.Order(StringComparer.Ordinal))}.")));
                break;
            case ForwardRequest request:
                Sender.Tell(new ToolCallFailed(request.RequestId, new SarkError(SarkErrorCode.NotFound,
                    $"Server '{request.Upstream}' is not known to this node. List the servers to see which are.")));
                break;
            case IUpstreamMessage:
                break;
            case StatusChanged changed:
                var previous = _statuses.GetValueOrDefault(changed.Status.Name);
                _statuses[changed.Status.Name] = changed.Status;
                Events.NodeEvents.UpstreamStateChanged(_journal, previous, changed.Status);
                break;
            case ListUpstreams:
                Sender.Tell(new UpstreamList([.. _statuses.Values]));
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    /// <summary>A circuit's latest status.</summary>
    internal sealed record StatusChanged(UpstreamStatus Status) : IDeadLetterSuppression;
}
