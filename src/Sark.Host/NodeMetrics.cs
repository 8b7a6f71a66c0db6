using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using Sark.Actors.Telemetry;

namespace Sark.Host;

/// <summary>The <c>Sark.Actors</c> meter, exported in Prometheus text format at <c>/metrics</c>.</summary>
internal static class NodeMetrics
{
    public const string Path = "/metrics";

    /// <summary>
    /// Bucket bounds for durations in seconds, from 1 ms to 1 min. The SDK's default bounds
    /// (0 to 10 000) are meant for milliseconds and would put every call in the first buckets.
    /// </summary>
    private static readonly double[] SecondsBuckets =
        [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

    public static IServiceCollection AddNodeMetrics(this IServiceCollection services)
    {
        services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService("sark-node", serviceVersion: SarkTelemetry.Meter.Version))
            .WithMetrics(metrics => metrics
                .AddMeter(SarkTelemetry.Name)
                .AddView(instrument => instrument.Meter.Name == SarkTelemetry.Name && instrument.Unit == "s"
                    ? new ExplicitBucketHistogramConfiguration { Boundaries = SecondsBuckets }
                    : null)
                .AddPrometheusExporter());
        return services;
    }

    public static IEndpointRouteBuilder MapNodeMetrics(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapPrometheusScrapingEndpoint(Path);
        return endpoints;
    }
}
