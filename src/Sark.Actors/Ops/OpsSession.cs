using System.Collections.Immutable;
using System.Net;
using System.Text.Json.Nodes;
using Akka.Actor;
using Akka.Event;
using Akka.IO;

namespace Sark.Actors.Ops;

/// <summary>
/// One console connection: sends <c>hello</c> and the catalogue (after <c>auth</c> when a token
/// is required), then runs one command at a time as a child actor from its palette, turns what
/// it says into frames, and ends it with a final frame: done, failed, <c>command_timeout</c>,
/// or <c>cancelled</c>. Writes wait for Akka.IO's acknowledgement, with a bounded queue.
/// </summary>
internal sealed partial class OpsSession : UntypedActor, IWithTimers
{
    private readonly IActorRef _connection;
    private readonly EndPoint _remote;
    private readonly OpsOptions _options;
    private readonly ImmutableDictionary<string, OpsPalette> _palettes;
    private readonly ImmutableDictionary<string, PaletteDefinition> _definitions;
    private readonly OpsServices _services;
    private readonly bool _refuse;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly FrameSplitter _splitter = new();
    private bool _authenticated;
    private Running? _running;
    private long _commands;

    public OpsSession(
        IActorRef connection, EndPoint remote, OpsOptions options, ImmutableDictionary<string, OpsPalette> palettes, OpsServices services, bool refuse)
    {
        _connection = connection;
        _remote = remote;
        _options = options;
        _palettes = palettes;
        _definitions = palettes.ToImmutableDictionary(p => p.Key, p => p.Value.Definition, StringComparer.Ordinal);
        _services = services;
        _refuse = refuse;
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(
        IActorRef connection, EndPoint remote, OpsOptions options, ImmutableDictionary<string, OpsPalette> palettes, OpsServices services, bool refuse) =>
        Akka.Actor.Props.Create(() => new OpsSession(connection, remote, options, palettes, services, refuse));

    private sealed record Running(string? Id, IActorRef Actor);

    private sealed record TimedOut(string? Id, TimeSpan After);

    protected override void PreStart()
    {
        Context.Watch(_connection);
        if (_refuse)
        {
            Send(OpsFrames.Error(null, "too_many_sessions", $"This node already serves {_options.MaxSessions} console sessions (sark.node.ops.max-sessions). Try again later."));
            Close();
            return;
        }

        Send(OpsFrames.Hello($"{Context.System.Name}@{Environment.MachineName}", _options.RequiresToken));
        if (!_options.RequiresToken)
            Authenticated();
    }

    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(_ => Directive.Stop);

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case Tcp.Received received:
                foreach (var line in _splitter.Push(received.Data.ToArray()))
                    OnFrame(line);
                if (_splitter.Overflowed)
                {
                    Send(OpsFrames.Error(null, "too_large", $"A frame was longer than {OpsFrames.MaxInboundFrame} bytes; the connection is closed."));
                    Close();
                }

                break;
            case OpsOutput.Table table when IsCurrent():
                Send(OpsFrames.Table(_running!.Id, table.Columns));
                break;
            case OpsOutput.Row row when IsCurrent():
                Send(OpsFrames.Row(_running!.Id, row.Data));
                break;
            case OpsOutput.Line line when IsCurrent():
                Send(OpsFrames.Line(_running!.Id, line.Text));
                break;
            case OpsOutput.Done done when IsCurrent():
                Finish(OpsFrames.Ok(_running!.Id, done.Message));
                break;
            case OpsOutput.Failed failed when IsCurrent():
                Finish(OpsFrames.Error(_running!.Id, failed.Code, failed.Message));
                break;
            case TimedOut timedOut when _running is not null && _running.Id == timedOut.Id:
                Finish(OpsFrames.Error(_running.Id, "command_timeout", $"The command did not finish within {timedOut.After.TotalSeconds:0.###}s; it was stopped."));
                break;
            case Terminated terminated when terminated.ActorRef.Equals(_connection):
                Context.Stop(Self);
                break;
            case Terminated terminated when _running is not null && terminated.ActorRef.Equals(_running.Actor):
                Finish(OpsFrames.Error(_running.Id, "command_failed", "The command stopped without an answer (the node's log says why)."));
                break;
            case Ack:
                OnAck();
                break;
            case Tcp.ConnectionClosed:
                Context.Stop(Self);
                break;
            case Tcp.CommandFailed:
                _log.Warning("Ops console: a write to {Remote} failed; closing the session", _remote);
                Context.Stop(Self);
                break;
            case OpsOutput.Table or OpsOutput.Row or OpsOutput.Line or OpsOutput.Done or OpsOutput.Failed or TimedOut or Terminated:
                // From a command that already ended.
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    private bool IsCurrent() => _running is not null && Sender.Equals(_running.Actor);

    private void OnFrame(string line)
    {
        if (_closing)
            return;
        var frame = OpsFrames.Decode(line);
        if (frame is null)
        {
            Send(OpsFrames.Error(null, "invalid_request", "A frame must be one JSON object with a \"type\", on one line."));
            return;
        }

        var type = frame.Text("type");
        if (!_authenticated)
        {
            if (type == "auth" && _options.TokenMatches(frame.Text("token")))
            {
                Authenticated();
                return;
            }

            _log.Warning("Ops console: refused a client at {Remote}: {Reason}", _remote, type == "auth" ? "wrong token" : "no token");
            Send(OpsFrames.Error(null, "unauthenticated",
                type == "auth" ? "The token is not valid for this node." : "This node requires a token: send an auth frame first (sark --token, or SARK_OPS_TOKEN)."));
            Close();
            return;
        }

        switch (type)
        {
            case "auth":
                break;
            case "run":
                Run(frame);
                break;
            case "cancel" when _running is not null && _running.Id == frame.Text("id"):
                Finish(OpsFrames.Error(_running.Id, "cancelled", "The command was cancelled."));
                break;
            case "cancel":
                break;
            default:
                Send(OpsFrames.Error(frame.Text("id"), "invalid_request", $"Unknown frame type '{type}'; send run, cancel or auth."));
                break;
        }
    }

    private void Authenticated()
    {
        _authenticated = true;
        Send(OpsFrames.Catalogue(_definitions.Values.OrderBy(p => p.Name, StringComparer.Ordinal)));
    }

    private void Run(JsonObject frame)
    {
        var id = frame.Text("id");
        if (_running is not null)
        {
            Send(OpsFrames.Error(id, "invalid_request", $"Command '{_running.Id}' is still running; wait for its final frame or cancel it."));
            return;
        }

        if (frame["argv"] is not JsonArray array || array.Any(n => n is not JsonValue v || !v.TryGetValue<string>(out _)))
        {
            Send(OpsFrames.Error(id, "invalid_request", "A run frame needs \"argv\": an array of strings."));
            return;
        }

        var argv = array.Select(n => n!.GetValue<string>()).ToList();
        var parsed = OpsCommandParser.Parse(argv, _definitions);
        if (parsed.Command is not { } command)
        {
            Send(OpsFrames.Error(id, parsed.Code!, parsed.Error!));
            return;
        }

        var timeout = Timeout(command, frame);
        var props = _palettes[command.Palette].CommandProps(new OpsInvocation(command, Self, _services));
        var actor = Context.ActorOf(props, $"cmd-{++_commands}");
        Context.Watch(actor);
        _running = new Running(id, actor);
        Timers.StartSingleTimer("timeout", new TimedOut(id, timeout), timeout);
    }

    private TimeSpan Timeout(OpsCommand command, JsonObject frame)
    {
        var timeout = command.Definition.Timeout ?? _options.DefaultTimeout;
        if (command.Definition.FollowFlag is { } follow && command.Has(follow))
            timeout = _options.MaxTimeout;
        if (frame["timeout_ms"] is JsonValue v && v.TryGetValue<long>(out var ms) && ms > 0)
            timeout = TimeSpan.FromMilliseconds(ms);
        return timeout > _options.MaxTimeout ? _options.MaxTimeout : timeout;
    }

    private void Finish(JsonObject final)
    {
        var running = _running!;
        _running = null;
        Timers.Cancel("timeout");
        Context.Unwatch(running.Actor);
        Context.Stop(running.Actor);
        Send(final);
    }
}
