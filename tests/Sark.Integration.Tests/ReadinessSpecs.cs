using System.Net;
using Sark.Integration.Tests.Infrastructure;

namespace Sark.Integration.Tests;

/// <summary>Readiness that says why it is not ready (issue 8): a required upstream down, a policy engine that cannot decide.</summary>
public sealed class ReadinessSpecs
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Readiness_names_the_required_upstream_that_keeps_the_node_from_being_ready()
    {
        await using var node = await NodeProcess.StartAsync("""
            sark.upstreams.broken {
              kind = mcp-stdio
              command = ["/nonexistent/sark-obs-no-such-server"]
              required = true
            }
            """);
        var body = await Eventually.UntilAsync(
            async () => await (await node.Http.GetAsync("/health/ready")).JsonAsync(HttpStatusCode.ServiceUnavailable),
            b => b.GetProperty("reasons").GetArrayLength() > 0 && b.GetProperty("upstreams").GetProperty("broken").GetProperty("state").ValueKind != System.Text.Json.JsonValueKind.Null,
            Bound, "a not-ready answer with its reason");

        Assert.Equal("not_ready", body.GetProperty("status").GetString());
        var reason = Assert.Single(body.GetProperty("reasons").EnumerateArray()).GetString()!;
        Assert.StartsWith("upstream broken is required and is ", reason, StringComparison.Ordinal);
        Assert.Contains("sark-obs-no-such-server", reason, StringComparison.Ordinal);
        Assert.Equal("ok", body.GetProperty("checks").GetProperty("actor_system").GetProperty("status").GetString());
    }

    [Fact]
    public async Task Readiness_says_the_policy_engine_cannot_decide_after_a_call_failed_closed()
    {
        var opaPort = ExternalTools.FreePort(); // nothing listens there
        await using var node = await NodeProcess.StartAsync(NodeConfigs.Demo() + $$"""

            sark.policy { engine = opa, opa { url = "http://127.0.0.1:{{opaPort}}", timeout = 500ms } }
            """);
        await Eventually.UntilAsync(() => node.Http.GetAsync("/health/ready"), r => r.StatusCode == HttpStatusCode.OK, Bound, "ready before any decision");

        await (await node.Http.InvokeAsync(new { server = "demo", tool = "echo", parameters = new { message = "x" } }))
            .ErrorAsync(HttpStatusCode.ServiceUnavailable, "policy_unavailable");

        var body = await (await node.Http.GetAsync("/health/ready")).JsonAsync(HttpStatusCode.ServiceUnavailable);
        Assert.Equal("not_ready", body.GetProperty("status").GetString());
        var policy = body.GetProperty("checks").GetProperty("policy");
        Assert.Equal("unavailable", policy.GetProperty("status").GetString());
        Assert.True(policy.GetProperty("blocking").GetBoolean());
        Assert.Equal("opa", policy.GetProperty("engine").GetString());
        var reason = Assert.Single(body.GetProperty("reasons").EnumerateArray()).GetString()!;
        Assert.StartsWith("policy: the opa engine could not decide its last call: ", reason, StringComparison.Ordinal);
        // The upstreams are fine: only the policy is named.
        Assert.Equal("ready", body.GetProperty("upstreams").GetProperty("demo").GetProperty("state").GetString());
    }
}
