using System.Collections.Immutable;
using System.Text.Json;
using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit;
using Akka.Pattern;
using Akka.TestKit.Xunit2;
using Sark.Actors.Configuration;
using Sark.Actors.Errors;
using Sark.Actors.Upstreams;
using Xunit.Abstractions;
using static Sark.Actors.Upstreams.UpstreamCommands;
using static Sark.Actors.Upstreams.UpstreamReplies;

namespace Sark.Actors.Tests;

/// <summary>
/// The breaker as a supervision tree, on virtual time: the circuit, its real BackoffSupervisor,
/// and a scripted connection actor in place of a process.
/// </summary>
public sealed class UpstreamCircuitSpecs : TestKit
{
    private static readonly Config Config = ConfigurationFactory.ParseString("""
        akka.scheduler.implementation = "Akka.TestKit.TestScheduler, Akka.TestKit"
        akka.loglevel = INFO
        """);

    private readonly TestProbe _connections;
    private readonly TestProbe _catalog;
    private readonly UpstreamOptions _options = new()
    {
        Name = "fake",
        Kind = UpstreamKind.McpStdio,
        Backoff = new Configuration.BackoffOptions
        {
            Min = TimeSpan.FromSeconds(1),
            Max = TimeSpan.FromSeconds(8),
            RandomFactor = 0.2,
            ResetAfter = TimeSpan.FromSeconds(60),
        },
    };

    public UpstreamCircuitSpecs(ITestOutputHelper output)
        : base(Config, output: output)
    {
        _connections = CreateTestProbe();
        _catalog = CreateTestProbe();
    }

    private TestScheduler Scheduler => (TestScheduler)Sys.Scheduler;

    private IActorRef _circuit = ActorRefs.Nobody;
    private readonly CircuitBoard _board = new();

    private IActorRef StartCircuit()
    {
        var connections = _connections.Ref;
        // A child of the test actor, so the circuit's status reports come here.
        return _circuit = ChildActorOf(UpstreamCircuit.Props(_options, _catalog.Ref, (_, owner) => Props.Create(() => new ScriptedConnection(owner, connections)), _board));
    }

    private IActorRef NextConnection() => _connections.ExpectMsg<ScriptedConnection.Created>().Connection;

    private UpstreamStatus NextStatus(Func<UpstreamStatus, bool> until) =>
        FishForMessage<UpstreamManager.StatusChanged>(s => until(s.Status)).Status;

    private int _restartsScheduled;

    /// <summary>
    /// Fails the connection and waits until the BackoffSupervisor has scheduled the restart
    /// (its restart count says so), so that virtual time is only moved after that.
    /// </summary>
    private void Fail(IActorRef connection, string reason)
    {
        connection.Tell(new ScriptedConnection.Fail(reason));
        NextStatus(s => s.Breaker == BreakerState.Open);
        var expected = ++_restartsScheduled;
        var backoff = Sys.ActorSelection(_circuit.Path / "backoff");
        var probe = CreateTestProbe();
        AwaitAssert(() =>
        {
            backoff.Tell(BackoffSupervisor.GetRestartCount.Instance, probe.Ref);
            Assert.Equal(expected, probe.ExpectMsg<BackoffSupervisor.RestartCount>().Count);
        }, TimeSpan.FromSeconds(5), TimeSpan.FromMilliseconds(20));
    }

    [Fact]
    public void Circuit_forwards_calls_while_the_connection_is_up()
    {
        var circuit = StartCircuit();
        var connection = NextConnection();
        connection.Tell(ScriptedConnection.Ready.Instance);
        var status = NextStatus(s => s.State == UpstreamState.Ready);
        Assert.Equal(BreakerState.Closed, status.Breaker);

        circuit.Tell(new CallTool("r1", "fake", "echo", null, null));

        Assert.Equal("r1", ExpectMsg<ToolCallCompleted>().RequestId);
        Assert.Equal("fake", _catalog.ExpectMsg<Catalog.CatalogCommands.UpsertServers>().Upstream);
    }

    [Fact]
    public void An_open_circuit_answers_at_once_with_upstream_unavailable_and_the_retry_after()
    {
        var circuit = StartCircuit();
        var connection = NextConnection();
        connection.Tell(ScriptedConnection.Ready.Instance);

        Fail(connection, "process exited with code 3");
        circuit.Tell(new CallTool("r1", "fake", "echo", null, null));

        var failed = ExpectMsg<ToolCallFailed>();
        Assert.Equal(SarkErrorCode.UpstreamUnavailable, failed.Error.Code);
        Assert.Equal(TimeSpan.FromSeconds(1.2), failed.Error.RetryAfter);
        Assert.Contains("process exited with code 3", failed.Error.Message);
        // The facade reads the same state from the board, without a message.
        Assert.True(_board.TryGetOpen("fake", out var open));
        Assert.Equal("process exited with code 3", open.Reason);
    }

