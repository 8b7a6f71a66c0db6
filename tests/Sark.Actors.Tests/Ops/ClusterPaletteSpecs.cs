using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster;
using Akka.Configuration;
using Akka.TestKit.Xunit2;
using Sark.Actors.Ops;
using Sark.Actors.Ops.Palettes;

namespace Sark.Actors.Tests.Ops;

/// <summary>The decisions of the <c>cluster</c> palette (rows, summary, which member a command acts on), without actors.</summary>
public sealed class ClusterMembersSpecs
{
    private static readonly Address A = new("akka.tcp", "sark", "127.0.0.1", 4053);
    private static readonly Address B = new("akka.tcp", "sark", "127.0.0.1", 4054);
    private static readonly Address C = new("akka.tcp", "sark", "127.0.0.1", 4055);

    private static ClusterSnapshot ThreeMembers() => new(
    [
        new ClusterMemberView(A, MemberStatus.Up, ["gateway", "stdio"], Reachable: true),
        new ClusterMemberView(B, MemberStatus.Up, [], Reachable: true),
        new ClusterMemberView(C, MemberStatus.WeaklyUp, ["stdio"], Reachable: false),
    ], Leader: A, Self: B);

    [Fact]
    public void Rows_mark_the_leader_this_node_and_the_unreachable_member()
    {
        var rows = ClusterMembers.Rows(ThreeMembers()).ToList();

        Assert.Equal(["akka.tcp://sark@127.0.0.1:4053", "akka.tcp://sark@127.0.0.1:4054", "akka.tcp://sark@127.0.0.1:4055"], rows.Select(r => (string?)r["address"]));
        Assert.Equal(["up", "up", "weakly_up"], rows.Select(r => (string?)r["status"]));
        Assert.Equal("gateway,stdio", (string?)rows[0]["roles"]);
        Assert.Equal([true, false, false], rows.Select(r => (bool)r["leader"]!));
        Assert.Equal([false, true, false], rows.Select(r => (bool)r["self"]!));
        Assert.Equal([true, true, false], rows.Select(r => (bool)r["reachable"]!));
        Assert.All(rows, r => Assert.Equal(ClusterMembers.Columns.AsEnumerable(), r.Select(p => p.Key)));
    }

    [Fact]
    public void The_summary_counts_members_up_and_unreachable()
    {
        Assert.Equal("3 members, 2 up, 1 unreachable; leader akka.tcp://sark@127.0.0.1:4053", ClusterMembers.Summary(ThreeMembers()));
        Assert.Equal("0 members, 0 up, 0 unreachable; leader none", ClusterMembers.Summary(new ClusterSnapshot([], null, A)));
    }

    [Fact]
    public void Leave_without_an_address_acts_on_this_node()
    {
        var (address, code, _) = ClusterMembers.Resolve(ThreeMembers(), null);

        Assert.Equal(B, address);
        Assert.Null(code);
    }

    [Fact]
    public void A_member_address_resolves_to_that_member()
    {
        var (address, code, _) = ClusterMembers.Resolve(ThreeMembers(), " akka.tcp://sark@127.0.0.1:4055 ");

        Assert.Equal(C, address);
        Assert.Null(code);
    }

    [Theory]
    [InlineData("127.0.0.1:4055")]
    [InlineData("not an address")]
    [InlineData("akka.tcp://sark")]
    public void A_text_that_is_no_address_is_an_invalid_request(string text)
    {
        var (address, code, error) = ClusterMembers.Resolve(ThreeMembers(), text);

        Assert.Null(address);
        Assert.Equal("invalid_request", code);
        Assert.Contains("akka.tcp://sark@HOST:PORT", error, StringComparison.Ordinal);
    }

    [Fact]
    public void An_address_that_is_no_member_is_not_found()
    {
        var (address, code, error) = ClusterMembers.Resolve(ThreeMembers(), "akka.tcp://sark@127.0.0.1:9999");

        Assert.Null(address);
        Assert.Equal("not_found", code);
        Assert.Contains("127.0.0.1:9999", error, StringComparison.Ordinal);
    }
}

