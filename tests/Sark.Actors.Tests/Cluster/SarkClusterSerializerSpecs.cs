using System.Collections.Immutable;
using System.Text.Json;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using Sark.Actors.Catalog;
using Sark.Actors.Cluster;
using Sark.Actors.Configuration;
using Sark.Actors.Errors;
using Sark.Actors.Upstreams;
using static Sark.Actors.Cluster.ClusterMessages;
using static Sark.Actors.Upstreams.UpstreamCommands;
using static Sark.Actors.Upstreams.UpstreamReplies;

namespace Sark.Actors.Tests.Cluster;

/// <summary>Every message that crosses nodes goes through SarkClusterSerializer and comes back the same.</summary>
public sealed class SarkClusterSerializerSpecs() : TestKit("""
    akka.actor {
      serializers.sark-cluster = "Sark.Actors.Cluster.SarkClusterSerializer, Sark.Actors"
      serialization-bindings { "Sark.Actors.Cluster.ISarkClusterMessage, Sark.Actors" = sark-cluster }
    }
    """)
{
    private static readonly JsonElement Arguments = JsonDocument.Parse("""{"message":"héllo","n":[1,2.5,null]}""").RootElement.Clone();

    private static readonly ToolInfo Tool = new("echo", "demo", "Echoes", "low", [new ToolParameter("message", "string", true, "what")], ["secret"], [],
        JsonDocument.Parse("""{"type":"object"}""").RootElement.Clone());

    private static readonly ServerInfo Server = new("id-1", "demo", "stdio:demo", "low", ["team-a"], "healthy", 1, "demo", "stdio", "A demo", "1.0", "2025-06-18",
        new DateTimeOffset(2026, 11, 24, 12, 0, 0, TimeSpan.Zero));

    private static readonly SarkError Error = new(SarkErrorCode.UpstreamUnavailable, "down", TimeSpan.FromSeconds(3), 503, -32000, Arguments) { NotSent = true };

    private static readonly UpstreamStatus Status = new("demo", UpstreamKind.McpStdio, UpstreamState.Ready, BreakerState.HalfOpen, 2, 1, "crashed",
        DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch.AddSeconds(5), 4242, TimeSpan.FromMilliseconds(1500), 7)
    {
        Paging = new PagingStats(1, 2, 3, 0, TimeSpan.FromMilliseconds(12)),
        RegistryHealth = "healthy",
    };

    private IEnumerable<object> Samples(IActorRef actor) =>
    [
        new ClusterCall("r-1", "demo", "demo-server", "echo", Arguments, TimeSpan.FromSeconds(9), "00-abc-def-01", "token", true, false, actor),
        new ClusterCall("r-2", "demo", "demo", "echo", null, null, null, null, false, true, actor),
        new WakeUpstream("demo"),
        new CallAccepted("r-1"),
        new CallProgress("r-1", new ToolProgress(0.5, 1, "half")),
        new ClientRequest("r-1", "sampling/createMessage", Arguments),
        new ClientNotify("r-1", "notifications/message", null),
        new ClientReply(Arguments, null, null),
        new ClientReply(null, "refused", -32601),
        new HostedStatus(Status, "akka.tcp://sark@127.0.0.1:4053", "inc", 12, DateTimeOffset.UnixEpoch.AddDays(1)),
        new UpstreamListing("demo", [new CatalogEntry(Server, [Tool])], "unhealthy", "akka.tcp://sark@127.0.0.1:4053", "inc", 3),
        new CatalogExpire("registry", null),
        new CatalogExpire("registry", "one"),
        new SharedEvent("akka.tcp://sark@127.0.0.1:4053", "upstream_state", """{"upstream":"demo"}"""),
        new ForwardRequest("r-3", "demo", "resources/read", Arguments, TimeSpan.FromSeconds(4)),
        new RefreshCatalog(new RefreshKey("registry", "one")),
        new RefreshCatalog(new RefreshKey("registry", null)),
        new CancelCall("r-1", "demo"),
        new Operate("demo", OperatorAction.Restart),
        new ToolCallCompleted("r-1", Arguments, true),
        new ToolCallFailed("r-1", Error),
        new RequestCompleted("r-3", Arguments),
        new OperatorDone("demo", OperatorAction.Stop, 4242, DateTimeOffset.UnixEpoch, "stopped"),
        new OperatorFailed("demo", new SarkError(SarkErrorCode.NotFound, "no such upstream")),
        new CatalogCommands.Refreshed(new RefreshKey("registry", null), [new CatalogEntry(Server, [Tool])]),
        new CatalogCommands.RefreshFailed(new RefreshKey("registry", "one"), Error),
    ];

    [Fact]
    public void Every_bound_message_round_trips_through_the_serializer_the_binding_picks()
    {
        var probe = CreateTestProbe();
        var serialization = Sys.Serialization;
        var seen = new HashSet<Type>();
        foreach (var message in Samples(probe.Ref))
        {
            var serializer = Assert.IsType<SarkClusterSerializer>(serialization.FindSerializerFor(message));
            var manifest = serializer.Manifest(message);
            var bytes = serializer.ToBinary(message);
            var back = serializer.FromBinary(bytes, manifest);

            Assert.IsType(message.GetType(), back);
            // Same bytes again: every field survived (records holding JSON or arrays do not compare by value).
            Assert.Equal(System.Text.Encoding.UTF8.GetString(bytes), System.Text.Encoding.UTF8.GetString(serializer.ToBinary(back)));
            seen.Add(message.GetType());
        }

        Assert.Equal(SarkClusterSerializer.Manifests.Keys.OrderBy(t => t.FullName), seen.OrderBy(t => t.FullName));
    }

    [Fact]
    public void Actor_references_travel_as_paths_and_resolve_to_the_same_actor()
    {
        var probe = CreateTestProbe();
        var serializer = new SarkClusterSerializer((ExtendedActorSystem)Sys);
        var call = new ClusterCall("r-1", "demo", "demo", "echo", null, null, null, null, false, false, probe.Ref);

        var back = (ClusterCall)serializer.FromBinary(serializer.ToBinary(call), serializer.Manifest(call));

        Assert.Equal(probe.Ref, back.ReplyTo);
        back.ReplyTo.Tell("reached");
        probe.ExpectMsg("reached");
    }

    [Fact]
    public void Values_survive_exactly()
    {
        var serializer = new SarkClusterSerializer((ExtendedActorSystem)Sys);
        var failed = new ToolCallFailed("r-1", Error);
        var status = new HostedStatus(Status, "h", "i", 1, DateTimeOffset.UnixEpoch);

        var failedBack = (ToolCallFailed)serializer.FromBinary(serializer.ToBinary(failed), serializer.Manifest(failed));
        var statusBack = (HostedStatus)serializer.FromBinary(serializer.ToBinary(status), serializer.Manifest(status));

        Assert.Equal(SarkErrorCode.UpstreamUnavailable, failedBack.Error.Code);
        Assert.True(failedBack.Error.NotSent);
        Assert.Equal(TimeSpan.FromSeconds(3), failedBack.Error.RetryAfter);
        Assert.Equal(-32000, failedBack.Error.JsonRpcCode);
        Assert.Equal(Status with { Paging = null }, statusBack.Status with { Paging = null });
        Assert.Equal(Status.Paging, statusBack.Status.Paging);
    }

    [Fact]
    public void Every_cluster_message_type_of_the_library_has_a_manifest()
    {
        var marked = typeof(ISarkClusterMessage).Assembly.GetTypes()
            .Where(t => t is { IsClass: true, IsAbstract: false } && typeof(ISarkClusterMessage).IsAssignableFrom(t));
        Assert.All(marked, t => Assert.True(SarkClusterSerializer.Manifests.ContainsKey(t), $"{t.FullName} has no manifest"));
        Assert.All(marked, t => Assert.False(typeof(INoSerializationVerificationNeeded).IsAssignableFrom(t), $"{t.FullName} skips verification"));
    }

    [Fact]
    public void An_unknown_manifest_is_refused_with_a_clear_error()
    {
        var serializer = new SarkClusterSerializer((ExtendedActorSystem)Sys);
        var ex = Assert.Throws<System.Runtime.Serialization.SerializationException>(() => serializer.FromBinary("{}"u8.ToArray(), "nope"));
        Assert.Contains("'nope'", ex.Message);
    }
}
