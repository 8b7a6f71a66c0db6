using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Sark.Actors.Configuration;
using Sark.Actors.Telemetry;

namespace Sark.Host;

/// <summary>
/// The <c>Sark.Actors</c> meter, exported in Prometheus text format at <c>/metrics</c> (and over
/// OTLP when <c>sark.telemetry.otlp-endpoint</c> is set), and the <c>Sark.Actors</c> traces.
/// </summary>
internal static class NodeMetrics
{
    public const string Path = "/metrics";

    /// <summary>The .NET runtime's built-in meter (<c>dotnet.gc.*</c>, <c>dotnet.thread_pool.*</c>, <c>dotnet.process.cpu.time</c>, …).</summary>
    internal const string RuntimeMeter = "System.Runtime";

    /// <summary>
    /// Bucket bounds for durations in seconds, from 1 ms to 1 min. The SDK's default bounds
    /// (0 to 10 000) are meant for milliseconds and would put every call in the first buckets.
    /// </summary>
    private static readonly double[] SecondsBuckets =
        [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

    public static IServiceCollection AddNodeMetrics(this IServiceCollection services, TelemetryOptions telemetry)
    {
        if (!telemetry.Enabled)
            return services;
        var otlp = telemetry.OtlpEndpoint;
        services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService("sark-node", serviceVersion: SarkTelemetry.Meter.Version))
            .WithMetrics(metrics =>
            {
                metrics
                    .AddMeter(SarkTelemetry.Name)
                    // The runtime's own meter: GC (collections, bytes allocated, heap sizes, pause
                    // time), JIT, thread pool, lock contention, exceptions and process CPU. Observed
                    // only when scraped: nothing on the call path.
                    .AddMeter(RuntimeMeter)
                    .AddView(instrument => instrument.Meter.Name == SarkTelemetry.Name && instrument.Unit == "s"
                        ? new ExplicitBucketHistogramConfiguration { Boundaries = SecondsBuckets }
                        : null)
                    .AddPrometheusExporter();
                if (otlp is not null)
                {
                    metrics.AddOtlpExporter((o, reader) =>
                    {
                        Otlp(o, otlp, telemetry.OtlpProtocol, "v1/metrics");
                        reader.PeriodicExportingMetricReaderOptions.ExportIntervalMilliseconds = (int)telemetry.OtlpMetricsInterval.TotalMilliseconds;
                    });
                }
            })
            // Every call gets a trace id (the audit event and the upstreams carry it); the spans
            // of trace-sample-ratio of new traces, and of every trace a caller sampled, are
            // recorded, and leave the process only with an OTLP endpoint.
            .WithTracing(tracing =>
            {
                tracing.AddSource(SarkTelemetry.Name).SetSampler(Sampler(telemetry.TraceSampleRatio));
                if (otlp is not null)
                    tracing.AddOtlpExporter(o => Otlp(o, otlp, telemetry.OtlpProtocol, "v1/traces"));
            });
        return services;
    }

    /// <summary>Parent-based: a caller's sampled traceparent is honoured; new traces are recorded at the ratio.</summary>
    internal static Sampler Sampler(double ratio) => new ParentBasedSampler(ratio >= 1.0
        ? new AlwaysOnSampler()
        : new TraceIdRatioBasedSampler(ratio));

    /// <summary>
    /// An endpoint set in code is used as it is, so for http/protobuf each signal gets its own
    /// path under the configured base URL (as <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> would give it).
    /// </summary>
    private static void Otlp(OtlpExporterOptions options, Uri endpoint, string protocol, string signalPath)
    {
        if (protocol == "http/protobuf")
        {
            options.Protocol = OtlpExportProtocol.HttpProtobuf;
            options.Endpoint = new Uri(endpoint.AbsoluteUri.TrimEnd('/') + "/" + signalPath);
        }
        else
        {
            options.Protocol = OtlpExportProtocol.Grpc;
            options.Endpoint = endpoint;
        }
    }

    public static IEndpointRouteBuilder MapNodeMetrics(this IEndpointRouteBuilder endpoints, TelemetryOptions telemetry)
    {
        if (!telemetry.Enabled)
            return endpoints;
        endpoints.MapPrometheusScrapingEndpoint(Path);
        return endpoints;
    }
}