/// <summary>The <c>cluster</c> palette's commands on a real one-member cluster (Akka.Remote on a free loopback port).</summary>
public sealed class ClusterPaletteSpecs() : TestKit(ConfigurationFactory.ParseString("""
    akka.actor.provider = cluster
    akka.remote.dot-netty.tcp { hostname = "127.0.0.1", port = 0 }
    akka.cluster.seed-nodes = []
    """))
{
    private List<object> Run(string command, params (string Name, string Value)[] values)
    {
        var palette = new ClusterPalette();
        var definition = palette.Definition.Find(command)!;
        var session = CreateTestProbe();
        var invocation = new OpsInvocation(new OpsCommand("cluster", definition, values.ToImmutableDictionary(v => v.Name, v => v.Value)), session, null!);
        Sys.ActorOf(palette.CommandProps(invocation));
        var frames = new List<object>();
        for (var i = 0; i < 20; i++)
        {
            var frame = session.ExpectMsg<object>(TimeSpan.FromSeconds(10));
            frames.Add(frame);
            if (frame is OpsOutput.Done or OpsOutput.Failed)
                return frames;
        }

        throw new InvalidOperationException("no final frame within 20 frames");
    }

    private void JoinSelf()
    {
        var cluster = Akka.Cluster.Cluster.Get(Sys);
        cluster.Join(cluster.SelfAddress);
        AwaitCondition(() => cluster.SelfMember.Status == MemberStatus.Up, TimeSpan.FromSeconds(15));
    }

    [Fact]
    public void Show_lists_this_node_up_leader_and_self()
    {
        JoinSelf();

        var frames = Run("show");

        var table = Assert.IsType<OpsOutput.Table>(frames[0]);
        var row = Assert.IsType<OpsOutput.Row>(Assert.Single(frames.OfType<OpsOutput.Row>())).Data;
        Assert.Equal(ClusterMembers.Columns.AsEnumerable(), table.Columns.AsEnumerable());
        Assert.Equal(Akka.Cluster.Cluster.Get(Sys).SelfAddress.ToString(), (string?)row["address"]);
        Assert.Equal("up", (string?)row["status"]);
        Assert.True((bool)row["leader"]! && (bool)row["self"]! && (bool)row["reachable"]!);
        Assert.StartsWith("1 members, 1 up, 0 unreachable", Assert.IsType<OpsOutput.Done>(frames[^1]).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Down_of_an_address_that_is_no_member_fails_with_not_found_and_downs_nothing()
    {
        JoinSelf();

        var failed = Assert.IsType<OpsOutput.Failed>(Assert.Single(Run("down", ("address", "akka.tcp://sark@127.0.0.1:1"))));
        var bad = Assert.IsType<OpsOutput.Failed>(Assert.Single(Run("down", ("address", "127.0.0.1:1"))));

        Assert.Equal("not_found", failed.Code);
        Assert.Equal("invalid_request", bad.Code);
        Assert.Equal(MemberStatus.Up, Akka.Cluster.Cluster.Get(Sys).SelfMember.Status);
    }
}

/// <summary>On a node that is not clustered, every <c>cluster</c> command answers <c>not_clustered</c>.</summary>
public sealed class ClusterPaletteLocalSpecs : TestKit
{
    [Theory]
    [InlineData("show")]
    [InlineData("leave")]
    [InlineData("down")]
    public void Every_command_answers_not_clustered(string command)
    {
        var palette = new ClusterPalette();
        var session = CreateTestProbe();
        var values = command == "down" ? ImmutableDictionary<string, string>.Empty.Add("address", "akka.tcp://sark@127.0.0.1:4053") : ImmutableDictionary<string, string>.Empty;
        Sys.ActorOf(palette.CommandProps(new OpsInvocation(new OpsCommand("cluster", palette.Definition.Find(command)!, values), session, null!)));

        var failed = session.ExpectMsg<OpsOutput.Failed>(TimeSpan.FromSeconds(10));

        Assert.Equal("not_clustered", failed.Code);
        Assert.Contains("sark.cluster.enabled = false", failed.Message, StringComparison.Ordinal);
    }
}
