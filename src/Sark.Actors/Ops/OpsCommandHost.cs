using System.Collections.Immutable;
using System.Globalization;
using System.Net;
using Akka.Actor;
using Akka.Event;
using Akka.IO;

namespace Sark.Actors.Ops;

/// <summary>
/// <c>/user/sark/ops</c>: the console's TCP listener (Akka.IO). It binds <c>sark.node.ops.bind</c>,
/// logs (and optionally writes to <c>port-file</c>) the address it got, and starts one
/// <see cref="OpsSession"/> per connection, at most <c>max-sessions</c>.
/// </summary>
internal sealed class OpsCommandHost : UntypedActor
{
    private readonly OpsOptions _options;
    private readonly ImmutableDictionary<string, OpsPalette> _palettes;
    private readonly OpsServices _services;
    private readonly TaskCompletionSource<IPEndPoint> _bound;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly HashSet<IActorRef> _sessions = [];
    private IActorRef? _listener;
    private long _connections;

    public OpsCommandHost(OpsOptions options, ImmutableDictionary<string, OpsPalette> palettes, OpsServices services, TaskCompletionSource<IPEndPoint> bound)
    {
        _options = options;
        _palettes = palettes;
        _services = services;
        _bound = bound;
    }

    public static Props Props(OpsOptions options, ImmutableDictionary<string, OpsPalette> palettes, OpsServices services, TaskCompletionSource<IPEndPoint> bound) =>
        Akka.Actor.Props.Create(() => new OpsCommandHost(options, palettes, services, bound));

    protected override void PreStart() => Context.System.Tcp().Tell(new Tcp.Bind(Self, _options.EndPoint()));

    protected override void PostStop()
    {
        _listener?.Tell(Tcp.Unbind.Instance);
        _bound.TrySetException(new InvalidOperationException("The ops console stopped before it listened."));
    }

    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(_ => Directive.Stop);

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case Tcp.Bound bound:
                _listener = Sender;
                var address = (IPEndPoint)bound.LocalAddress;
                WritePortFile(address);
                _log.Info("Ops console listening on {Address}:{Port}{TokenNote}", address.Address, address.Port, _options.RequiresToken ? " (token required)" : "");
                _bound.TrySetResult(address);
                break;
            case Tcp.CommandFailed { Cmd: Tcp.Bind } failed:
                var reason = failed.CauseString ?? "the address is in use or not available";
                _log.Error("Ops console cannot listen on {Bind}: {Reason}", _options.Bind, reason);
                _bound.TrySetException(new OpsBindException($"the ops console cannot listen on {_options.Bind} (sark.node.ops.bind): {reason}"));
                break;
            case Tcp.Connected connected:
                var full = _sessions.Count >= _options.MaxSessions;
                var name = $"session-{++_connections}-{Uri.EscapeDataString(connected.RemoteAddress.ToString() ?? "client")}";
                var session = Context.ActorOf(OpsSession.Props(Sender, connected.RemoteAddress, _options, _palettes, _services, full), name);
                Context.Watch(session);
                _sessions.Add(session);
                Sender.Tell(new Tcp.Register(session));
                break;
            case Terminated terminated:
                _sessions.Remove(terminated.ActorRef);
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    private void WritePortFile(IPEndPoint address)
    {
        if (_options.PortFile.Length == 0)
            return;
        try
        {
            File.WriteAllText(_options.PortFile, string.Create(CultureInfo.InvariantCulture, $"{address.Address}:{address.Port}\n"));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            _log.Warning("Ops console: could not write port-file {PortFile}: {Reason}", _options.PortFile, ex.Message);
        }
    }
}

/// <summary>The command host could not listen on <c>sark.node.ops.bind</c> (the address is taken or not this machine's).</summary>
public sealed class OpsBindException(string message) : IOException(message);
