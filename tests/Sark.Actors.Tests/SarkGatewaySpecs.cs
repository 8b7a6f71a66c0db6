using System.Diagnostics;
using System.Text.Json;
using Akka.Configuration;
using Akka.TestKit.Xunit2;
using Sark.Actors.Configuration;
using Sark.Actors.Errors;
using Sark.Actors.Hosting;
using Xunit.Abstractions;

namespace Sark.Actors.Tests;

/// <summary>The facade over the whole tree, with the real demo server behind it.</summary>
public sealed class SarkGatewaySpecs(ITestOutputHelper output)
    : TestKit(ConfigurationFactory.ParseString("akka.loglevel = INFO"), output: output)
{
    private static readonly TimeSpan Startup = TimeSpan.FromSeconds(30);

    private static readonly Configuration.BackoffOptions FastBackoff = new()
    {
        Min = TimeSpan.FromMilliseconds(200),
        Max = TimeSpan.FromMilliseconds(800),
        RandomFactor = 0,
        ResetAfter = TimeSpan.FromSeconds(60),
    };

    private static JsonElement Args(string json) => JsonDocument.Parse(json).RootElement;

    private static string Text(ToolCallResult result) => result.Result.GetProperty("content")[0].GetProperty("text").GetString()!;

    private async Task<ISarkGateway> StartAsync(UpstreamOptions upstream)
    {
        var options = TestUpstreams.With(upstream);
        var (_, gateway) = SarkRuntime.Start(Sys, options);
        await WaitReadyAsync(gateway, restarts: 0);
        return gateway;
    }

    private async Task<UpstreamStatus> WaitReadyAsync(ISarkGateway gateway, int restarts)
    {
        UpstreamStatus? status = null;
        await AwaitAssertAsync(async () =>
        {
            status = (await gateway.GetUpstreamsAsync()).Single();
            Assert.Equal(UpstreamState.Ready, status.State);
            Assert.Equal(restarts, status.RestartCount);
        }, Startup, TimeSpan.FromMilliseconds(20));
        return status!;
    }

    [Fact]
    public async Task Gateway_lists_servers_and_tools_and_calls_echo()
    {
        var gateway = await StartAsync(TestUpstreams.Demo());

        var server = Assert.Single(await gateway.ListServersAsync());
        Assert.Equal("demo", server.ServerName);
        Assert.Equal(12, server.ToolsCount);
        Assert.Equal(12, (await gateway.ListToolsAsync("demo")).Count);
        Assert.Equal("Echo: hi", Text(await gateway.InvokeToolAsync("demo", "echo", Args("""{"message":"hi"}"""))));
    }

    [Fact]
    public async Task A_call_made_while_the_upstream_starts_waits_for_it()
    {
        var options = TestUpstreams.With(TestUpstreams.Demo());
        var (_, gateway) = SarkRuntime.Start(Sys, options);

        var result = await gateway.InvokeToolAsync("demo", "echo", Args("""{"message":"early"}"""));

        Assert.Equal("Echo: early", Text(result));
    }

    [Fact]
    public async Task Bad_calls_get_stable_codes()
    {
        var gateway = await StartAsync(TestUpstreams.Demo());

        var unknownServer = await Assert.ThrowsAsync<SarkNotFoundException>(() => gateway.InvokeToolAsync("nope", "echo"));
        Assert.Equal(SarkErrorCode.NotFound, unknownServer.Code);
        await Assert.ThrowsAsync<SarkNotFoundException>(() => gateway.InvokeToolAsync("demo", "nope"));
        await Assert.ThrowsAsync<SarkNotFoundException>(() => gateway.ListToolsAsync("nope"));
        await Assert.ThrowsAsync<SarkInvalidRequestException>(() => gateway.InvokeToolAsync("demo", "echo", Args("[1]")));
        await Assert.ThrowsAsync<SarkInvalidRequestException>(() => gateway.InvokeToolAsync("demo", " "));
    }

    [Fact]
    public async Task A_caller_that_gives_up_cancels_the_call_upstream()
    {
        var gateway = await StartAsync(TestUpstreams.Demo());
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => gateway.InvokeToolAsync("demo", "slow", Args("""{"ms":20000}"""), cancellationToken: cts.Token));

        await AwaitAssertAsync(async () =>
            Assert.Contains("\"cancellations\":1", Text(await gateway.InvokeToolAsync("demo", "stats"))), TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task Killing_the_process_mid_call_fails_the_call_at_once_and_the_upstream_comes_back()
    {
        var gateway = await StartAsync(TestUpstreams.Demo() with { Backoff = FastBackoff });
        var before = (await gateway.GetUpstreamsAsync()).Single();
        var call = gateway.InvokeToolAsync("demo", "slow", Args("""{"ms":30000}"""));
        await AwaitAssertAsync(async () =>
            Assert.Contains("\"slow\":1", Text(await gateway.InvokeToolAsync("demo", "stats"))), TimeSpan.FromSeconds(5));

        var killedAt = Stopwatch.StartNew();
        Process.GetProcessById(before.ProcessId!.Value).Kill();

        var failed = await Assert.ThrowsAsync<UpstreamUnavailableException>(() => call);
        Assert.True(killedAt.Elapsed < TimeSpan.FromSeconds(3), $"the call failed {killedAt.Elapsed} after the kill");
        var after = await WaitReadyAsync(gateway, restarts: 1);
        Assert.NotEqual(before.ProcessId, after.ProcessId);
        Assert.Contains("exited", after.LastError);
        Assert.Equal("Echo: back", Text(await gateway.InvokeToolAsync("demo", "echo", Args("""{"message":"back"}"""))));
        Output?.WriteLine($"failed after {killedAt.Elapsed.TotalMilliseconds:0} ms: {failed.Message}");
    }

    [Fact]
    public async Task A_crash_loop_backs_off_longer_each_time_up_to_the_cap()
    {
        var gateway = await StartAsync(TestUpstreams.Demo() with { Backoff = FastBackoff });
        var gaps = new List<TimeSpan>();

        for (var i = 1; i <= 4; i++)
        {
            await Assert.ThrowsAsync<UpstreamUnavailableException>(() => gateway.InvokeToolAsync("demo", "crash"));
            var crashedAt = Stopwatch.StartNew();
            var status = await WaitReadyAsync(gateway, restarts: i);
            gaps.Add(crashedAt.Elapsed);
            Assert.Equal(i, status.ConsecutiveRestarts);
        }

        Output?.WriteLine(string.Join(", ", gaps.Select(g => $"{g.TotalMilliseconds:0} ms")));
        // The supervisor waits at least 200, 400, 800, 800 ms (random factor 0), plus the process start.
        Assert.True(gaps[0] >= TimeSpan.FromMilliseconds(200));
        Assert.True(gaps[1] >= TimeSpan.FromMilliseconds(400));
        Assert.True(gaps[2] >= TimeSpan.FromMilliseconds(800));
        Assert.True(gaps[3] >= TimeSpan.FromMilliseconds(800));
        Assert.True(gaps[3] < TimeSpan.FromMilliseconds(800) + TimeSpan.FromSeconds(5), "the cap holds");
    }

    [Fact]
    public async Task Calls_while_the_circuit_is_open_fail_fast_with_a_retry_after()
    {
        var slow = FastBackoff with { Min = TimeSpan.FromSeconds(20), Max = TimeSpan.FromSeconds(20) };
        var gateway = await StartAsync(TestUpstreams.Demo() with { Backoff = slow });
        await Assert.ThrowsAsync<UpstreamUnavailableException>(() => gateway.InvokeToolAsync("demo", "crash"));
        await AwaitAssertAsync(async () => Assert.Equal(BreakerState.Open, (await gateway.GetUpstreamsAsync()).Single().Breaker), Startup);

        var watch = Stopwatch.StartNew();
        var failed = await Assert.ThrowsAsync<UpstreamUnavailableException>(() => gateway.InvokeToolAsync("demo", "echo"));

        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(1));
        Assert.InRange(failed.RetryAfter!.Value, TimeSpan.FromSeconds(15), TimeSpan.FromSeconds(20));
        Assert.Equal(SarkErrorCode.UpstreamUnavailable, failed.Code);
    }
}
