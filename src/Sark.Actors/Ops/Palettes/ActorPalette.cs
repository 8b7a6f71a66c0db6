using System.Diagnostics;
using System.Text.Json.Nodes;
using Akka.Actor;

namespace Sark.Actors.Ops.Palettes;

/// <summary><c>actor system</c> and <c>actor hierarchy [-d depth]</c>.</summary>
internal sealed class ActorPalette : OpsPalette
{
    public override PaletteDefinition Definition { get; } = new("actor", "The actor system and its tree.",
    [
        new CommandDefinition("system", "The actor system: name, uptime, Akka version, process.", []),
        new CommandDefinition("hierarchy", "The actor tree under /user, to a depth.",
        [
            ArgumentDefinition.Option("depth", "--depth", "How many levels below /user to show (1 to 20)", alias: "-d", @default: "4") with { Suggestions = ["2", "4", "8"] },
        ]),
    ]);

    public override Props CommandProps(OpsInvocation invocation) => Props.Create(() => new Command(invocation));

    private sealed class Command(OpsInvocation invocation) : OpsCommandActor(invocation)
    {
        protected override void PreStart()
        {
            if (Command.Name == "system")
                ShowSystem();
            else
                ShowHierarchy();
        }

        protected override void OnReceive(object message) => Unhandled(message);

        private void ShowSystem()
        {
            var system = Context.System;
            using var process = Process.GetCurrentProcess();
            var uptime = system.Uptime;
            Properties(
            [
                ("name", system.Name),
                ("address", ((ExtendedActorSystem)system).Provider.DefaultAddress.ToString()),
                ("akka_version", typeof(ActorSystem).Assembly.GetName().Version?.ToString(3)),
                ("sark_version", typeof(OpsPalette).Assembly.GetName().Version?.ToString(3)),
                ("started_at", Services.StartedAt.ToString("O")),
                ("uptime", $"{(int)uptime.TotalHours}h{uptime.Minutes:00}m{uptime.Seconds:00}s"),
                ("pid", Environment.ProcessId),
                ("working_set_mb", Math.Round(process.WorkingSet64 / 1024d / 1024d, 1)),
                ("upstreams", Services.Options.Upstreams.Count),
                ("clustered", ClusterMembers.IsClustered(system)),
            ]);
            Done();
        }

        private void ShowHierarchy()
        {
            var depth = Command.GetInt("depth", 4);
            if (depth is < 1 or > 20)
            {
                Fail("invalid_request", $"--depth must be from 1 to 20, not '{Command.Get("depth")}'.");
                return;
            }

            Columns("path", "type", "children");
            var guardian = ((ExtendedActorSystem)Context.System).Guardian;
            Walk(guardian, 0, depth);
            Done();
        }

        /// <summary>Local actors only: the children of an actor as its cell holds them right now.</summary>
        private void Walk(IActorRef actor, int level, int depth)
        {
            var children = actor is ActorRefWithCell withCell ? withCell.Children.OrderBy(c => c.Path.Name, StringComparer.Ordinal).ToList() : [];
            Row(new JsonObject
            {
                ["path"] = actor.Path.ToStringWithoutAddress(),
                ["type"] = actor is ActorRefWithCell cell ? ActorType(cell) : actor.GetType().Name,
                ["children"] = children.Count,
            });
            if (level >= depth)
                return;
            foreach (var child in children)
                Walk(child, level + 1, depth);
        }

        private static string ActorType(ActorRefWithCell cell) =>
            cell.Underlying is ActorCell { Props: { } props } ? props.Type?.Name ?? "?" : "?";
    }
}
