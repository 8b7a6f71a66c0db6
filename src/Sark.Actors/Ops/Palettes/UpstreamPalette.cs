using System.Text.Json.Nodes;
using Akka.Actor;
using Sark.Actors.Configuration;
using Sark.Actors.Errors;
using static Sark.Actors.Upstreams.UpstreamCommands;
using static Sark.Actors.Upstreams.UpstreamReplies;

namespace Sark.Actors.Ops.Palettes;

/// <summary><c>upstream list|show|restart|stop|start</c> and <c>breaker list</c>: the upstream manager's status, and operator commands to the circuits.</summary>
internal sealed class UpstreamPalette : OpsPalette
{
    private static readonly ArgumentDefinition Name = ArgumentDefinition.Positional("name", "the upstream's name (see upstream list)");

    public override PaletteDefinition Definition { get; } = new("upstream", "Configured upstreams: status, and stop, start, restart.",
    [
        new CommandDefinition("list", "Every upstream: kind, state, breaker, restarts, process, tools.", []),
        new CommandDefinition("show", "One upstream in detail.", [Name]),
        new CommandDefinition("restart", "Stop the upstream's connection (its process for stdio) and start a fresh one now; waits until it is ready.", [Name])
            { Timeout = TimeSpan.FromSeconds(60) },
        new CommandDefinition("stop", "Stop the upstream and keep it down; calls are refused until it is started.", [Name]) { Timeout = TimeSpan.FromSeconds(30) },
        new CommandDefinition("start", "Start a stopped upstream.", [Name]),
    ]);

    public override Props CommandProps(OpsInvocation invocation) => Props.Create(() => new UpstreamCommand(invocation));

    /// <summary>One row of <c>upstream list</c>; in a cluster with the <c>node</c> that hosts it (the pid is that node's).</summary>
    internal static JsonObject Summary(UpstreamStatus s, bool clustered = false)
    {
        var row = new JsonObject
        {
            ["name"] = s.Name,
            ["kind"] = s.Kind.ToConfigName(),
            ["state"] = Wire(s.State.ToString()),
            ["breaker"] = Wire(s.Breaker.ToString()),
            ["restarts"] = s.RestartCount,
            ["pid"] = s.ProcessId,
            ["tools"] = s.ToolCount,
            ["last_error"] = s.LastError,
        };
        if (clustered)
            row["node"] = s.Node;
        return row;
    }

    /// <summary>The columns of <c>upstream list</c>.</summary>
    internal static string[] ListColumns(bool clustered) =>
        clustered
            ? ["name", "kind", "state", "breaker", "restarts", "pid", "tools", "last_error", "node"]
            : ["name", "kind", "state", "breaker", "restarts", "pid", "tools", "last_error"];

    internal static string Wire(string pascal) =>
        string.Concat(pascal.Select((c, i) => char.IsUpper(c) ? (i > 0 ? "-" : "") + char.ToLowerInvariant(c) : c.ToString()));

    private sealed class UpstreamCommand(OpsInvocation invocation) : OpsCommandActor(invocation), IWithTimers
    {
        private OperatorDone? _done;

        public ITimerScheduler Timers { get; set; } = null!;

        protected override void PreStart()
        {
            switch (Command.Name)
            {
                case "list" or "show":
                    Services.Children.Upstreams.Tell(ListUpstreams.Instance);
                    break;
                default:
                    var action = Enum.Parse<OperatorAction>(Command.Name, ignoreCase: true);
                    Services.Children.Upstreams.Tell(new Operate(Command.Get("name")!, action));
                    break;
            }
        }

        protected override void OnReceive(object message)
        {
            switch (message)
            {
                case UpstreamList list when _done is not null:
                    WaitForReady(list);
                    break;
                case UpstreamList list when Command.Name == "list":
                    var clustered = Services.Options.Cluster.Enabled;
                    Columns(ListColumns(clustered));
                    foreach (var status in list.Upstreams)
                        Row(Summary(status, clustered));
                    Done();
                    break;
                case UpstreamList list:
                    Show(list);
                    break;
                case OperatorFailed failed:
                    Fail(failed.Error.Code.ToWire(), failed.Error.Message);
                    break;
                case OperatorDone done when done.Action == OperatorAction.Stop:
                    Columns("name", "action", "previous_pid", "message");
                    Row(new JsonObject { ["name"] = done.Upstream, ["action"] = "stop", ["previous_pid"] = done.PreviousProcessId, ["message"] = done.Message });
                    Done();
                    break;
                case OperatorDone done when done.Action == OperatorAction.Start && done.Message.EndsWith("already running.", StringComparison.Ordinal):
                    Line(done.Message);
                    Done();
                    break;
                case OperatorDone done:
                    _done = done;
                    Services.Children.Upstreams.Tell(ListUpstreams.Instance);
                    break;
                case Poll:
                    Services.Children.Upstreams.Tell(ListUpstreams.Instance);
                    break;
                default:
                    Unhandled(message);
                    break;
            }
        }

