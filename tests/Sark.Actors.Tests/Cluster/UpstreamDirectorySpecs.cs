using Akka.Actor;
using Sark.Actors.Cluster;
using Sark.Actors.Configuration;
using Sark.Actors.Upstreams;
using static Sark.Actors.Cluster.ClusterMessages;

namespace Sark.Actors.Tests.Cluster;

/// <summary>What a cluster node knows of every upstream: statuses, hosts, lost nodes and calls in flight (pure).</summary>
public sealed class UpstreamDirectorySpecs
{
    private static readonly DateTimeOffset Now = new(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);
    private const string NodeA = "akka.tcp://sark@127.0.0.1:4053";
    private const string NodeB = "akka.tcp://sark@127.0.0.1:4054";

    private static readonly SarkOptions Options = TestUpstreams.With(TestUpstreams.Demo("alpha"), TestUpstreams.Demo("beta")) with
    {
        Cluster = new ClusterOptions { Enabled = true, StableAfter = TimeSpan.FromSeconds(7) },
    };

    private static HostedStatus Hosted(string name, string host, string incarnation, long seq, UpstreamState state = UpstreamState.Ready, int secondsLater = 0) =>
        new(CircuitState.Initial(name, UpstreamKind.McpStdio).ToStatus(Now) with { State = state }, host, incarnation, seq, Now.AddSeconds(secondsLater));

    private static UpstreamDirectory.PendingCall Call(string id, string upstream, DateTimeOffset? deadline = null) =>
        new(id, upstream, ActorRefs.Nobody, null, null, deadline ?? Now.AddMinutes(1));

    [Fact]
    public void Before_any_report_an_upstream_is_connecting_on_no_node()
    {
        var directory = new UpstreamDirectory(Options);

        var statuses = directory.Statuses(Now);

        Assert.Equal(["alpha", "beta"], statuses.Select(s => s.Name));
        Assert.All(statuses, s => Assert.Equal(UpstreamState.Connecting, s.State));
        Assert.All(statuses, s => Assert.Null(s.Node));
        Assert.Null(directory.BoardOf("alpha", Now));
    }

    [Fact]
    public void A_later_status_of_the_same_entity_wins_and_an_older_one_is_ignored()
    {
        var directory = new UpstreamDirectory(Options);

        Assert.True(directory.Apply(Hosted("alpha", NodeA, "i1", 2, UpstreamState.Ready)));
        Assert.False(directory.Apply(Hosted("alpha", NodeA, "i1", 1, UpstreamState.Connecting)));

        var status = directory.StatusOf(Options.Upstreams["alpha"], Now);
        Assert.Equal(UpstreamState.Ready, status.State);
        Assert.Equal(NodeA, status.Node);
    }

    [Fact]
    public void A_new_entity_elsewhere_wins_when_written_later_whatever_its_sequence()
    {
        var directory = new UpstreamDirectory(Options);
        directory.Apply(Hosted("alpha", NodeA, "old", 40));

        Assert.False(directory.Apply(Hosted("alpha", NodeB, "new", 1, secondsLater: -5)));
        Assert.True(directory.Apply(Hosted("alpha", NodeB, "new", 1, secondsLater: 5)));
        Assert.Equal(NodeB, directory.HostOf("alpha"));
    }

    [Fact]
    public void Statuses_of_unknown_upstreams_are_ignored()
    {
        var directory = new UpstreamDirectory(Options);

        Assert.False(directory.Apply(Hosted("ghost", NodeA, "i", 1)));
        Assert.Equal(2, directory.Statuses(Now).Length);
    }

