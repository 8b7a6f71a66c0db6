using System.Collections.Concurrent;
using System.Net.Http.Json;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Sark.Integration.Tests.Infrastructure;

namespace Sark.Integration.Tests;

/// <summary>
/// With <c>sark.telemetry.otlp-endpoint</c> set, a node pushes its spans and metrics over OTLP
/// (issue 8). The collector here is a stand-in of our own on 127.0.0.1 that records what
/// arrives at <c>/v1/traces</c> and <c>/v1/metrics</c> (OTLP/HTTP protobuf); no OTLP collector
/// binary is installed on these machines.
/// </summary>
public sealed class OtlpExportSpecs
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task A_node_with_an_otlp_endpoint_pushes_its_spans_and_metrics()
    {
        var received = new ConcurrentQueue<(string Path, string? ContentType, byte[] Body)>();
        await using var collector = await StartCollectorAsync(received);
        await using var node = await NodeProcess.StartAsync(NodeConfigs.Demo() + $$"""

            sark.telemetry { otlp-endpoint = "{{collector.Urls.Single()}}", otlp-protocol = "http/protobuf", otlp-metrics-interval = 500ms, trace-sample-ratio = 1 }
            """);
        await Eventually.UntilAsync(() => node.Http.GetAsync("/health/ready"), r => r.StatusCode == HttpStatusCode.OK, Bound, "the node ready");
        (await node.Http.InvokeAsync(new { server = "demo", tool = "echo", parameters = new { message = "exported" } })).EnsureSuccessStatusCode();

        await Eventually.UntilAsync(() => Task.FromResult(received.ToArray()),
            all => Has(all, "/v1/traces", "sark.invoke") && Has(all, "/v1/traces", "sark.upstream tools/call") && Has(all, "/v1/metrics", "sark.calls"),
            Bound, "the invoke spans at /v1/traces and the call counter at /v1/metrics");
        Assert.All(received, r => Assert.Equal("application/x-protobuf", r.ContentType));
    }

    [Fact]
    public async Task Sampling_records_the_traces_a_caller_sampled_and_gives_every_call_a_trace_id()
    {
        var received = new ConcurrentQueue<(string Path, string? ContentType, byte[] Body)>();
        await using var collector = await StartCollectorAsync(received);
        // Ratio 0: no new trace is recorded; a caller's sampled traceparent still is.
        await using var node = await NodeProcess.StartAsync(NodeConfigs.Demo() + $$"""

            sark.telemetry { otlp-endpoint = "{{collector.Urls.Single()}}", otlp-protocol = "http/protobuf", trace-sample-ratio = 0 }
            """);
        await Eventually.UntilAsync(() => node.Http.GetAsync("/health/ready"), r => r.StatusCode == HttpStatusCode.OK, Bound, "the node ready");

        using var unsampled = await node.Http.InvokeAsync(new { server = "demo", tool = "echo", parameters = new { message = "not recorded" } });
        unsampled.EnsureSuccessStatusCode();
        var unsampledId = unsampled.RequestId();
        const string SampledTrace = "4bf92f3577b34da6a3ce929d0e0e4736";
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/invoke")
        {
            Content = JsonContent.Create(new { server = "demo", tool = "echo", parameters = new { message = "recorded" } }),
        };
        request.Headers.TryAddWithoutValidation("traceparent", $"00-{SampledTrace}-00f067aa0ba902b7-01");
        using var sampled = await node.Http.SendAsync(request);
        sampled.EnsureSuccessStatusCode();

        // The unsampled call still has a trace id: its audit events carry one.
        var unsampledTrace = (await Eventually.UntilAsync(
            async () => (await node.Http.GetFromJsonAsync<System.Text.Json.JsonElement>("/api/v1/audit?limit=100")).GetProperty("events").EnumerateArray()
                .Where(e => e.GetProperty("request_id").GetString() == unsampledId).ToList(),
            e => e.Count == 2, Bound, "the audit events of the unsampled call"))[0].GetProperty("trace_id").GetString()!;
        Assert.Matches("^[0-9a-f]{32}$", unsampledTrace);

        // The sampled call's spans are exported (OTLP carries trace ids as 16 raw bytes); the
        // unsampled call, made first, left none.
        await Eventually.UntilAsync(() => Task.FromResult(received.ToArray()),
            all => HasBytes(all, "/v1/traces", Convert.FromHexString(SampledTrace)), Bound, "the spans of the sampled call");
        Assert.False(HasBytes(received, "/v1/traces", Convert.FromHexString(unsampledTrace)), "no span of the unsampled call is exported");
    }

    [Fact]
    public async Task With_telemetry_off_a_node_serves_no_metrics_and_still_calls()
    {
        await using var node = await NodeProcess.StartAsync(NodeConfigs.Demo() + """

            sark.telemetry.enabled = false
            """);
        await Eventually.UntilAsync(() => node.Http.GetAsync("/health/ready"), r => r.StatusCode == HttpStatusCode.OK, Bound, "the node ready");
        using var call = await node.Http.InvokeAsync(new { server = "demo", tool = "echo", parameters = new { message = "untraced" } });
        call.EnsureSuccessStatusCode();

        using var metrics = await node.Http.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.NotFound, metrics.StatusCode);
    }

    // Protobuf carries strings as they are: the span and instrument names can be found in the bytes.
    private static bool Has(IEnumerable<(string Path, string? ContentType, byte[] Body)> all, string path, string text) =>
        HasBytes(all, path, Encoding.UTF8.GetBytes(text));

    private static bool HasBytes(IEnumerable<(string Path, string? ContentType, byte[] Body)> all, string path, byte[] bytes) =>
        all.Any(r => r.Path == path && r.Body.AsSpan().IndexOf(bytes) >= 0);

    /// <summary>An OTLP/HTTP stand-in on 127.0.0.1 that records what arrives at <c>/v1/traces</c> and <c>/v1/metrics</c>.</summary>
    private static async Task<WebApplication> StartCollectorAsync(ConcurrentQueue<(string Path, string? ContentType, byte[] Body)> received)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var collector = builder.Build();
        collector.MapPost("/v1/{signal}", async (HttpContext context) =>
        {
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body);
            received.Enqueue((context.Request.Path.Value!, context.Request.ContentType, body.ToArray()));
            return Results.Ok();
        });
        await collector.StartAsync();
        return collector;
    }
}
