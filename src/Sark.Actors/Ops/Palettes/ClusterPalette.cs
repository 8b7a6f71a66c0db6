using System.Collections.Immutable;
using System.Text.Json.Nodes;
using Akka.Actor;
using Akka.Cluster;

namespace Sark.Actors.Ops.Palettes;

/// <summary>
/// <c>cluster show|leave|down</c>: the Akka.Cluster membership as this node sees it, and the two
/// ways out of it. On a node that is not clustered (<c>sark.cluster.enabled = false</c>) every
/// command answers <c>not_clustered</c>.
/// </summary>
internal sealed class ClusterPalette : OpsPalette
{
    public override PaletteDefinition Definition { get; } = new("cluster", "Akka.Cluster membership (when the node is clustered).",
    [
        new CommandDefinition("show", "Members with their address, status and roles, the leader, unreachable nodes and this node.", []),
        new CommandDefinition("leave", "This node (or ADDRESS) leaves the cluster gracefully; its upstreams move first.", [ArgumentDefinition.Positional("address", "a member's address, akka.tcp://sark@HOST:PORT", mandatory: false)]),
        new CommandDefinition("down", "Mark ADDRESS (a member you know is dead) as down, so that the cluster goes on without it.", [ArgumentDefinition.Positional("address", "a member's address, akka.tcp://sark@HOST:PORT")]),
    ]);

    public override Props CommandProps(OpsInvocation invocation) => Props.Create(() => new Command(invocation));

    private sealed class Command(OpsInvocation invocation) : OpsCommandActor(invocation)
    {
        protected override void PreStart()
        {
            var system = Context.System;
            if (!ClusterMembers.IsClustered(system))
            {
                Fail("not_clustered", $"This node is not clustered (akka.actor.provider = {system.Settings.ProviderClass.Split(',')[0]}; sark.cluster.enabled = false): there are no members to show, leave or down.");
                return;
            }

            var cluster = Akka.Cluster.Cluster.Get(system);
            var state = ClusterMembers.Snapshot(cluster.State, cluster.SelfAddress);
            switch (Command.Name)
            {
                case "show":
                    Columns([.. ClusterMembers.Columns]);
                    foreach (var row in ClusterMembers.Rows(state))
                        Row(row);
                    Done(ClusterMembers.Summary(state));
                    break;
                case "leave" or "down":
                    var target = ClusterMembers.Resolve(state, Command.Get("address"));
                    if (target.Error is { } error)
                    {
                        Fail(target.Code!, error);
                        return;
                    }

                    if (Command.Name == "leave")
                        cluster.Leave(target.Address!);
                    else
                        cluster.Down(target.Address!);
                    Done(Command.Name == "leave"
                        ? $"{target.Address} is leaving: its upstreams move to the other members, then it stops."
                        : $"{target.Address} is marked down: the cluster goes on without it.");
                    break;
                default:
                    Fail("not_found", $"No command 'cluster {Command.Name}'.");
                    break;
            }
        }

        protected override void OnReceive(object message) => Unhandled(message);
    }
}

/// <summary>One member as <c>cluster show</c> shows it.</summary>
internal sealed record ClusterMemberView(Address Address, MemberStatus Status, ImmutableArray<string> Roles, bool Reachable);

/// <summary>The membership at one moment: the members (sorted by address), the leader and this node.</summary>
internal sealed record ClusterSnapshot(ImmutableArray<ClusterMemberView> Members, Address? Leader, Address Self);

/// <summary>The decisions behind the <c>cluster</c> palette, without actors.</summary>
internal static class ClusterMembers
{
    public static readonly ImmutableArray<string> Columns = ["address", "status", "roles", "leader", "reachable", "self"];

    /// <summary>True when the actor system runs the cluster provider.</summary>
    public static bool IsClustered(ActorSystem system) => ((ExtendedActorSystem)system).Provider is ClusterActorRefProvider;

    public static ClusterSnapshot Snapshot(ClusterEvent.CurrentClusterState state, Address self)
    {
        var unreachable = state.Unreachable.Select(m => m.Address).ToHashSet();
        return new ClusterSnapshot(
            [.. state.Members.Select(m => new ClusterMemberView(m.Address, m.Status, [.. m.Roles.Order(StringComparer.Ordinal)], !unreachable.Contains(m.Address)))
                .OrderBy(m => m.Address.ToString(), StringComparer.Ordinal)],
            state.Leader,
            self);
    }

    /// <summary>The status as the console writes it: <c>up</c>, <c>weakly_up</c>, <c>leaving</c>, ...</summary>
    public static string StatusName(MemberStatus status) => status switch
    {
        MemberStatus.WeaklyUp => "weakly_up",
        _ => status.ToString().ToLowerInvariant(),
    };

    public static IEnumerable<JsonObject> Rows(ClusterSnapshot snapshot) =>
        snapshot.Members.Select(m => new JsonObject
        {
            ["address"] = m.Address.ToString(),
            ["status"] = StatusName(m.Status),
            ["roles"] = string.Join(",", m.Roles),
            ["leader"] = m.Address.Equals(snapshot.Leader),
            ["reachable"] = m.Reachable,
            ["self"] = m.Address.Equals(snapshot.Self),
        });

    public static string Summary(ClusterSnapshot snapshot)
    {
        var up = snapshot.Members.Count(m => m.Status == MemberStatus.Up);
        var unreachable = snapshot.Members.Count(m => !m.Reachable);
        return $"{snapshot.Members.Length} members, {up} up, {unreachable} unreachable; leader {snapshot.Leader?.ToString() ?? "none"}";
    }

    /// <summary>
    /// The member that <c>leave</c> or <c>down</c> acts on: <paramref name="text"/> (this node when
    /// absent). A text that is no address is <c>invalid_request</c>; an address that is no member is <c>not_found</c>.
    /// </summary>
    public static (Address? Address, string? Code, string? Error) Resolve(ClusterSnapshot snapshot, string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
            return (snapshot.Self, null, null);
        Address address;
        try
        {
            address = Address.Parse(text.Trim());
        }
        catch (Exception ex) when (ex is UriFormatException or ArgumentException or FormatException)
        {
            return (null, "invalid_request", $"'{text}' is not a member address (akka.tcp://sark@HOST:PORT, as cluster show lists them).");
        }

        if (address.Host is null || address.Port is null)
            return (null, "invalid_request", $"'{text}' is not a member address (akka.tcp://sark@HOST:PORT, as cluster show lists them).");
        return snapshot.Members.Any(m => m.Address.Equals(address))
            ? (address, null, null)
            : (null, "not_found", $"{address} is not a member of this cluster (cluster show lists them).");
    }
}