    [Fact]
    public void The_supervisor_starts_a_half_open_probe_after_the_backoff_and_its_handshake_closes_the_circuit()
    {
        StartCircuit();
        var first = NextConnection();
        first.Tell(ScriptedConnection.Ready.Instance);
        Fail(first, "boom");

        Scheduler.Advance(TimeSpan.FromMilliseconds(900));
        _connections.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        Scheduler.Advance(TimeSpan.FromMilliseconds(400));
        var probe = NextConnection();
        Assert.Equal(BreakerState.HalfOpen, NextStatus(s => s.State == UpstreamState.Connecting).Breaker);

        Assert.False(_board.TryGetOpen("fake", out _), "a half-open circuit lets calls through to its probe");
        probe.Tell(ScriptedConnection.Ready.Instance);
        var closed = NextStatus(s => s.State == UpstreamState.Ready);

        Assert.Equal(BreakerState.Closed, closed.Breaker);
        Assert.Equal(1, closed.RestartCount);
        Assert.Equal("boom", closed.LastError);
    }

    [Fact]
    public void Backoff_doubles_with_each_consecutive_fault_and_is_capped()
    {
        StartCircuit();
        var connection = NextConnection();
        // Lower bounds of the delays: 1 s, 2 s, 4 s, then the 8 s cap (each up to 20 % more).
        foreach (var min in new[] { 1.0, 2.0, 4.0, 8.0, 8.0 })
        {
            Fail(connection, "crash");
            Scheduler.Advance(TimeSpan.FromSeconds(min * 0.95));
            _connections.ExpectNoMsg(TimeSpan.FromMilliseconds(150));
            Scheduler.Advance(TimeSpan.FromSeconds(min * 0.3));
            connection = NextConnection();
        }

        Assert.Equal(5, NextStatus(s => s.State == UpstreamState.Connecting).ConsecutiveRestarts);
    }

    [Fact]
    public void A_stable_period_resets_the_backoff()
    {
        StartCircuit();
        var connection = NextConnection();
        for (var i = 0; i < 3; i++)
        {
            Fail(connection, "crash");
            Scheduler.Advance(TimeSpan.FromSeconds(10));
            connection = NextConnection();
        }

        connection.Tell(ScriptedConnection.Ready.Instance);
        NextStatus(s => s.State == UpstreamState.Ready);
        Scheduler.Advance(TimeSpan.FromSeconds(61));
        NextStatus(s => s.ConsecutiveRestarts == 0);
        // The supervisor's own counter has reset too: the next restart is its first again.
        _restartsScheduled = 0;

        Fail(connection, "crash again");
        Scheduler.Advance(TimeSpan.FromSeconds(1.25));
        NextConnection();
    }

    [Fact]
    public void An_operator_stop_ends_the_connection_refuses_calls_and_only_a_start_brings_a_fresh_one()
    {
        var circuit = StartCircuit();
        var first = NextConnection();
        first.Tell(ScriptedConnection.Ready.Instance);
        NextStatus(s => s.State == UpstreamState.Ready);
        var replies = CreateTestProbe();
        var watcher = CreateTestProbe();
        watcher.Watch(first);

        circuit.Tell(new Operate("fake", OperatorAction.Stop), replies.Ref);

        watcher.ExpectTerminated(first);
        var stopped = replies.ExpectMsg<OperatorDone>();
        Assert.Equal((OperatorAction.Stop, 4242), (stopped.Action, stopped.PreviousProcessId));
        var status = NextStatus(s => s.State == UpstreamState.Stopped);
        Assert.Equal(BreakerState.Closed, status.Breaker);
        circuit.Tell(new CallTool("r1", "fake", "echo", null, null), replies.Ref);
        var refused = replies.ExpectMsg<ToolCallFailed>();
        Assert.Equal(SarkErrorCode.UpstreamUnavailable, refused.Error.Code);
        Assert.Contains("stopped by an operator", refused.Error.Message);
        Scheduler.Advance(TimeSpan.FromMinutes(2));
        _connections.ExpectNoMsg(TimeSpan.FromMilliseconds(300));

        circuit.Tell(new Operate("fake", OperatorAction.Start), replies.Ref);

        var second = NextConnection();
        Assert.NotEqual(first, second);
        Assert.Equal(OperatorAction.Start, replies.ExpectMsg<OperatorDone>().Action);
        second.Tell(ScriptedConnection.Ready.Instance);
        Assert.Equal(0, NextStatus(s => s.State == UpstreamState.Ready).RestartCount);
    }

