using System.Text.Json;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using Sark.Actors.Configuration;
using Sark.Actors.Errors;
using Sark.Actors.Upstreams;
using Sark.Actors.Upstreams.McpHttp;
using Sark.Integration.Tests.Fakes;
using Sark.Integration.Tests.Infrastructure;
using static Sark.Actors.Upstreams.UpstreamCommands;
using static Sark.Actors.Upstreams.UpstreamReplies;

namespace Sark.Integration.Tests;

/// <summary>The <see cref="McpHttpServer"/> actor on its own, a probe as its circuit: what it tells the circuit, and the fault protocol.</summary>
public sealed class McpHttpServerSpecs : TestKit
{
    private static UpstreamOptions Options(string url) => new()
    {
        Name = "remote",
        Kind = UpstreamKind.McpHttp,
        Url = url,
        Transport = McpHttpTransport.StreamableHttp,
        InitTimeout = TimeSpan.FromSeconds(10),
        FailureThreshold = 2,
    };

    [Fact]
    public async Task Mcp_http_server_tells_its_circuit_it_started_and_is_ready_with_one_server_named_after_the_upstream()
    {
        await using var fake = await FakeMcpHttpServer.StartAsync();
        var circuit = CreateTestProbe();

        var conn = Sys.ActorOf(McpHttpServer.Props(Options(fake.StreamableUrl), circuit));

        var started = circuit.ExpectMsg<ConnectionEvents.Started>();
        var ready = circuit.ExpectMsg<ConnectionEvents.Ready>(TimeSpan.FromSeconds(15));
        Assert.Equal(conn, started.Connection);
        Assert.Null(started.ProcessId);
        var entry = Assert.Single(ready.Servers);
        Assert.Equal("remote", entry.Server.ServerName);
        Assert.Equal("mcp-http", entry.Server.Transport);
        Assert.Equal(3, entry.Tools.Length);
    }

    [Fact]
    public async Task A_call_queued_while_connecting_is_sent_once_ready()
    {
        await using var fake = await FakeMcpHttpServer.StartAsync();
        var circuit = CreateTestProbe();
        var conn = Sys.ActorOf(McpHttpServer.Props(Options(fake.StreamableUrl), circuit));

        conn.Tell(new CallTool("r1", "remote", "echo", JsonDocument.Parse("""{"message":"early"}""").RootElement, null), TestActor);

        var done = ExpectMsg<ToolCallCompleted>(TimeSpan.FromSeconds(15));
        Assert.Equal("r1", done.RequestId);
        Assert.Equal("Echo: early", done.Result.GetProperty("content")[0].GetProperty("text").GetString());
    }

    [Fact]
    public void An_unreachable_server_faults_answers_stragglers_as_not_sent_and_stops_on_the_acknowledgement()
    {
        var circuit = CreateTestProbe();
        var conn = Sys.ActorOf(McpHttpServer.Props(Options($"http://127.0.0.1:{EverythingHttpProcess.FreePort()}/mcp"), circuit));
        Watch(conn);
        circuit.ExpectMsg<ConnectionEvents.Started>();

        var faulted = circuit.ExpectMsg<ConnectionEvents.Faulted>(TimeSpan.FromSeconds(15));
        conn.Tell(new CallTool("late", "remote", "echo", null, null), TestActor);
        var straggler = ExpectMsg<ToolCallFailed>();
        conn.Tell(ConnectionEvents.FaultAcknowledged.Instance, circuit);

        Assert.Contains("refused", faulted.Reason, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(SarkErrorCode.UpstreamUnavailable, straggler.Error.Code);
        Assert.True(straggler.Error.NotSent);
        ExpectTerminated(conn);
    }

    [Fact]
    public async Task A_wrong_path_says_the_url_answered_404()
    {
        await using var fake = await FakeMcpHttpServer.StartAsync();
        var circuit = CreateTestProbe();
        Sys.ActorOf(McpHttpServer.Props(Options(new Uri(fake.BaseAddress, "/nope").ToString()), circuit));
        circuit.ExpectMsg<ConnectionEvents.Started>();

        var faulted = circuit.ExpectMsg<ConnectionEvents.Faulted>(TimeSpan.FromSeconds(15));

        Assert.Contains("HTTP 404", faulted.Reason, StringComparison.Ordinal);
        Assert.Contains("MCP endpoint", faulted.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Consecutive_timeouts_up_to_the_failure_threshold_fault_the_connection()
    {
        await using var fake = await FakeMcpHttpServer.StartAsync();
        var circuit = CreateTestProbe();
        var conn = Sys.ActorOf(McpHttpServer.Props(Options(fake.StreamableUrl), circuit));
        circuit.ExpectMsg<ConnectionEvents.Started>();
        circuit.ExpectMsg<ConnectionEvents.Ready>(TimeSpan.FromSeconds(15));

        conn.Tell(new CallTool("t1", "remote", "hang", null, TimeSpan.FromMilliseconds(200)), TestActor);
        var first = ExpectMsg<ToolCallFailed>(TimeSpan.FromSeconds(5));
        circuit.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        conn.Tell(new CallTool("t2", "remote", "hang", null, TimeSpan.FromMilliseconds(200)), TestActor);
        var second = ExpectMsg<ToolCallFailed>(TimeSpan.FromSeconds(5));
        var faulted = circuit.ExpectMsg<ConnectionEvents.Faulted>(TimeSpan.FromSeconds(5));

        Assert.Equal(SarkErrorCode.UpstreamTimeout, first.Error.Code);
        Assert.Equal(SarkErrorCode.UpstreamTimeout, second.Error.Code);
        Assert.Contains("2 consecutive requests failed", faulted.Reason, StringComparison.Ordinal);
    }
}
