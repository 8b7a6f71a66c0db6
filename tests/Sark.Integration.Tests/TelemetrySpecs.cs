using System.Diagnostics;
using Akka.Configuration;
using Akka.TestKit.Xunit2;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using Sark.Actors;
using Sark.Actors.Configuration;
using Sark.Actors.Errors;
using Sark.Actors.Hosting;
using Sark.Actors.Policy;
using Sark.Actors.Telemetry;
using Sark.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Sark.Integration.Tests;

/// <summary>
/// Traces and metrics of the invoke path (issue 8), read with the OpenTelemetry in-memory
/// exporters: the span tree of an allowed, a denied and a failed call, and the metric values
/// after a scripted scenario (N calls, K denied, one crash) against the real demo server.
/// </summary>
public sealed class TelemetrySpecs(ITestOutputHelper output)
    : TestKit(ConfigurationFactory.ParseString("akka.loglevel = INFO"), output: output)
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    /// <summary>An upstream name of this spec's own, so that its tags are told apart from any other.</summary>
    private readonly string _upstream = "obs-" + Guid.NewGuid().ToString("N")[..8];

    private SarkOptions Options() => SarkConfigLoader.Parse($$"""
        sark {
          upstreams."{{_upstream}}" {
            kind = mcp-stdio
            command = [{{NodeConfigs.Quote(NodePaths.Dotnet)}}, {{NodeConfigs.Quote(NodePaths.DemoServerDll)}}]
            init-timeout = 30s
            stop-grace = 1s
            kill-grace = 2s
            backoff { min = 200ms, max = 1s }
          }
          policy.embedded.rules = [
            { name = local-may-call, effect = allow, subjects = [local] }
            { name = no-add, effect = deny, tools = [add], reason = "add is not for you" }
          ]
          audit.enabled = false
        }
        """);

    private async Task<ISarkGateway> StartAsync()
    {
        var gateway = SarkRuntime.Start(Sys, Options()).Gateway;
        await InProcessRuntime.UpstreamAsync(gateway, _upstream, s => s.State == UpstreamState.Ready, Bound, "the demo upstream ready");
        return gateway;
    }

    private List<Activity> SpansOf(List<Activity> spans, string traceId) =>
        spans.Where(a => a.TraceId.ToHexString() == traceId).ToList();

    private Activity InvokeSpan(List<Activity> spans, string tool)
    {
        var invoke = spans.Where(a => a.OperationName == "sark.invoke" && (string?)a.GetTagItem("sark.server") == _upstream && (string?)a.GetTagItem("sark.tool") == tool).ToList();
        return Assert.Single(invoke);
    }

    [Fact]
    public async Task Allowed_denied_and_failed_calls_make_the_span_trees_operators_expect()
    {
        var spans = new List<Activity>();
        using var tracing = Sdk.CreateTracerProviderBuilder().AddSource(SarkTelemetry.Name).AddInMemoryExporter(spans).Build();
        var gateway = await StartAsync();

        await gateway.InvokeToolAsync(_upstream, "echo", InProcessRuntime.Args("""{"message":"hi"}"""));
        await Assert.ThrowsAsync<PolicyDeniedException>(() => gateway.InvokeToolAsync(_upstream, "add", InProcessRuntime.Args("""{"a":1,"b":2}""")));
        var crash = await Assert.ThrowsAnyAsync<SarkException>(() => gateway.InvokeToolAsync(_upstream, "crash", InProcessRuntime.Args("{}")));
        Assert.Equal(SarkErrorCode.UpstreamUnavailable, crash.Code);
        tracing.ForceFlush();

        // Allowed: invoke → authorize (allow) and invoke → the upstream's tools/call, made by the
        // connection actor from the traceparent the call message carried across the actor hop.
        var allowed = InvokeSpan(spans, "echo");
        var tree = SpansOf(spans, allowed.TraceId.ToHexString());
        Assert.Equal("ok", allowed.GetTagItem("sark.outcome"));
        Assert.Equal(ActivityStatusCode.Unset, allowed.Status);
        var authorize = Assert.Single(tree, a => a.OperationName == "sark.authorize");
        Assert.Equal(allowed.SpanId, authorize.ParentSpanId);
        Assert.Equal("allow", authorize.GetTagItem("sark.decision"));
        var upstream = Assert.Single(tree, a => a.OperationName == "sark.upstream tools/call");
        Assert.Equal(allowed.SpanId, upstream.ParentSpanId);
        Assert.Equal(ActivityKind.Client, upstream.Kind);
        Assert.Equal(_upstream, upstream.GetTagItem("sark.upstream"));
        Assert.Equal("ok", upstream.GetTagItem("sark.outcome"));
        Assert.True(upstream.StartTimeUtc >= allowed.StartTimeUtc && upstream.Duration <= allowed.Duration,
            $"the upstream span ({upstream.StartTimeUtc:O}, {upstream.Duration}) lies inside the invoke span ({allowed.StartTimeUtc:O}, {allowed.Duration})");

        // Denied: authorize says deny, nothing goes upstream, the invoke span is an error.
        var denied = InvokeSpan(spans, "add");
        var deniedTree = SpansOf(spans, denied.TraceId.ToHexString());
        Assert.Equal("policy_denied", denied.GetTagItem("sark.outcome"));
        Assert.Equal(ActivityStatusCode.Error, denied.Status);
        Assert.Equal("deny", Assert.Single(deniedTree, a => a.OperationName == "sark.authorize").GetTagItem("sark.decision"));
        Assert.DoesNotContain(deniedTree, a => a.OperationName.StartsWith("sark.upstream", StringComparison.Ordinal));

        // Failed: the process died under the call; both the invoke and the upstream span say so.
        var failed = InvokeSpan(spans, "crash");
        var failedTree = SpansOf(spans, failed.TraceId.ToHexString());
        Assert.Equal("upstream_unavailable", failed.GetTagItem("sark.outcome"));
        Assert.Equal(ActivityStatusCode.Error, failed.Status);
        var failedUpstream = Assert.Single(failedTree, a => a.OperationName == "sark.upstream tools/call");
        Assert.Equal(failed.SpanId, failedUpstream.ParentSpanId);
        Assert.Equal("upstream_unavailable", failedUpstream.GetTagItem("sark.outcome"));
        Assert.Equal(ActivityStatusCode.Error, failedUpstream.Status);

        // No span was left ambient on this thread by the actors or the facade.
        Assert.Null(Activity.Current);
    }

    [Fact]
    public async Task A_scripted_scenario_leaves_the_metric_values_it_should()
    {
        const int calls = 5, denied = 2;
        var exported = new List<Metric>();
        using var metrics = Sdk.CreateMeterProviderBuilder().AddMeter(SarkTelemetry.Name).AddInMemoryExporter(exported).Build();
        var gateway = await StartAsync();

        for (var i = 0; i < calls; i++)
            await gateway.InvokeToolAsync(_upstream, "echo", InProcessRuntime.Args($$"""{"message":"m{{i}}"}"""));
        for (var i = 0; i < denied; i++)
            await Assert.ThrowsAsync<PolicyDeniedException>(() => gateway.InvokeToolAsync(_upstream, "add", InProcessRuntime.Args("""{"a":1,"b":2}""")));
        await Assert.ThrowsAnyAsync<SarkException>(() => gateway.InvokeToolAsync(_upstream, "crash", InProcessRuntime.Args("{}")));
        var back = await InProcessRuntime.UpstreamAsync(gateway, _upstream, s => s.State == UpstreamState.Ready && s.RestartCount == 1, Bound, "the upstream restarted after the crash");
        Assert.Equal(BreakerState.Closed, back.Breaker);

        long Sum(string name, params (string Key, string Value)[] tags)
        {
            exported.Clear();
            metrics.ForceFlush();
            long total = 0;
            foreach (var metric in exported.Where(m => m.Name == name))
            {
                foreach (ref readonly var point in metric.GetMetricPoints())
                {
                    var found = new Dictionary<string, object?>();
                    foreach (var tag in point.Tags)
                        found[tag.Key] = tag.Value;
                    if (tags.All(t => found.TryGetValue(t.Key, out var v) && (string?)v == t.Value))
                        total += metric.MetricType is MetricType.LongSum or MetricType.LongSumNonMonotonic ? point.GetSumLong() : point.GetHistogramCount();
                }
            }

            return total;
        }

        Assert.Equal(calls, Sum("sark.calls", ("server", _upstream), ("outcome", "ok")));
        Assert.Equal(denied, Sum("sark.calls", ("server", _upstream), ("outcome", "policy_denied")));
        Assert.Equal(1, Sum("sark.calls", ("server", _upstream), ("outcome", "upstream_unavailable")));
        Assert.Equal(calls + denied + 1, Sum("sark.call.duration", ("server", _upstream)));
        // Denied calls never reach the upstream.
        Assert.Equal(calls, Sum("sark.upstream.requests", ("upstream", _upstream), ("operation", "tools/call"), ("outcome", "ok")));
        Assert.Equal(1, Sum("sark.upstream.requests", ("upstream", _upstream), ("operation", "tools/call"), ("outcome", "upstream_unavailable")));
        Assert.Equal(1, Sum("sark.stdio.restarts", ("upstream", _upstream)));
        Assert.Equal(1, Sum("sark.breaker.transitions", ("upstream", _upstream), ("state", "open")));
        Assert.True(Sum("sark.policy.decisions", ("action", "tool:invoke"), ("decision", "deny")) >= denied);
        Assert.True(Sum("sark.policy.decisions", ("action", "tool:invoke"), ("decision", "allow")) >= calls + 1);
    }

    [Fact]
    public async Task The_stdio_rss_gauge_reports_the_running_process()
    {
        var exported = new List<Metric>();
        using var metrics = Sdk.CreateMeterProviderBuilder().AddMeter(SarkTelemetry.Name).AddInMemoryExporter(exported).Build();
        var gateway = await StartAsync();
        var pid = (await gateway.GetUpstreamsAsync()).Single(u => u.Name == _upstream).ProcessId;
        Assert.NotNull(pid);

        metrics.ForceFlush();
        var rss = exported.Where(m => m.Name == "sark.stdio.process.rss").SelectMany(m =>
        {
            var values = new List<long>();
            foreach (ref readonly var point in m.GetMetricPoints())
            {
                foreach (var tag in point.Tags)
                {
                    if (tag.Key == "upstream" && (string?)tag.Value == _upstream)
                        values.Add(point.GetGaugeLastValueLong());
                }
            }

            return values;
        }).ToList();
        var bytes = Assert.Single(rss);
        // A .NET process holds more than 10 MB and less than 4 GB resident.
        Assert.InRange(bytes, 10L << 20, 4L << 30);
    }
}
