using System.Net;
using Sark.Integration.Tests.Infrastructure;

namespace Sark.Integration.Tests;

/// <summary><c>/health</c>, <c>/health/live</c>, <c>/health/ready</c> and <c>/metrics</c> of a node with the demo upstream.</summary>
[Collection(DemoNodeCollection.Name)]
public sealed class HealthAndMetricsSpecs(DemoNodeFixture fixture)
{
    private readonly HttpClient _http = fixture.Http;

    [Fact]
    public async Task Health_says_healthy_as_the_gateway_contract_asks()
    {
        using var response = await _http.GetAsync("/health");
        var body = await response.JsonAsync();

        Assert.Equal("healthy", body.GetProperty("status").GetString());
    }

    [Fact]
    public async Task Liveness_says_the_actor_system_is_up()
    {
        using var response = await _http.GetAsync("/health/live");
        var body = await response.JsonAsync();

        Assert.Equal("live", body.GetProperty("status").GetString());
        Assert.Equal("up", body.GetProperty("actor_system").GetString());
    }

    [Fact]
    public async Task Readiness_is_ready_once_the_required_demo_upstream_is_ready()
    {
        await DemoNodeFixture.WaitUntilReadyAsync(fixture.Node);
        using var response = await _http.GetAsync("/health/ready");
        var body = await response.JsonAsync();

        Assert.Equal("ready", body.GetProperty("status").GetString());
        var demo = body.GetProperty("upstreams").GetProperty("demo");
        Assert.Equal("ready", demo.GetProperty("state").GetString());
        Assert.Equal("closed", demo.GetProperty("breaker").GetString());
        Assert.True(demo.GetProperty("required").GetBoolean());
        Assert.Equal(System.Text.Json.JsonValueKind.Null, demo.GetProperty("last_error").ValueKind);
        Assert.Equal(0, body.GetProperty("reasons").GetArrayLength());
        var checks = body.GetProperty("checks");
        Assert.Equal("ok", checks.GetProperty("actor_system").GetProperty("status").GetString());
        Assert.Equal("ok", checks.GetProperty("policy").GetProperty("status").GetString());
        Assert.Equal("embedded", checks.GetProperty("policy").GetProperty("engine").GetString());
        Assert.Equal("ok", checks.GetProperty("audit").GetProperty("status").GetString());
        Assert.Equal("sqlite", checks.GetProperty("audit").GetProperty("store").GetString());
        Assert.True(checks.GetProperty("audit").GetProperty("queue_depth").GetInt64() >= 0);
    }

    [Fact]
    public async Task Metrics_show_the_request_breaker_and_call_counters_after_a_call()
    {
        using (var call = await _http.InvokeAsync(new { server = "demo", tool = "add", parameters = new { a = 1, b = 2 } }))
            await call.JsonAsync();

        // The exporter caches a scrape briefly, so the counters may appear on a later one.
        var metrics = await Eventually.UntilAsync(
            async () =>
            {
                using var response = await _http.GetAsync("/metrics");
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                return await response.Content.ReadAsStringAsync();
            },
            text => text.Contains("sark_calls_total{", StringComparison.Ordinal),
            TimeSpan.FromSeconds(10),
            "the call counter appearing in /metrics");

        Assert.Contains("sark_upstream_requests_total{", metrics, StringComparison.Ordinal);
        Assert.Contains("sark_breaker_state{", metrics, StringComparison.Ordinal);
        Assert.Contains("sark_calls_total{", metrics, StringComparison.Ordinal);
        Assert.Contains("upstream=\"demo\"", metrics, StringComparison.Ordinal);
    }
}
