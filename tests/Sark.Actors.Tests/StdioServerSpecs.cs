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

/// <summary>The stdio connection actor against the real demo server process.</summary>
public sealed class StdioServerSpecs(ITestOutputHelper output) : TestKit(Config, output: output)
{
    // A failing connection actor is stopped, as its BackoffSupervisor would do.
    private static readonly Config Config = ConfigurationFactory.ParseString("""
        akka.actor.guardian-supervisor-strategy = "Akka.Actor.StoppingSupervisorStrategy"
        akka.loglevel = INFO
        """);

    private static readonly TimeSpan Startup = TimeSpan.FromSeconds(30);

    private static JsonElement Args(string json) => JsonDocument.Parse(json).RootElement;

    private (IActorRef Server, TestProbe Owner, ConnectionEvents.Ready Ready) StartReady(Configuration.UpstreamOptions options)
    {
        var owner = CreateTestProbe();
        var server = Sys.ActorOf(StdioServer.Props(options, owner.Ref));
        owner.ExpectMsg<ConnectionEvents.Started>(Startup);
        var ready = owner.ExpectMsg<ConnectionEvents.Ready>(Startup);
        return (server, owner, ready);
    }

    private static string Text(JsonElement result) => result.GetProperty("content")[0].GetProperty("text").GetString()!;

    private string Stats(IActorRef server)
    {
        server.Tell(new CallTool("stats", "demo", "stats", null, null));
        return Text(ExpectMsg<ToolCallCompleted>().Result);
    }

    [Fact]
    public void Stdio_server_initializes_and_lists_tools_across_pages()
    {
        var (_, _, ready) = StartReady(TestUpstreams.Demo());

        // The demo server pages its 11 tools 5 at a time.
        var (server, tools) = Assert.Single(ready.Servers);
        Assert.Equal(12, tools.Length);
        Assert.Contains(tools, t => t.ToolName == "echo" && t.Parameters.Single().Name == "message");
        Assert.Equal("2025-06-18", server.ProtocolVersion);
        Assert.Equal(12, server.ToolsCount);
    }

    [Fact]
    public void Stdio_server_calls_a_tool_and_passes_the_result_back()
    {
        var (server, _, _) = StartReady(TestUpstreams.Demo());

        server.Tell(new CallTool("r1", "demo", "echo", Args("""{"message":"hi"}"""), null));

        var reply = ExpectMsg<ToolCallCompleted>();
        Assert.Equal("r1", reply.RequestId);
        Assert.Equal("Echo: hi", Text(reply.Result));
        Assert.False(reply.IsError);
    }

    [Fact]
    public void A_call_answered_from_the_reader_frees_its_slot_and_request_id_before_its_caller_sees_the_answer()
    {
        // One call in flight at most, and every call under the same request id: each next call
        // is refused unless the connection's books were settled before the answer arrived.
        var (server, _, _) = StartReady(TestUpstreams.Demo() with { MaxInFlight = 1 });

        for (var i = 0; i < 30; i++)
        {
            server.Tell(new CallTool("same", "demo", "echo", Args($$"""{"message":"m{{i}}"}"""), null));
            var reply = ExpectMsg<ToolCallCompleted>();
            Assert.Equal($"Echo: m{i}", Text(reply.Result));
        }
    }

    [Fact]
    public void A_tool_error_is_a_result_and_an_unknown_tool_is_not_found()
    {
        var (server, _, _) = StartReady(TestUpstreams.Demo());

        server.Tell(new CallTool("r1", "demo", "fail", Args("""{"message":"nope"}"""), null));
        Assert.True(ExpectMsg<ToolCallCompleted>().IsError);

        server.Tell(new CallTool("r2", "demo", "no-such-tool", null, null));
        Assert.Equal(SarkErrorCode.NotFound, ExpectMsg<ToolCallFailed>().Error.Code);
    }

    [Fact]
    public void A_call_past_its_timeout_fails_and_is_cancelled_upstream()
    {
        var (server, _, _) = StartReady(TestUpstreams.Demo());

        server.Tell(new CallTool("slow-1", "demo", "slow", Args("""{"ms":20000}"""), TimeSpan.FromMilliseconds(300)));

        var failed = ExpectMsg<ToolCallFailed>(TimeSpan.FromSeconds(5));
        Assert.Equal(SarkErrorCode.UpstreamTimeout, failed.Error.Code);
        AwaitAssert(() => Assert.Contains("\"cancellations\":1", Stats(server)), TimeSpan.FromSeconds(5));
    }

