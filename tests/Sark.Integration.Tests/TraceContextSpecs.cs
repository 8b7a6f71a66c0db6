using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Sark.Integration.Tests.Fakes;
using Sark.Integration.Tests.Infrastructure;

namespace Sark.Integration.Tests;

/// <summary>
/// The trace of a call through a real node (issue 8): an incoming <c>traceparent</c> is
/// continued, the HTTP upstream receives a child <c>traceparent</c> of the same trace, and the
/// audit events carry its trace id.
/// </summary>
public sealed class TraceContextSpecs
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    private const string TraceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    private const string CallerSpan = "00f067aa0ba902b7";

    [Fact]
    public async Task An_incoming_traceparent_is_continued_to_the_upstream_and_into_the_audit_events()
    {
        await using var registry = await FaultyRegistry.StartAsync(servers: 1, toolsPerServer: 1);
        await using var node = await NodeProcess.StartAsync($$"""
            sark.upstreams.registry {
              kind = gateway
              url = {{NodeConfigs.Quote(registry.BaseAddress.GetLeftPart(UriPartial.Authority))}}
              required = true
            }
            """);
        await Eventually.UntilAsync(() => node.Http.GetAsync("/health/ready"), r => r.StatusCode == HttpStatusCode.OK, Bound, "the node ready");

        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/invoke")
        {
            Content = JsonContent.Create(new { server = FaultyRegistry.ServerName(0), tool = "tool-00", parameters = new { text = "traced" } }),
        };
        request.Headers.TryAddWithoutValidation("traceparent", $"00-{TraceId}-{CallerSpan}-01");
        using var response = await node.Http.SendAsync(request);
        await response.JsonAsync();
        var requestId = response.RequestId();

        // The upstream got the same trace, under a span of the node's (not the caller's span).
        var sent = Assert.Single(registry.Received, r => r.Path == "/api/v1/invoke");
        Assert.Equal(requestId, sent.RequestId);
        Assert.NotNull(sent.TraceParent);
        var parts = sent.TraceParent!.Split('-');
        Assert.Equal(4, parts.Length);
        Assert.Equal(TraceId, parts[1]);
        Assert.NotEqual(CallerSpan, parts[2]);

        // Both audit events of the call carry the trace id.
        var events = await Eventually.UntilAsync(
            async () => (await node.Http.GetFromJsonAsync<JsonElement>("/api/v1/audit?limit=100")).GetProperty("events").EnumerateArray()
                .Where(e => e.GetProperty("request_id").GetString() == requestId).ToList(),
            e => e.Count == 2, Bound, "the decision and outcome events of the call");
        Assert.All(events, e => Assert.Equal(TraceId, e.GetProperty("trace_id").GetString()));

        // A call without traceparent starts a trace of its own.
        using var plain = await node.Http.InvokeAsync(new { server = FaultyRegistry.ServerName(0), tool = "tool-00", parameters = new { text = "fresh" } });
        await plain.JsonAsync();
        var fresh = registry.Received.Last(r => r.Path == "/api/v1/invoke").TraceParent!.Split('-')[1];
        Assert.NotEqual(TraceId, fresh);
        Assert.Matches("^[0-9a-f]{32}$", fresh);
    }
}
