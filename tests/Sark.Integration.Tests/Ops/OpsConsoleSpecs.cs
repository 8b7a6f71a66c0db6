using System.Text.Json.Nodes;
using Sark.Integration.Tests.Infrastructure;

namespace Sark.Integration.Tests.Ops;

/// <summary>
/// Every palette through the real <c>sark</c> process against a real node: the table (the default)
/// and the <c>--json</c> form of each command, and the exit code.
/// </summary>
[Collection(OpsNodeCollection.Name)]
public sealed class OpsConsoleSpecs(OpsNodeFixture fixture)
{
    private Task<CliRun> Table(params string[] words) => SarkCli.RunAsync([fixture.Address, .. words]);

    private async Task<IReadOnlyList<JsonObject>> Json(params string[] words)
    {
        var run = await SarkCli.RunAsync([fixture.Address, .. words, "--json"]);
        Assert.True(run.ExitCode == 0, run.ToString());
        return run.JsonLines;
    }

    private async Task<CliRun> Ok(params string[] words)
    {
        var run = await Table(words);
        Assert.True(run.ExitCode == 0, run.ToString());
        return run;
    }

    private static string? Value(IReadOnlyList<JsonObject> keyValues, string key) =>
        keyValues.Single(r => (string?)r["key"] == key)["value"]?.ToString();