    [Fact]
    public void A_lost_node_opens_the_circuits_of_what_it_hosted_until_a_new_host_reports()
    {
        var directory = new UpstreamDirectory(Options);
        directory.Apply(Hosted("alpha", NodeA, "a", 1));
        directory.Apply(Hosted("beta", NodeB, "b", 1));

        Assert.Equal(["alpha"], directory.NodeLost(NodeA).ToArray());

        var alpha = directory.StatusOf(Options.Upstreams["alpha"], Now);
        Assert.Equal(BreakerState.Open, alpha.Breaker);
        Assert.Contains(NodeA, alpha.LastError);
        Assert.Equal(TimeSpan.FromSeconds(7), alpha.RetryAfter);
        Assert.Equal(Now.AddSeconds(7), directory.BoardOf("alpha", Now)!.NextTryAt);
        Assert.Null(directory.BoardOf("beta", Now));
        Assert.Equal(["alpha"], directory.Orphans().ToArray());

        directory.Apply(Hosted("alpha", NodeB, "a2", 1, secondsLater: 3));
        Assert.Empty(directory.Orphans());
        Assert.Equal(BreakerState.Closed, directory.StatusOf(Options.Upstreams["alpha"], Now).Breaker);
        Assert.Null(directory.BoardOf("alpha", Now));
    }

    [Fact]
    public void A_node_that_is_reachable_again_serves_its_upstreams_again()
    {
        var directory = new UpstreamDirectory(Options);
        directory.Apply(Hosted("alpha", NodeA, "a", 1));
        directory.NodeLost(NodeA);

        Assert.Equal(["alpha"], directory.NodeBack(NodeA).ToArray());
        Assert.Empty(directory.NodeBack(NodeA));
        Assert.Null(directory.BoardOf("alpha", Now));
    }

    [Fact]
    public void Calls_in_flight_to_a_lost_node_are_taken_and_the_others_stay()
    {
        var directory = new UpstreamDirectory(Options);
        directory.Apply(Hosted("alpha", NodeA, "a", 1));
        directory.Apply(Hosted("beta", NodeB, "b", 1));
        directory.Track(Call("r1", "alpha"));
        directory.Track(Call("r2", "beta"));
        directory.Track(Call("r3", "alpha"));

        var taken = directory.TakeCallsHostedAt(NodeA);

        Assert.Equal(["r1", "r3"], taken.Select(c => c.RequestId).Order());
        Assert.Equal(1, directory.PendingCount);
        Assert.NotNull(directory.Find("r2"));
    }

    [Fact]
    public void An_answered_call_is_forgotten_and_expired_ones_are_swept()
    {
        var directory = new UpstreamDirectory(Options);
        directory.Track(Call("r1", "alpha"));
        directory.Track(Call("r2", "alpha", deadline: Now.AddSeconds(-1)));

        Assert.Equal("r1", directory.Complete("r1")!.RequestId);
        Assert.Null(directory.Complete("r1"));
        Assert.Equal(["r2"], directory.TakeExpired(Now).Select(c => c.RequestId));
        Assert.Equal(0, directory.PendingCount);
    }

    [Fact]
    public void A_call_no_entity_accepted_is_due_again_after_the_wait_and_then_not_before_the_next_wait()
    {
        var directory = new UpstreamDirectory(Options);
        var wait = TimeSpan.FromSeconds(2);
        directory.Track(Call("r-1", "alpha") with { Unaccepted = "wire r-1", SentAt = Now });
        directory.Track(Call("r-2", "alpha") with { Unaccepted = "wire r-2", SentAt = Now });
        directory.Track(Call("r-3", "beta") with { Unaccepted = "wire r-3", SentAt = Now });
        directory.Accept("r-2");
        directory.Accept("unknown");

        Assert.Empty(directory.DueAgain(Now.AddSeconds(1), wait));
        Assert.Equal(["r-1", "r-3"], directory.DueAgain(Now.AddSeconds(2), wait).Select(c => c.RequestId).Order());
        Assert.Empty(directory.DueAgain(Now.AddSeconds(3), wait));
        directory.Accept("r-3");
        Assert.Equal(["r-1"], directory.DueAgain(Now.AddSeconds(4), wait).Select(c => c.RequestId));
        directory.Complete("r-1");
        Assert.Empty(directory.DueAgain(Now.AddSeconds(9), wait));
        Assert.Equal(2, directory.PendingCount);
    }
}