    [Fact]
    public void An_operator_restart_starts_a_fresh_connection_at_once_without_waiting_for_a_backoff()
    {
        var circuit = StartCircuit();
        var first = NextConnection();
        first.Tell(ScriptedConnection.Ready.Instance);
        NextStatus(s => s.State == UpstreamState.Ready);
        var replies = CreateTestProbe();

        circuit.Tell(new Operate("fake", OperatorAction.Restart), replies.Ref);

        var second = NextConnection();
        Assert.NotEqual(first, second);
        var done = replies.ExpectMsg<OperatorDone>();
        Assert.Equal((OperatorAction.Restart, 4242), (done.Action, done.PreviousProcessId));
        second.Tell(ScriptedConnection.Ready.Instance);
        var ready = NextStatus(s => s.State == UpstreamState.Ready);
        Assert.Equal((BreakerState.Closed, 0), (ready.Breaker, ready.RestartCount));
        circuit.Tell(new CallTool("r2", "fake", "echo", null, null), replies.Ref);
        Assert.Equal("r2", replies.ExpectMsg<ToolCallCompleted>().RequestId);
    }

    [Fact]
    public void A_ready_connection_is_posted_on_the_board_and_withdrawn_when_it_fails()
    {
        StartCircuit();
        var connection = NextConnection();
        Assert.Null(_board.ConnectionOf("fake"));

        connection.Tell(ScriptedConnection.Ready.Instance);
        NextStatus(s => s.State == UpstreamState.Ready);
        Assert.Equal(connection, _board.ConnectionOf("fake"));

        Fail(connection, "process exited with code 3");
        Assert.Null(_board.ConnectionOf("fake"));
    }

    [Fact]
    public void A_call_sent_straight_to_a_connection_that_stopped_is_answered_by_its_circuit()
    {
        var manager = Sys.ActorOf(UpstreamManager.Props(
            TestUpstreams.With(_options), _catalog.Ref, (_, owner) => Props.Create(() => new ScriptedConnection(owner, _connections.Ref)), _board));
        var connection = NextConnection();
        connection.Tell(ScriptedConnection.Ready.Instance);
        AwaitAssert(() => Assert.Equal(connection, _board.ConnectionOf("fake")), TimeSpan.FromSeconds(5), TimeSpan.FromMilliseconds(20));
        Watch(connection);
        connection.Tell(new ScriptedConnection.Fail("process exited with code 3"));
        ExpectTerminated(connection);

        // What a facade does with a stale read of the board: the message lands in the dead letters.
        connection.Tell(new CallTool("r-late", "fake", "echo", null, null));

        var failed = FishForMessage<ToolCallFailed>(_ => true, TimeSpan.FromSeconds(5));
        Assert.Equal("r-late", failed.RequestId);
        Assert.Equal(SarkErrorCode.UpstreamUnavailable, failed.Error.Code);
        Assert.True(failed.Error.NotSent);
        Assert.Contains("circuit is open", failed.Error.Message);
        Sys.Stop(manager);
    }

    [Fact]
    public void An_operator_command_to_an_unknown_upstream_is_not_found()
    {
        var manager = Sys.ActorOf(UpstreamManager.Props(TestUpstreams.With(), _catalog.Ref));

        manager.Tell(new Operate("nope", OperatorAction.Restart));

        var failed = ExpectMsg<OperatorFailed>();
        Assert.Equal(SarkErrorCode.NotFound, failed.Error.Code);
        Assert.Contains("nope", failed.Error.Message);
    }

    /// <summary>Stands in for a connection actor: it reports like one and fails on command.</summary>
    private sealed class ScriptedConnection : ReceiveActor
    {
        public ScriptedConnection(IActorRef owner, IActorRef probe)
        {
            owner.Tell(new ConnectionEvents.Started(Self, 4242));
            probe.Tell(new Created(Self));
            Receive<Ready>(_ => owner.Tell(ConnectionEvents.Ready.Single(Self, Server, [])));
            Receive<Fail>(f =>
            {
                owner.Tell(new ConnectionEvents.Faulted(f.Reason));
                Context.Stop(Self);
            });
            Receive<CallTool>(c => Sender.Tell(new ToolCallCompleted(c.RequestId, JsonDocument.Parse("{}").RootElement, false)));
        }

        private static ServerInfo Server { get; } = new(
            "fake", "fake", "stdio://fake", "medium", ImmutableArray<string>.Empty, "healthy", 0, "fake", "stdio", null, null, null, null);

        public sealed record Created(IActorRef Connection);

        public sealed record Fail(string Reason);

        public sealed class Ready
        {
            public static readonly Ready Instance = new();
        }
    }
}