    [Fact]
    public void A_crash_fails_calls_in_flight_at_once_and_hands_the_fault_up()
    {
        var (server, owner, _) = StartReady(TestUpstreams.Demo());
        Watch(server);
        server.Tell(new CallTool("slow-1", "demo", "slow", Args("""{"ms":20000}"""), null));
        server.Tell(new CallTool("crash-1", "demo", "crash", null, null));

        var failures = new[] { ExpectMsg<ToolCallFailed>(TimeSpan.FromSeconds(5)), ExpectMsg<ToolCallFailed>(TimeSpan.FromSeconds(5)) };

        Assert.All(failures, f => Assert.Equal(SarkErrorCode.UpstreamUnavailable, f.Error.Code));
        Assert.All(failures, f => Assert.Equal(TimeSpan.FromSeconds(1.2), f.Error.RetryAfter));
        Assert.Contains("exited with code 3", owner.ExpectMsg<ConnectionEvents.Faulted>().Reason);

        // Until the circuit acknowledges, calls still reaching the connection are answered, not lost.
        server.Tell(new CallTool("late", "demo", "echo", Args("""{"message":"late"}"""), null));
        Assert.Equal(SarkErrorCode.UpstreamUnavailable, ExpectMsg<ToolCallFailed>().Error.Code);
        owner.Reply(ConnectionEvents.FaultAcknowledged.Instance);
        ExpectTerminated(server);
    }

    [Fact]
    public void Two_calls_in_flight_with_the_same_request_id_are_refused()
    {
        var (server, _, _) = StartReady(TestUpstreams.Demo());

        server.Tell(new CallTool("dup", "demo", "slow", Args("""{"ms":2000}"""), null));
        server.Tell(new CallTool("dup", "demo", "echo", Args("""{"message":"x"}"""), null));

        Assert.Equal(SarkErrorCode.InvalidRequest, ExpectMsg<ToolCallFailed>().Error.Code);
        Assert.Equal("Slept 2000 ms", Text(ExpectMsg<ToolCallCompleted>(TimeSpan.FromSeconds(5)).Result));
    }

    [Fact]
    public void A_call_queued_while_connecting_has_a_deadline_and_is_never_sent_after_it()
    {
        var owner = CreateTestProbe();
        var server = Sys.ActorOf(StdioServer.Props(TestUpstreams.Demo("demo", "--startup-delay-ms", "3000"), owner.Ref));

        server.Tell(new CallTool("early", "demo", "echo", Args("""{"message":"too late"}"""), TimeSpan.FromMilliseconds(500)));

        var failed = ExpectMsg<ToolCallFailed>(TimeSpan.FromSeconds(5));
        Assert.Equal(SarkErrorCode.UpstreamTimeout, failed.Error.Code);
        Assert.Contains("never sent", failed.Error.Message);
        owner.FishForMessage<ConnectionEvents.Ready>(_ => true, Startup);
        Assert.DoesNotContain("\"echo\"", Stats(server));
    }

    [Fact]
    public void An_oversized_response_is_too_large_and_the_connection_survives()
    {
        var (server, _, _) = StartReady(TestUpstreams.Demo());

        server.Tell(new CallTool("big", "demo", "large", Args("""{"bytes":20000000}"""), null));
        var failed = ExpectMsg<ToolCallFailed>(TimeSpan.FromSeconds(20));
        Assert.Equal(SarkErrorCode.TooLarge, failed.Error.Code);

        server.Tell(new CallTool("after", "demo", "echo", Args("""{"message":"still here"}"""), null));
        Assert.Equal("Echo: still here", Text(ExpectMsg<ToolCallCompleted>().Result));
    }

    [Fact]
    public void Garbage_on_stdout_is_skipped()
    {
        var (server, _, ready) = StartReady(TestUpstreams.Demo("demo", "--garbage"));

        server.Tell(new CallTool("r1", "demo", "echo", Args("""{"message":"hi"}"""), null));

        Assert.Equal(12, ready.ToolCount);
        Assert.Equal("Echo: hi", Text(ExpectMsg<ToolCallCompleted>().Result));
    }

    [Fact]
    public void A_server_that_never_answers_initialize_faults_after_the_init_timeout()
    {
        var owner = CreateTestProbe();
        var options = TestUpstreams.Demo("demo", "--silent") with { InitTimeout = TimeSpan.FromSeconds(2) };
        var server = Sys.ActorOf(StdioServer.Props(options, owner.Ref));
        server.Tell(new CallTool("early", "demo", "echo", null, null));

        owner.ExpectMsg<ConnectionEvents.Started>(Startup);
        Assert.Contains("init-timeout", owner.ExpectMsg<ConnectionEvents.Faulted>(TimeSpan.FromSeconds(10)).Reason);
        // The call queued while connecting is failed, not lost.
        Assert.Equal(SarkErrorCode.UpstreamUnavailable, ExpectMsg<ToolCallFailed>().Error.Code);
    }