/// <summary>Which shard regions a node runs and where each upstream lives (pure).</summary>
public sealed class UpstreamShardsSpecs
{
    [Fact]
    public void Upstreams_without_a_role_share_one_region_that_every_node_hosts()
    {
        var options = TestUpstreams.With(TestUpstreams.Demo("b"), TestUpstreams.Demo("a"));

        var plan = UpstreamShards.Plan(options);

        var group = Assert.Single(plan);
        Assert.Equal(UpstreamShards.DefaultTypeName, group.TypeName);
        Assert.Null(group.Role);
        Assert.True(group.HostedHere);
        Assert.Equal(["a", "b"], group.Upstreams.ToArray());
    }

    [Fact]
    public void An_upstream_role_gets_its_own_region_hosted_where_the_role_is_and_proxied_elsewhere()
    {
        var shared = TestUpstreams.With(TestUpstreams.Demo("plain"), TestUpstreams.Demo("gpu") with { ClusterRole = "gpu box" });
        var withRole = shared with { Cluster = new ClusterOptions { Roles = ["gpu box"] } };

        var here = UpstreamShards.Plan(withRole);
        var elsewhere = UpstreamShards.Plan(shared);

        Assert.Equal(["sark-upstreams", "sark-upstreams-gpu%20box"], here.Select(g => g.TypeName));
        Assert.True(here.Single(g => g.Role == "gpu box").HostedHere);
        Assert.False(elsewhere.Single(g => g.Role == "gpu box").HostedHere);
        Assert.Equal(["gpu"], elsewhere.Single(g => g.Role == "gpu box").Upstreams.ToArray());
    }

    [Fact]
    public void The_nodes_upstream_role_applies_unless_an_upstream_names_its_own()
    {
        var cluster = new ClusterOptions { UpstreamRole = "upstreams" };

        Assert.Equal("upstreams", UpstreamShards.RoleOf(TestUpstreams.Demo("a"), cluster));
        Assert.Equal("stdio", UpstreamShards.RoleOf(TestUpstreams.Demo("a") with { ClusterRole = "stdio" }, cluster));
        Assert.Null(UpstreamShards.RoleOf(TestUpstreams.Demo("a"), new ClusterOptions()));
    }

    [Fact]
    public void Fewer_members_up_than_min_nr_of_members_is_a_stall_a_new_coordinator_would_not_get_past()
    {
        var group = Assert.Single(UpstreamShards.Plan(TestUpstreams.With(TestUpstreams.Demo("alpha"), TestUpstreams.Demo("beta"))));

        // Three nodes started with min-nr-of-members = 3 lose one: a coordinator started now waits for a third region.
        var warning = UpstreamShards.CoordinatorStall(group, membersUp: 2, minMembers: 3);

        Assert.NotNull(warning);
        Assert.Contains("2 member(s) up, fewer than the 3", warning, StringComparison.Ordinal);
        Assert.Contains("sark-upstreams", warning, StringComparison.Ordinal);
        Assert.Contains("alpha, beta", warning, StringComparison.Ordinal);
        Assert.Null(UpstreamShards.CoordinatorStall(group, membersUp: 2, minMembers: 2));
        Assert.Null(UpstreamShards.CoordinatorStall(group, membersUp: 1, minMembers: 1));
        var gpu = new ShardGroup("sark-upstreams-gpu", "gpu", HostedHere: true, ["g"]);
        Assert.Contains("with role gpu up", UpstreamShards.CoordinatorStall(gpu, membersUp: 0, minMembers: 1), StringComparison.Ordinal);
    }