    [Fact]
    public async Task Actor_system_shows_the_system_and_its_process()
    {
        var table = await Ok("actor", "system");
        var json = await Json("actor", "system");

        Assert.Contains("akka_version", table.Stdout, StringComparison.Ordinal);
        Assert.Contains("| name ", table.Stdout, StringComparison.Ordinal);
        Assert.Equal("sark", Value(json, "name"));
        Assert.Equal(fixture.Node.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture), Value(json, "pid"));
    }

    [Fact]
    public async Task Actor_hierarchy_shows_the_sark_tree_to_the_depth_asked()
    {
        var table = await Ok("actor", "hierarchy", "-d", "3");
        var shallow = await Json("actor", "hierarchy", "--depth", "1");
        var deep = await Json("actor", "hierarchy", "-d", "5");

        Assert.Contains("/user/sark/ops", table.Stdout, StringComparison.Ordinal);
        Assert.Contains("/user/sark/upstreams/demo", table.Stdout, StringComparison.Ordinal);
        Assert.Equal(["/user", "/user/sark"], shallow.Select(r => (string?)r["path"]));
        Assert.Contains(deep, r => (string?)r["path"] == "/user/sark/upstreams/demo/backoff/conn" && (string?)r["type"] == "StdioServer");
    }

    [Fact]
    public async Task Upstream_list_and_show_report_state_breaker_and_process()
    {
        var table = await Ok("upstream", "list");
        var list = await Json("upstream", "list");
        var show = await Json("upstream", "show", "demo");
        var showTable = await Ok("upstream", "show", "demo");

        Assert.Contains("demo", table.Stdout, StringComparison.Ordinal);
        Assert.Contains("mcp-stdio", table.Stdout, StringComparison.Ordinal);
        var demo = list.Single(r => (string?)r["name"] == "demo");
        Assert.Equal("ready", (string?)demo["state"]);
        Assert.Equal("closed", (string?)demo["breaker"]);
        Assert.Contains(list, r => (string?)r["name"] == "registry" && (string?)r["kind"] == "gateway");
        Assert.Equal(demo["pid"]!.ToString(), Value(show, "pid"));
        Assert.Contains("consecutive_restarts", showTable.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Upstream_show_of_an_unknown_upstream_fails_with_not_found()
    {
        var table = await Table("upstream", "show", "nope");
        var json = await SarkCli.RunAsync([fixture.Address, "upstream", "show", "nope", "--json"]);

        Assert.Equal(1, table.ExitCode);
        Assert.Contains("not_found", table.Stderr, StringComparison.Ordinal);
        Assert.Equal(1, json.ExitCode);
        Assert.Equal("not_found", (string?)json.JsonLines.Single()["error"]!["code"]);
    }

    [Fact]
    public async Task Upstream_restart_really_restarts_the_process_with_a_new_pid()
    {
        var before = int.Parse(Value(await Json("upstream", "show", "demo"), "pid")!, System.Globalization.CultureInfo.InvariantCulture);

        var restarted = (await Json("upstream", "restart", "demo")).Single();
        var after = int.Parse(Value(await Json("upstream", "show", "demo"), "pid")!, System.Globalization.CultureInfo.InvariantCulture);
        var table = await Ok("upstream", "restart", "demo");

        Assert.Equal(before, (int)restarted["previous_pid"]!);
        Assert.Equal(after, (int)restarted["pid"]!);
        Assert.NotEqual(before, after);
        Assert.Equal("ready", (string?)restarted["state"]);
        await ProcessTools.WaitUntilGoneAsync([before], TimeSpan.FromSeconds(15));
        Assert.False(ProcessTools.IsAlive(before), $"the old demo server (pid {before}) is still running");
        Assert.Contains(after.ToString(System.Globalization.CultureInfo.InvariantCulture), table.Stdout, StringComparison.Ordinal);
        Assert.Contains("restarted", table.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Upstream_stop_keeps_it_down_and_refuses_calls_until_start()
    {
        var stop = await Ok("upstream", "stop", "demo");
        var listed = (await Json("upstream", "list")).Single(r => (string?)r["name"] == "demo");
        var refused = await Table("call", "demo", "echo", "--args", """{"message":"x"}""");
        var started = (await Json("upstream", "start", "demo")).Single();
        var call = await Json("call", "demo", "echo", "--args", """{"message":"back"}""");

        Assert.Contains("stopped", stop.Stdout, StringComparison.Ordinal);
        Assert.Equal("stopped", (string?)listed["state"]);
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("upstream_unavailable", refused.Stderr, StringComparison.Ordinal);
        Assert.Equal("ready", (string?)started["state"]);
        Assert.Contains("Echo: back", call.Single()["result"]!.ToJsonString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Breaker_list_shows_each_circuit()
    {
        var table = await Ok("breaker", "list");
        var json = await Json("breaker", "list");

        Assert.Contains("retry_after_s", table.Stdout, StringComparison.Ordinal);
        Assert.Equal("closed", (string?)json.Single(r => (string?)r["upstream"] == "demo")["breaker"]);
        Assert.Contains(json, r => (string?)r["upstream"] == "registry");
    }

    [Fact]
    public async Task Tools_list_shows_the_catalog_whole_or_for_one_server()
    {
        var table = await Ok("tools", "list", "--server", "demo");
        var all = await Json("tools", "list");
        var one = await Json("tools", "list", "-s", "demo");

        Assert.Contains("echo", table.Stdout, StringComparison.Ordinal);
        Assert.Contains(all, r => (string?)r["server"] == "server-0000");
        Assert.All(one, r => Assert.Equal("demo", (string?)r["server"]));
        Assert.Contains(one, r => (string?)r["tool"] == "echo");
    }

    [Fact]
    public async Task Call_runs_a_tool_through_the_gateway_and_the_policy_still_applies()
    {
        var table = await Ok("call", "demo", "echo", "--args", """{"message":"from the console"}""");
        var json = (await Json("call", "demo", "add", "--args", """{"a":2,"b":3}""")).Single();
        var denied = await Table("call", "demo", "crash");
        var badArgs = await Table("call", "demo", "echo", "--args", "[1]");

        Assert.Contains("Echo: from the console", table.Stdout, StringComparison.Ordinal);
        Assert.False((bool)json["is_error"]!);
        Assert.Contains("5", json["result"]!.ToJsonString(), StringComparison.Ordinal);
        Assert.Equal(1, denied.ExitCode);
        Assert.Contains("policy_denied", denied.Stderr, StringComparison.Ordinal);
        Assert.Equal(1, badArgs.ExitCode);
        Assert.Contains("invalid_request", badArgs.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_command_that_outlives_its_timeout_ends_with_command_timeout()
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var slow = await SarkCli.RunAsync([fixture.Address, "call", "demo", "slow", "--args", """{"ms":20000}""", "--timeout", "1"]);
        var json = await SarkCli.RunAsync([fixture.Address, "call", "demo", "slow", "--args", """{"ms":20000}""", "--timeout", "1", "--json"]);

        Assert.Equal(1, slow.ExitCode);
        Assert.Contains("command_timeout", slow.Stderr, StringComparison.Ordinal);
        Assert.Equal("command_timeout", (string?)json.JsonLines.Single()["error"]!["code"]);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"the timeouts took {clock.Elapsed}");
    }

    [Fact]
    public async Task Cache_clear_expires_the_catalog_so_the_registry_is_read_again()
    {
        await Ok("tools", "list");
        var before = (await Json("cache", "stats")).Single(r => (string?)r["cache"] == "catalog:registry");
        var listingsBefore = fixture.Registry.RequestsTo("/api/v1/servers");

        var cleared = (await Json("cache", "clear")).Single();
        var after = (await Json("cache", "stats")).Single(r => (string?)r["cache"] == "catalog:registry");
        var table = await Ok("cache", "stats");
        await Ok("tools", "list");
        var clearTable = await Ok("cache", "clear", "--decisions");

        Assert.True((bool)before["fresh"]!, before.ToJsonString());
        Assert.True((int)before["entries"]! >= 2, before.ToJsonString());
        Assert.True((int)cleared["expired_entries"]! >= 2, cleared.ToJsonString());
        Assert.False((bool)after["fresh"]!, after.ToJsonString());
        Assert.Contains("catalog:demo", table.Stdout, StringComparison.Ordinal);
        Assert.True(fixture.Registry.RequestsTo("/api/v1/servers") > listingsBefore, "the registry was not read again after cache clear");
        Assert.Contains("expired_entries", clearTable.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Stream_list_shows_the_subscriptions_and_the_limit()
    {
        var table = await Ok("stream", "list");
        var json = await Json("stream", "list");

        Assert.Contains("of at most 50 subscriptions", table.Stdout, StringComparison.Ordinal);
        Assert.Empty(json);
    }

    [Fact]
    public async Task Policy_explain_names_the_rule_that_decided()
    {
        var deny = await Json("policy", "explain", "local", "demo", "crash");
        var allow = await Json("policy", "explain", "local", "demo", "echo", "--args", """{"message":"x"}""");
        var nobody = await Json("policy", "explain", "stranger", "demo", "echo");
        var table = await Ok("policy", "explain", "local", "demo", "crash");
        var unknown = await Table("policy", "explain", "local", "demo", "nope");

        Assert.Equal(("deny", "no-crash"), (Value(deny, "decision"), Value(deny, "rule")));
        Assert.Equal("crash is not for callers", Value(deny, "reason"));
        Assert.Equal(("allow", "spec-local-caller"), (Value(allow, "decision"), Value(allow, "rule")));
        Assert.Equal(("deny", "(default)"), (Value(nobody, "decision"), Value(nobody, "rule")));
        Assert.Contains("no-crash", table.Stdout, StringComparison.Ordinal);
        Assert.Equal(1, unknown.ExitCode);
        Assert.Contains("not_found", unknown.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Audit_tail_follows_a_call_made_while_it_runs()
    {
        using var follower = SarkCli.Start([fixture.Address, "audit", "tail", "-f", "-n", "1", "--json"]);
        var lines = new System.Collections.Concurrent.ConcurrentQueue<string>();
        follower.OutputDataReceived += (_, e) =>
        {
            if (e.Data is not null)
                lines.Enqueue(e.Data);
        };
        follower.BeginOutputReadLine();
        try
        {
            var call = (await Json("call", "demo", "echo", "--args", """{"message":"audited"}""")).Single();
            var requestId = (string)call["request_id"]!;

            var seen = await Eventually.UntilAsync(
                () => Task.FromResult(lines.Where(l => l.Contains(requestId, StringComparison.Ordinal)).Select(l => JsonNode.Parse(l)!.AsObject()).ToList()),
                found => found.Any(r => (string?)r["type"] == "outcome"), TimeSpan.FromSeconds(30), "the call's outcome in audit tail -f");

            Assert.Contains(seen, r => (string?)r["type"] == "decision" && (string?)r["decision"] == "allow");
            Assert.Equal("ok", (string?)seen.Single(r => (string?)r["type"] == "outcome")["outcome"]);
            Assert.False(follower.HasExited, "the follower ended by itself");
        }
        finally
        {
            follower.Kill(entireProcessTree: true);
            await follower.WaitForExitAsync();
        }

        var table = await Ok("audit", "tail", "-n", "3");
        Assert.Contains("request_id", table.Stdout, StringComparison.Ordinal);
        Assert.Contains("events", table.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Log_peek_shows_recent_log_lines()
    {
        var table = await Ok("log", "peek", "-n", "500");
        var json = await Json("log", "peek", "-n", "500");

        Assert.Contains("Ops console listening on", table.Stdout, StringComparison.Ordinal);
        Assert.Contains(json, r => ((string?)r["message"])?.Contains("Upstream demo ready", StringComparison.Ordinal) == true);
        Assert.True((await Json("log", "peek", "-n", "2")).Count <= 2);
    }

    [Fact]
    public async Task Config_show_shows_the_configuration_with_secrets_redacted()
    {
        var table = await Ok("config", "show");
        var json = await Json("config", "show", "--path", "sark.upstreams");

        Assert.Contains("registry", table.Stdout, StringComparison.Ordinal);
        Assert.Contains("<redacted>", table.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain(OpsNodeFixture.RegistryKey, table.Stdout, StringComparison.Ordinal);
        var text = string.Join('\n', json.Select(l => (string?)l["line"]));
        Assert.Contains("Sark.DemoServer.dll", text, StringComparison.Ordinal);
        Assert.DoesNotContain(OpsNodeFixture.RegistryKey, text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cluster_commands_say_the_node_is_not_clustered()
    {
        var table = await Table("cluster", "show");
        var json = await SarkCli.RunAsync([fixture.Address, "cluster", "leave", "--json"]);

        Assert.Equal(1, table.ExitCode);
        Assert.Contains("not_clustered", table.Stderr, StringComparison.Ordinal);
        Assert.Equal(1, json.ExitCode);
        Assert.Equal("not_clustered", (string?)json.JsonLines.Single()["error"]!["code"]);
    }

    [Fact]
    public async Task Unknown_commands_fail_and_help_lists_the_palettes()
    {
        var unknown = await Table("reboot", "now");
        var help = await Ok("help");
        var paletteHelp = await Ok("help", "upstream");

        Assert.Equal(1, unknown.ExitCode);
        Assert.Contains("not_found", unknown.Stderr, StringComparison.Ordinal);
        Assert.Contains("upstream list|show|restart|stop|start", help.Stdout, StringComparison.Ordinal);
        Assert.Contains("upstream restart <name>", paletteHelp.Stdout, StringComparison.Ordinal);
    }
}
