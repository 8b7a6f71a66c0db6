using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Sark.Integration.Tests.Infrastructure;

namespace Sark.Integration.Tests;

/// <summary>
/// Faults of a stdio upstream seen through a real node: a killed process, a missing
/// executable, and a node stopped while a call is in flight.
/// </summary>
public sealed class UpstreamFaultSpecs
{
    private static string Config(string command, string extra = "") => $$"""
        sark {
          node.shutdown-drain = 5s
          upstreams.demo {
            kind = mcp-stdio
            command = {{command}}
            required = true
            init-timeout = 30s
            stop-grace = 1s
            kill-grace = 2s
            backoff { min = 300ms, max = 2s }
            {{extra}}
          }
        }
        """;

    private static readonly string DemoCommand =
        $"[{NodeConfigs.Quote(NodePaths.Dotnet)}, {NodeConfigs.Quote(NodePaths.DemoServerDll)}]";

    private static async Task<JsonElement> DemoStatusAsync(NodeProcess node)
    {
        using var response = await node.Http.GetAsync("/api/v1/upstreams");
        var body = await response.JsonAsync();
        return body.GetProperty("upstreams").EnumerateArray().Single(u => u.GetProperty("name").GetString() == "demo");
    }

    /// <summary>How many calls of <paramref name="tool"/> the demo server has seen (its <c>stats</c> tool).</summary>
    private static async Task<int> CallsOfAsync(NodeProcess node, string tool)
    {
        using var response = await node.Http.InvokeAsync(new { server = "demo", tool = "stats" });
        var text = (await response.JsonAsync()).GetProperty("result").GetProperty("content")[0].GetProperty("text").GetString()!;
        return JsonDocument.Parse(text).RootElement.GetProperty("calls").TryGetProperty(tool, out var n) ? n.GetInt32() : 0;
    }

    private static Task<JsonElement> ReadyAsync(NodeProcess node, int restarts) =>
        Eventually.UntilAsync(
            () => DemoStatusAsync(node),
            s => s.GetProperty("state").GetString() == "ready" && s.GetProperty("restart_count").GetInt32() == restarts,
            TimeSpan.FromSeconds(60),
            $"the demo upstream being ready after {restarts} restarts");

    [Fact]
    public async Task Killing_the_upstream_mid_call_answers_503_at_once_and_the_upstream_comes_back()
    {
        await using var node = await NodeProcess.StartAsync(Config(DemoCommand));
        var before = await ReadyAsync(node, restarts: 0);
        var pid = before.GetProperty("process_id").GetInt32();

        var call = node.Http.InvokeAsync(new { server = "demo", tool = "slow", parameters = new { ms = 30000 } });
        await Eventually.UntilAsync(() => CallsOfAsync(node, "slow"), n => n == 1, TimeSpan.FromSeconds(10), "the slow call reaching the server");
        var clock = Stopwatch.StartNew();
        Process.GetProcessById(pid).Kill();

        using var response = await call;
        clock.Stop();
        var error = await response.ErrorAsync(HttpStatusCode.ServiceUnavailable, "upstream_unavailable");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3), $"the call failed {clock.Elapsed} after the kill");
        Assert.Contains("demo", error.GetProperty("message").GetString());

        var after = await ReadyAsync(node, restarts: 1);
        Assert.NotEqual(pid, after.GetProperty("process_id").GetInt32());
        Assert.Equal("closed", after.GetProperty("breaker").GetString());
        Assert.Contains("exited", after.GetProperty("last_error").GetString());
        using var echo = await node.Http.InvokeAsync(new { server = "demo", tool = "echo", parameters = new { message = "back" } });
        Assert.Equal("success", (await echo.JsonAsync()).GetProperty("status").GetString());
    }

    [Fact]
    public async Task While_the_circuit_is_open_calls_get_503_with_retry_after()
    {
        await using var node = await NodeProcess.StartAsync(Config(DemoCommand).Replace("backoff { min = 300ms, max = 2s }", "backoff { min = 20s, max = 20s }"));
        await ReadyAsync(node, restarts: 0);
        using (await node.Http.InvokeAsync(new { server = "demo", tool = "crash" }))
        {
        }

        await Eventually.UntilAsync(() => DemoStatusAsync(node), s => s.GetProperty("breaker").GetString() == "open", TimeSpan.FromSeconds(10), "the circuit opening");
        using var response = await node.Http.InvokeAsync(new { server = "demo", tool = "echo", parameters = new { message = "x" } });

        await response.ErrorAsync(HttpStatusCode.ServiceUnavailable, "upstream_unavailable");
        Assert.NotNull(response.Headers.RetryAfter?.Delta);
        Assert.InRange(response.Headers.RetryAfter!.Delta!.Value, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(25));
        using var ready = await node.Http.GetAsync("/health/ready");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
    }

    [Fact]
    public async Task A_missing_executable_is_reported_with_the_command_and_the_node_keeps_serving()
    {
        await using var node = await NodeProcess.StartAsync(Config("[\"/nonexistent/sark-missing-server\"]"));

        var status = await Eventually.UntilAsync(() => DemoStatusAsync(node),
            s => s.GetProperty("last_error").ValueKind == JsonValueKind.String, TimeSpan.FromSeconds(20), "the start failure being reported");

        Assert.Contains("/nonexistent/sark-missing-server", status.GetProperty("last_error").GetString());
        using var response = await node.Http.InvokeAsync(new { server = "demo", tool = "echo", parameters = new { message = "x" } });
        await response.ErrorAsync(HttpStatusCode.ServiceUnavailable, "upstream_unavailable");
        using var live = await node.Http.GetAsync("/health/live");
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
    }

    [Fact]
    public async Task A_call_in_flight_when_the_node_is_stopped_finishes_and_nothing_is_left_running()
    {
        var node = await NodeProcess.StartAsync(Config(DemoCommand));
        await using (node)
        {
            var status = await ReadyAsync(node, restarts: 0);
            var upstreamPid = status.GetProperty("process_id").GetInt32();
            var call = node.Http.InvokeAsync(new { server = "demo", tool = "slow", parameters = new { ms = 1500 } });
            await Eventually.UntilAsync(() => CallsOfAsync(node, "slow"), n => n == 1, TimeSpan.FromSeconds(10), "the slow call reaching the server");

            var stopping = node.StopAsync(TimeSpan.FromSeconds(20));
            using var response = await call;
            var body = await response.JsonAsync();
            var exitCode = await stopping;

            Assert.Equal("Slept 1500 ms", body.GetProperty("result").GetProperty("content")[0].GetProperty("text").GetString());
            Assert.Equal(0, exitCode);
            Assert.False(ProcessTools.IsAlive(upstreamPid), $"the upstream process {upstreamPid} outlived the node");
        }
    }
}