        private void Show(UpstreamList list)
        {
            var name = Command.Get("name")!;
            var s = list.Upstreams.FirstOrDefault(u => u.Name == name);
            if (s is null)
            {
                Fail("not_found", $"No upstream '{name}'. Upstreams: {string.Join(", ", list.Upstreams.Select(u => u.Name))}.");
                return;
            }

            var options = Services.Options.Upstreams.GetValueOrDefault(name);
            Properties(
            [
                ("name", s.Name),
                ("kind", s.Kind.ToConfigName()),
                ("state", Wire(s.State.ToString())),
                ("breaker", Wire(s.Breaker.ToString())),
                ("restarts", s.RestartCount),
                ("consecutive_restarts", s.ConsecutiveRestarts),
                ("pid", s.ProcessId),
                ("node", s.Node),
                ("tools", s.ToolCount),
                ("connected_since", s.ConnectedSince?.ToString("O")),
                ("last_error", s.LastError),
                ("last_error_at", s.LastErrorAt?.ToString("O")),
                ("retry_after_s", s.RetryAfter is { } r ? Math.Round(r.TotalSeconds, 1) : null),
                ("target", options is null ? null : options.Kind == UpstreamKind.McpStdio ? string.Join(' ', options.Command) : options.Url),
                ("required", options?.Required),
                ("registry_health", s.RegistryHealth),
                ("cache_entries", s.Cache?.Entries),
            ]);
            Done();
        }

        /// <summary>After a start or restart: poll the status until the fresh connection is ready (the session's timeout bounds it).</summary>
        private void WaitForReady(UpstreamList list)
        {
            var s = list.Upstreams.FirstOrDefault(u => u.Name == _done!.Upstream);
            if (s is { State: UpstreamState.Ready, ConnectedSince: { } since } && since >= _done!.At)
            {
                Columns("name", "action", "previous_pid", "pid", "state", "message");
                Row(new JsonObject
                {
                    ["name"] = s.Name,
                    ["action"] = Command.Name,
                    ["previous_pid"] = _done.PreviousProcessId,
                    ["pid"] = s.ProcessId,
                    ["state"] = Wire(s.State.ToString()),
                    ["message"] = _done.Message,
                });
                Done();
                return;
            }

            Timers.StartSingleTimer("poll", Poll.Instance, TimeSpan.FromMilliseconds(200));
        }

        private sealed class Poll
        {
            public static readonly Poll Instance = new();
        }
    }
}

/// <summary><c>breaker list</c>: each upstream's circuit.</summary>
internal sealed class BreakerPalette : OpsPalette
{
    public override PaletteDefinition Definition { get; } = new("breaker", "Circuit breakers (the supervision tree of each upstream).",
    [
        new CommandDefinition("list", "Each upstream's breaker: state, restarts, consecutive failures, last error, next try.", []),
    ]);

    public override Props CommandProps(OpsInvocation invocation) => Props.Create(() => new Command(invocation));

    private sealed class Command(OpsInvocation invocation) : OpsCommandActor(invocation)
    {
        protected override void PreStart() => Services.Children.Upstreams.Tell(ListUpstreams.Instance);

        protected override void OnReceive(object message)
        {
            if (message is not UpstreamList list)
            {
                Unhandled(message);
                return;
            }

            Columns("upstream", "breaker", "state", "restarts", "consecutive", "retry_after_s", "last_error", "last_error_at");
            foreach (var s in list.Upstreams)
            {
                Row(new JsonObject
                {
                    ["upstream"] = s.Name,
                    ["breaker"] = UpstreamPalette.Wire(s.Breaker.ToString()),
                    ["state"] = UpstreamPalette.Wire(s.State.ToString()),
                    ["restarts"] = s.RestartCount,
                    ["consecutive"] = s.ConsecutiveRestarts,
                    ["retry_after_s"] = s.RetryAfter is { } r ? Math.Round(r.TotalSeconds, 1) : null,
                    ["last_error"] = s.LastError,
                    ["last_error_at"] = s.LastErrorAt?.ToString("O"),
                });
            }

            Done();
        }
    }
}
