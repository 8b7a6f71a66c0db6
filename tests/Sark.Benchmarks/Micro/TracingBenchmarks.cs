using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using OpenTelemetry;
using OpenTelemetry.Trace;
using Sark.Actors.Telemetry;

namespace Sark.Benchmarks.Micro;

/// <summary>
/// What one span of the <c>Sark.Actors</c> source costs under the node's sampler: a recorded root,
/// a root the ratio sampler drops (it still carries a trace id), and a child under a parent that
/// is not recorded (the facade makes none). Tags as the facade sets them on a recorded span.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(MicroConfig))]
public class TracingBenchmarks
{
    private TracerProvider _tracing = null!;

    [Params(0.0, 1.0)]
    public double Ratio { get; set; }

    [GlobalSetup]
    public void Setup() =>
        _tracing = Sdk.CreateTracerProviderBuilder().AddSource(SarkTelemetry.Name)
            .SetSampler(new ParentBasedSampler(Ratio >= 1 ? new AlwaysOnSampler() : new TraceIdRatioBasedSampler(Ratio))).Build()!;

    [GlobalCleanup]
    public void Cleanup() => _tracing.Dispose();

    [Benchmark(Description = "root span + traceparent string")]
    public string? Root()
    {
        using var activity = SarkTelemetry.ActivitySource.StartActivity("sark.invoke");
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag("sark.server", "demo");
            activity.SetTag("sark.tool", "echo");
            activity.SetTag("sark.request_id", "req-1");
            activity.SetTag("sark.outcome", "ok");
        }

        return activity?.Id;
    }
}
