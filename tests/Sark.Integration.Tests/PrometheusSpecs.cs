using System.Globalization;
using System.Net;
using System.Text.Json;
using Sark.Integration.Tests.Infrastructure;

namespace Sark.Integration.Tests;

/// <summary>
/// A real Prometheus (Debian's <c>prometheus</c>) scrapes a running node, and promtool checks and
/// unit-tests the alert rules of <c>docs/monitoring/</c> (issue 8).
/// </summary>
public sealed class PrometheusSpecs
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    private static string Monitoring => Path.Combine(NodePaths.RepoRoot, "docs", "monitoring");

    [Fact]
    public async Task Prometheus_scrapes_the_node_and_a_query_returns_the_request_counter()
    {
        var prometheus = ExternalTools.Require("prometheus", "prometheus");
        await using var node = await NodeProcess.StartAsync(NodeConfigs.Demo());
        await Eventually.UntilAsync(() => node.Http.GetAsync("/health/ready"), r => r.StatusCode == HttpStatusCode.OK, Bound, "the node ready");
        const int calls = 3;
        for (var i = 0; i < calls; i++)
            (await node.Http.InvokeAsync(new { server = "demo", tool = "echo", parameters = new { message = "scraped" } })).EnsureSuccessStatusCode();

        var dir = Directory.CreateTempSubdirectory("sark-prometheus-");
        try
        {
            var port = ExternalTools.FreePort();
            var config = Path.Combine(dir.FullName, "prometheus.yml");
            await File.WriteAllTextAsync(config, $"""
                global:
                  scrape_interval: 1s
                  evaluation_interval: 1s
                rule_files:
                  - {Path.Combine(Monitoring, "alerts.yml")}
                scrape_configs:
                  - job_name: sark
                    scrape_interval: 1s
                    static_configs:
                      - targets: ['{node.BaseAddress.Authority}']
                """);
            await using var server = ExternalTools.StartBackground(prometheus,
            [
                "--config.file=" + config, "--storage.tsdb.path=" + Path.Combine(dir.FullName, "data"),
                $"--web.listen-address=127.0.0.1:{port}", "--log.level=warn",
            ]);
            using var api = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(10) };

            var query = Uri.EscapeDataString("""sum(sark_upstream_requests_total{job="sark",upstream="demo",operation="tools/call",outcome="ok"})""");
            var value = await Eventually.UntilAsync(async () =>
            {
                if (server.HasExited)
                    Assert.Fail($"prometheus exited:\n{server.Output}");
                try
                {
                    using var response = await api.GetAsync($"/api/v1/query?query={query}");
                    if (!response.IsSuccessStatusCode)
                        return -1;
                    using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
                    var result = json.RootElement.GetProperty("data").GetProperty("result");
                    return result.GetArrayLength() == 0 ? -1 : double.Parse(result[0].GetProperty("value")[1].GetString()!, CultureInfo.InvariantCulture);
                }
                catch (HttpRequestException)
                {
                    return -1; // not listening yet
                }
            }, v => v >= calls, Bound, "Prometheus to have scraped the request counter");
            Assert.Equal(calls, value);

            // The rules loaded, and the node is an up target.
            using var rules = JsonDocument.Parse(await api.GetStringAsync("/api/v1/rules"));
            var names = rules.RootElement.GetProperty("data").GetProperty("groups").EnumerateArray()
                .SelectMany(g => g.GetProperty("rules").EnumerateArray()).Select(r => r.GetProperty("name").GetString()).ToList();
            Assert.Contains("SarkUpstreamOpen", names);
            Assert.Contains("SarkStdioCrashLoop", names);

            // Every query of the Grafana dashboard is valid PromQL for this Prometheus.
            using var dashboard = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(Monitoring, "dashboard.json")));
            var queries = dashboard.RootElement.GetProperty("panels").EnumerateArray()
                .SelectMany(p => p.GetProperty("targets").EnumerateArray()).Select(t => t.GetProperty("expr").GetString()!).ToList();
            Assert.NotEmpty(queries);
            foreach (var expr in queries)
            {
                var concrete = expr.Replace("$__rate_interval", "1m", StringComparison.Ordinal).Replace("$instance", ".*", StringComparison.Ordinal);
                using var answer = await api.GetAsync($"/api/v1/query?query={Uri.EscapeDataString(concrete)}");
                Assert.True(answer.IsSuccessStatusCode, $"{expr}: {await answer.Content.ReadAsStringAsync()}");
            }
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Promtool_checks_the_alert_rules_and_their_unit_tests_pass()
    {
        var promtool = ExternalTools.Require("promtool", "prometheus");
        var check = await ExternalTools.RunAsync(promtool, ["check", "rules", "alerts.yml"], Bound, Monitoring);
        Assert.True(check.ExitCode == 0, check.Output);
        Assert.Contains("SUCCESS: 8 rules found", check.Output, StringComparison.Ordinal);

        var test = await ExternalTools.RunAsync(promtool, ["test", "rules", "alerts.test.yml"], Bound, Monitoring);
        Assert.True(test.ExitCode == 0, test.Output);
        Assert.Contains("SUCCESS", test.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Promtool_fails_a_rule_test_whose_expectation_is_wrong()
    {
        // The unit tests above can fail: the same rules with a wrong expectation do.
        var promtool = ExternalTools.Require("promtool", "prometheus");
        var dir = Directory.CreateTempSubdirectory("sark-promtool-");
        try
        {
            File.Copy(Path.Combine(Monitoring, "alerts.yml"), Path.Combine(dir.FullName, "alerts.yml"));
            await File.WriteAllTextAsync(Path.Combine(dir.FullName, "wrong.test.yml"), """
                rule_files: [alerts.yml]
                evaluation_interval: 1m
                tests:
                  - interval: 1m
                    input_series:
                      - series: 'sark_breaker_state{instance="n1",upstream="demo"}'
                        values: '0 2 2'
                    alert_rule_test:
                      - eval_time: 2m
                        alertname: SarkUpstreamOpen
                        exp_alerts:
                          - exp_labels: { severity: critical, instance: n1, upstream: demo }
                """);
            var test = await ExternalTools.RunAsync(promtool, ["test", "rules", "wrong.test.yml"], Bound, dir.FullName);
            Assert.NotEqual(0, test.ExitCode);
            Assert.Contains("FAILED", test.Output, StringComparison.Ordinal);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