    [Fact]
    public void A_missing_executable_faults_with_a_message_naming_the_command()
    {
        var owner = CreateTestProbe();
        var options = TestUpstreams.Demo() with { Command = ["/nonexistent/sark-no-such-server"] };

        Sys.ActorOf(StdioServer.Props(options, owner.Ref));

        Assert.Null(owner.ExpectMsg<ConnectionEvents.Started>(TimeSpan.FromSeconds(10)).ProcessId);
        var faulted = owner.ExpectMsg<ConnectionEvents.Faulted>(TimeSpan.FromSeconds(10));
        Assert.Contains("/nonexistent/sark-no-such-server", faulted.Reason);
    }

    [Fact]
    public void Server_to_client_ping_is_answered()
    {
        var (server, _, _) = StartReady(TestUpstreams.Demo());

        server.Tell(new CallTool("p", "demo", "ping_client", null, null));

        var reply = ExpectMsg<ToolCallCompleted>(TimeSpan.FromSeconds(10));
        Assert.Equal("pong", Text(reply.Result));
    }

    [Fact]
    public void List_changed_reads_the_tools_again()
    {
        var (server, owner, _) = StartReady(TestUpstreams.Demo());

        server.Tell(new CallTool("a", "demo", "add_tool", Args("""{"name":"extra"}"""), null));
        ExpectMsg<ToolCallCompleted>();

        var changed = owner.FishForMessage<ConnectionEvents.ToolsChanged>(_ => true, TimeSpan.FromSeconds(10));
        Assert.Equal(13, changed.Tools.Length);
        Assert.Equal("demo", changed.Server);
        server.Tell(new CallTool("b", "demo", "extra", Args("""{"message":"x"}"""), null));
        Assert.False(ExpectMsg<ToolCallCompleted>().IsError);
    }

    [Fact]
    public void The_process_inherits_only_allowlisted_environment_variables()
    {
        Environment.SetEnvironmentVariable("SARK_SPEC_PARENT_SECRET", "leak");
        var options = TestUpstreams.Demo() with
        {
            Env = System.Collections.Immutable.ImmutableDictionary<string, string>.Empty.Add("GIVEN", "yes"),
        };
        var (server, _, _) = StartReady(options);

        server.Tell(new CallTool("e1", "demo", "env", Args("""{"name":"SARK_SPEC_PARENT_SECRET"}"""), null));
        Assert.Equal("<unset>", Text(ExpectMsg<ToolCallCompleted>().Result));
        server.Tell(new CallTool("e2", "demo", "env", Args("""{"name":"GIVEN"}"""), null));
        Assert.Equal("yes", Text(ExpectMsg<ToolCallCompleted>().Result));
    }

    [Fact]
    public void Arguments_over_the_message_limit_are_too_large_and_never_sent()
    {
        var (server, _, _) = StartReady(TestUpstreams.Demo() with { MaxMessageBytes = 2048 });

        server.Tell(new CallTool("big", "demo", "echo", Args($$"""{"message":"{{new string('x', 4096)}}"}"""), null));

        Assert.Equal(SarkErrorCode.TooLarge, ExpectMsg<ToolCallFailed>().Error.Code);
        Assert.Contains("\"total_calls\":1", Stats(server));
    }

    [Theory]
    [InlineData("--ignore-stdin-close")]
    [InlineData("--ignore-stdin-close", "--ignore-sigterm")]
    public void A_server_that_ignores_stdin_close_is_stopped_by_signal(params string[] flags)
    {
        var options = TestUpstreams.Demo("demo", flags) with { StopGrace = TimeSpan.FromMilliseconds(300), KillGrace = TimeSpan.FromMilliseconds(300) };
        var (server, _, _) = StartReady(options);
        var pid = int.Parse(JsonDocument.Parse(Stats(server)).RootElement.GetProperty("pid").GetRawText());
        var process = System.Diagnostics.Process.GetProcessById(pid);
        var clock = System.Diagnostics.Stopwatch.StartNew();

        Sys.Stop(server);

        AwaitCondition(() => process.HasExited, TimeSpan.FromSeconds(10));
        // It outlived the stdin close: SIGTERM after stop-grace ended it, or, when it ignores
        // SIGTERM too, SIGKILL after kill-grace more.
        var atLeast = TimeSpan.FromMilliseconds(flags.Length == 2 ? 550 : 250);
        Assert.True(clock.Elapsed >= atLeast, $"exited after {clock.Elapsed}, before the escalation could have ended it");
    }

    [Fact]
    public void Stopping_the_actor_stops_the_process()
    {
        var (server, owner, _) = StartReady(TestUpstreams.Demo());
        var pid = int.Parse(JsonDocument.Parse(Stats(server)).RootElement.GetProperty("pid").GetRawText());
        var process = System.Diagnostics.Process.GetProcessById(pid);

        Sys.Stop(server);

        AwaitCondition(() => process.HasExited, TimeSpan.FromSeconds(10));
    }
}
