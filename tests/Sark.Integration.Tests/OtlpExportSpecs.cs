using System.Collections.Concurrent;
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
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        await using var collector = builder.Build();
        collector.MapPost("/v1/{signal}", async (HttpContext context) =>
        {
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body);
            received.Enqueue((context.Request.Path.Value!, context.Request.ContentType, body.ToArray()));
            return Results.Ok();
        });
        await collector.StartAsync();
        var endpoint = collector.Urls.Single();

        await using var node = await NodeProcess.StartAsync(NodeConfigs.Demo() + $$"""

            sark.telemetry { otlp-endpoint = "{{endpoint}}", otlp-protocol = "http/protobuf", otlp-metrics-interval = 500ms }
            """);
        await Eventually.UntilAsync(() => node.Http.GetAsync("/health/ready"), r => r.StatusCode == HttpStatusCode.OK, Bound, "the node ready");
        (await node.Http.InvokeAsync(new { server = "demo", tool = "echo", parameters = new { message = "exported" } })).EnsureSuccessStatusCode();

        // Protobuf carries strings as they are: the span and instrument names can be found in the bytes.
        static bool Has(IEnumerable<(string Path, string? ContentType, byte[] Body)> all, string path, string text) =>
            all.Any(r => r.Path == path && Encoding.UTF8.GetString(r.Body).Contains(text, StringComparison.Ordinal));
        await Eventually.UntilAsync(() => Task.FromResult(received.ToArray()),
            all => Has(all, "/v1/traces", "sark.invoke") && Has(all, "/v1/traces", "sark.upstream tools/call") && Has(all, "/v1/metrics", "sark.calls"),
            Bound, "the invoke spans at /v1/traces and the call counter at /v1/metrics");
        Assert.All(received, r => Assert.Equal("application/x-protobuf", r.ContentType));
    }
}
