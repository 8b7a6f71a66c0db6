using System.Text.Json;
using Sark.Integration.Tests.Infrastructure;

namespace Sark.Integration.Tests;

/// <summary>Start-up and shutdown of the node process: configuration errors, arguments, SIGTERM.</summary>
public sealed class NodeLifecycleSpecs
{
    private static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Configuration_error_exits_with_code_2_and_names_the_key()
    {
        const string hocon = """sark.upstreams.x { kind = nope, command = ["true"] }""";

        var exit = await NodeProcess.RunToExitAsync(hocon, ["--bind", "127.0.0.1:0"], ExitTimeout);

        Assert.True(exit.ExitCode == 2, exit.ToString());
        Assert.Contains("sark: configuration error: sark.upstreams.x.kind", exit.StderrText, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", exit.StderrText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Mcp_http_header_with_a_line_break_is_a_configuration_error_naming_the_key()
    {
        const string hocon = """sark.upstreams.remote { kind = mcp-http, url = "http://127.0.0.1:9/mcp", headers { X-Token = "a\r\nX-Injected: 1" } }""";

        var exit = await NodeProcess.RunToExitAsync(hocon, ["--bind", "127.0.0.1:0"], ExitTimeout);

        Assert.True(exit.ExitCode == 2, exit.ToString());
        Assert.Contains("sark: configuration error: sark.upstreams.remote.headers.X-Token", exit.StderrText, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", exit.StderrText + string.Join('\n', exit.Stdout), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--bind", "not-an-address")]
    [InlineData("--bind", "some-host:80")]
    public async Task Bad_bind_address_is_a_configuration_error(string option, string value)
    {
        var exit = await NodeProcess.RunToExitAsync(NodeConfigs.Demo(), [option, value], ExitTimeout);

        Assert.True(exit.ExitCode == 2, exit.ToString());
        Assert.Contains("sark: configuration error: --bind", exit.StderrText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_node_re_executes_itself_once_with_its_gen0_budget_keeping_its_pid()
    {
        await using var node = await NodeProcess.StartAsync("sark.node.gc.gen0-budget = 3MiB");

        var environment = ReadEnvironment(node.ProcessId);
        Assert.Equal("0x300000", environment.GetValueOrDefault("DOTNET_GCgen0size"));
        Assert.Equal("1", environment.GetValueOrDefault("SARK_RUNTIME_SETTINGS_APPLIED"));
        using var live = await node.Http.GetAsync(new Uri("/health/live", UriKind.Relative));
        Assert.True(live.IsSuccessStatusCode);
        var line = await Eventually.UntilAsync(() => Task.FromResult(node.Stdout.Lines.FirstOrDefault(l => l.Contains("Runtime: ", StringComparison.Ordinal))),
            l => l is not null, TimeSpan.FromSeconds(30), "the runtime line");
        Assert.Contains("Runtime: workstation GC, generation-0 budget 0x300000", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task In_server_mode_the_node_re_executes_itself_onto_the_server_GC_and_says_so()
    {
        await using var node = await NodeProcess.StartAsync("sark.node.gc.mode = server");

        var environment = ReadEnvironment(node.ProcessId);
        Assert.Equal("1", environment.GetValueOrDefault("DOTNET_gcServer"));
        Assert.False(environment.ContainsKey("DOTNET_GCgen0size"));
        // The runtime, not just the environment: the node logs the collector it runs.
        var line = await Eventually.UntilAsync(() => Task.FromResult(node.Stdout.Lines.FirstOrDefault(l => l.Contains("Runtime: ", StringComparison.Ordinal))),
            l => l is not null, TimeSpan.FromSeconds(30), "the runtime line");
        Assert.Contains("Runtime: server GC", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_bad_GC_mode_is_a_configuration_error()
    {
        var exit = await NodeProcess.RunToExitAsync(NodeConfigs.Demo() + "\nsark.node.gc.mode = fast\n", [], ExitTimeout);

        Assert.True(exit.ExitCode == 2, exit.ToString());
        Assert.Contains("sark.node.gc.mode: 'fast' is not a GC mode", exit.StderrText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_gen0_budget_of_zero_leaves_the_runtime_alone()
    {
        await using var node = await NodeProcess.StartAsync("sark.node.gc.gen0-budget = 0");

        var environment = ReadEnvironment(node.ProcessId);
        Assert.False(environment.ContainsKey("SARK_RUNTIME_SETTINGS_APPLIED"));
        Assert.False(environment.ContainsKey("DOTNET_GCgen0size"));
    }

    private static Dictionary<string, string> ReadEnvironment(int pid) =>
        File.ReadAllText($"/proc/{pid}/environ").Split('\0', StringSplitOptions.RemoveEmptyEntries)
            .Select(pair => pair.Split('=', 2))
            .Where(pair => pair.Length == 2)
            .GroupBy(pair => pair[0], StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Last()[1], StringComparer.Ordinal);

    [Fact]
    public async Task Unknown_argument_prints_the_usage_and_exits_with_code_2()
    {
        var exit = await NodeProcess.RunToExitAsync(hocon: null, ["--frobnicate"], ExitTimeout);

        Assert.True(exit.ExitCode == 2, exit.ToString());
        Assert.Contains("--frobnicate", exit.StderrText, StringComparison.Ordinal);
        Assert.Contains("usage:", exit.StderrText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sigterm_stops_the_node_cleanly_and_leaves_no_demo_server_running()
    {
        // No --config: the bundled sark.conf runs the demo server from the node's own folder.
        var node = await NodeProcess.StartAsync(hocon: null);
        await using (node)
        {
            await DemoNodeFixture.WaitUntilReadyAsync(node);
            using var response = await node.Http.GetAsync("/api/v1/upstreams");
            var body = await response.JsonAsync();
            var demo = Assert.Single(body.GetProperty("upstreams").EnumerateArray());
            Assert.Equal(JsonValueKind.Number, demo.GetProperty("process_id").ValueKind);
            var demoPid = demo.GetProperty("process_id").GetInt32();
            Assert.True(ProcessTools.IsAlive(demoPid));

            var exitCode = await node.StopAsync();

            Assert.True(exitCode == 0, $"exit code {exitCode}\n{node.Describe()}");
            var left = await ProcessTools.WaitUntilGoneAsync([demoPid], TimeSpan.FromSeconds(10));
            Assert.True(left.Count == 0, $"the demo server (pid {demoPid}) is still running after the node stopped\n{node.Describe()}");
        }
    }
}