    [Fact]
    public void The_entity_id_is_the_upstream_name_and_other_messages_have_none()
    {
        var extractor = new UpstreamShards.Extractor(30);

        Assert.Equal("alpha", extractor.EntityId(new WakeUpstream("alpha")));
        Assert.Equal("alpha", extractor.EntityId(new UpstreamCommands.CancelCall("r", "alpha")));
        Assert.Null(extractor.EntityId("not an upstream message"));
        Assert.Equal(extractor.ShardId("alpha"), extractor.ShardId("alpha", new WakeUpstream("alpha")));
        Assert.InRange(int.Parse(extractor.ShardId("alpha"), System.Globalization.CultureInfo.InvariantCulture), 0, 29);
    }
}

/// <summary>Cluster options that cannot work are refused at start, with a sentence that says what to do.</summary>
public sealed class ClusterSetupSpecs
{
    private static SarkOptions Clustered => TestUpstreams.With() with { Cluster = new ClusterOptions { Enabled = true, Port = 0 } };

    [Fact]
    public void A_cluster_node_without_WithSarkCluster_is_refused()
    {
        using var system = ActorSystem.Create("sark");

        var ex = Assert.Throws<SarkConfigException>(() => Sark.Actors.Hosting.SarkRuntime.Start(system, Clustered));

        Assert.Contains("WithSarkCluster", ex.Message);
    }

    [Fact]
    public void A_cluster_node_must_be_named_sark()
    {
        using var system = ActorSystem.Create("app", "akka.actor.provider = cluster\nakka.remote.dot-netty.tcp.port = 0\nakka.remote.dot-netty.tcp.hostname = 127.0.0.1");

        var ex = Assert.Throws<SarkConfigException>(() => Sark.Actors.Hosting.SarkRuntime.Start(system, Clustered));

        Assert.Contains("named 'app'", ex.Message);
    }

    [Fact]
    public void The_cluster_hocon_keeps_remembered_entities_off_disk_and_sets_stable_after()
    {
        var hocon = Sark.Actors.Hosting.SarkClusterHostingExtensions.ClusterHocon(new ClusterOptions { StableAfter = TimeSpan.FromSeconds(7) });
        var config = Akka.Configuration.ConfigurationFactory.ParseString(hocon);

        Assert.Equal(TimeSpan.FromSeconds(7), config.GetTimeSpan("akka.cluster.split-brain-resolver.stable-after"));
        Assert.True(config.GetBoolean("akka.cluster.sharding.remember-entities"));
        Assert.Equal("ddata", config.GetString("akka.cluster.sharding.remember-entities-store"));
        Assert.Empty(config.GetStringList("akka.cluster.sharding.distributed-data.durable.keys"));
        Assert.False(config.HasPath("akka.cluster.downing-provider-class"));
    }

    [Fact]
    public void Down_all_is_set_in_hocon_and_the_other_strategies_through_the_hosting_options()
    {
        var downAll = Akka.Configuration.ConfigurationFactory.ParseString(
            Sark.Actors.Hosting.SarkClusterHostingExtensions.ClusterHocon(new ClusterOptions { SplitBrainStrategy = "down-all" }));

        Assert.Equal("down-all", downAll.GetString("akka.cluster.split-brain-resolver.active-strategy"));
        Assert.IsType<Akka.Cluster.Hosting.SBR.KeepMajorityOption>(Sark.Actors.Hosting.SarkClusterHostingExtensions.SplitBrainResolver(new ClusterOptions()));
        Assert.Equal(2, Assert.IsType<Akka.Cluster.Hosting.SBR.StaticQuorumOption>(Sark.Actors.Hosting.SarkClusterHostingExtensions.SplitBrainResolver(
            new ClusterOptions { SplitBrainStrategy = "static-quorum", SeedNodes = ["a", "b", "c"] })).QuorumSize);
        Assert.Null(Sark.Actors.Hosting.SarkClusterHostingExtensions.SplitBrainResolver(new ClusterOptions { SplitBrainStrategy = "down-all" }));
    }
}
