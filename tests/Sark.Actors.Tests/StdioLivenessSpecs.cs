using System.Text.Json;
using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using Sark.Actors.Errors;
using Sark.Actors.Upstreams;
using Sark.Actors.Upstreams.Stdio;
using Xunit.Abstractions;
using static Sark.Actors.Upstreams.UpstreamCommands;
using static Sark.Actors.Upstreams.UpstreamReplies;

namespace Sark.Actors.Tests;

/// <summary>
/// Liveness and the failure threshold of the stdio connection: a real demo server process,
/// with the actor's timers on virtual time.
/// </summary>
public sealed class StdioLivenessSpecs(ITestOutputHelper output) : TestKit(Config, output: output)
{
    private static readonly Config Config = ConfigurationFactory.ParseString("""
        akka.scheduler.implementation = "Akka.TestKit.TestScheduler, Akka.TestKit"
        akka.actor.guardian-supervisor-strategy = "Akka.Actor.StoppingSupervisorStrategy"
        """);

    private static readonly TimeSpan Idle = TimeSpan.FromSeconds(30);

    private TestScheduler Scheduler => (TestScheduler)Sys.Scheduler;

    /// <summary>Moves virtual time, then gives the actor a moment of real time to handle what fired.</summary>
    private void AdvanceAndSettle(TimeSpan by)
    {
        Scheduler.Advance(by);
        CreateTestProbe().ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    private static JsonElement Args(string json) => JsonDocument.Parse(json).RootElement;

    private (IActorRef Server, TestProbe Owner) StartReady(Configuration.UpstreamOptions options)
    {
        var owner = CreateTestProbe();
        var server = Sys.ActorOf(StdioServer.Props(options, owner.Ref));
        owner.ExpectMsg<ConnectionEvents.Started>(TimeSpan.FromSeconds(30));
        owner.ExpectMsg<ConnectionEvents.Ready>(TimeSpan.FromSeconds(30));
        return (server, owner);
    }

    [Fact]
    public void An_idle_server_that_answers_its_ping_stays_up()
    {
        var (server, owner) = StartReady(TestUpstreams.Demo() with { IdlePingAfter = Idle });

        // The first tick still sees the handshake's traffic; the second finds the line idle and pings.
        AdvanceAndSettle(Idle);
        AdvanceAndSettle(Idle);
        owner.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
        AdvanceAndSettle(TimeSpan.FromSeconds(11));

        owner.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
        server.Tell(new CallTool("r", "demo", "echo", Args("""{"message":"alive"}"""), null));
        Assert.False(ExpectMsg<ToolCallCompleted>().IsError);
    }

    [Fact]
    public void A_hung_server_that_misses_its_ping_is_faulted()
    {
        var (server, owner) = StartReady(TestUpstreams.Demo() with { IdlePingAfter = Idle, CallTimeout = TimeSpan.FromMinutes(10) });
        server.Tell(new CallTool("hang", "demo", "slow", Args("""{"ms":15000,"block":true}"""), null));
        // Let the server take the blocking call before anything else is written to it.
        ExpectNoMsg(TimeSpan.FromMilliseconds(300));

        AdvanceAndSettle(Idle);
        AdvanceAndSettle(Idle);
        AdvanceAndSettle(TimeSpan.FromSeconds(11));

        Assert.Contains("liveness ping", owner.ExpectMsg<ConnectionEvents.Faulted>().Reason);
        Assert.Equal(SarkErrorCode.UpstreamUnavailable, ExpectMsg<ToolCallFailed>().Error.Code);
    }

    [Fact]
    public void Consecutive_timeouts_reach_the_failure_threshold_and_open_the_circuit()
    {
        var (server, owner) = StartReady(TestUpstreams.Demo() with { FailureThreshold = 2 });
        server.Tell(new CallTool("t1", "demo", "slow", Args("""{"ms":15000,"block":true}"""), TimeSpan.FromSeconds(1)));
        ExpectNoMsg(TimeSpan.FromMilliseconds(300));
        server.Tell(new CallTool("t2", "demo", "echo", Args("""{"message":"stuck behind"}"""), TimeSpan.FromSeconds(1)));
        // Deadlines are kept on the monotonic clock, which a TestScheduler does not move, and swept
        // by a periodic timer, which it does: nothing may fail before both deadlines have passed.
        ExpectNoMsg(TimeSpan.FromMilliseconds(1100));

        Scheduler.Advance(TimeSpan.FromSeconds(1.5));

        Assert.All(new[] { ExpectMsg<ToolCallFailed>(), ExpectMsg<ToolCallFailed>() },
            f => Assert.Equal(SarkErrorCode.UpstreamTimeout, f.Error.Code));
        Assert.Contains("2 consecutive requests failed", owner.ExpectMsg<ConnectionEvents.Faulted>().Reason);
    }
}
