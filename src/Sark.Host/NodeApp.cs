using Akka.Hosting;
using OpenTelemetry.Metrics;
using Sark.Actors.Configuration;
using Sark.Actors.Hosting;
using Sark.Actors.Telemetry;
using Sark.Host.Api;
using Sark.Host.Health;
using Sark.Host.Startup;

namespace Sark.Host;

/// <summary>Builds the node's web application: Kestrel, the actor system, the REST API, health and metrics.</summary>
internal static class NodeApp
{
    /// <summary>Time the host gives its services to stop, on top of the drain of calls in flight.</summary>
    private static readonly TimeSpan ShutdownMargin = TimeSpan.FromSeconds(15);

    /// <summary>
    /// Builds the application. Configuration errors that only the actor system's set-up finds
    /// surface here as a <see cref="SarkConfigException"/>, before anything starts.
    /// </summary>
    public static WebApplication Build(SarkOptions options)
    {
        var endpoint = KestrelBinding.Parse(options.Node.HttpBind);
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });

        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Information);
        builder.WebHost.ConfigureKestrel(kestrel => KestrelBinding.Configure(kestrel, options.Node, endpoint));
        builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = options.Node.ShutdownDrain + ShutdownMargin);
        builder.Services.ConfigureHttpJsonOptions(json => json.SerializerOptions.TypeInfoResolverChain.Insert(0, NodeJsonContext.Default));

        builder.Services.AddSingleton(options);
        builder.Services.AddAkka("sark", (akka, _) =>
        {
            akka.ConfigureLoggers(loggers => loggers.ClearLoggers().AddLoggerFactory());
            akka.AddHocon(ShutdownPhases(options.Node), HoconAddMode.Prepend);
            akka.WithSarkGateway(options);
        });
        builder.Services.AddSarkGateway();
        builder.Services.AddHealthEndpoints();
        builder.Services.AddOpenTelemetry().WithMetrics(metrics => metrics.AddMeter(SarkTelemetry.Name).AddPrometheusExporter());

        var app = builder.Build();

        // Runs the Akka set-up now (WithSarkGateway validates the upstreams), so that a bad
        // configuration is reported as such instead of failing the host's start.
        _ = app.Services.GetRequiredService<AkkaConfigurationBuilder>();

        app.UseMiddleware<RequestIdMiddleware>();
        app.UseMiddleware<ErrorHandlingMiddleware>();
        app.UseStatusCodePages(StatusCodeResponses.WriteAsync);
        app.MapRestApi();
        app.MapHealthEndpoints();
        app.MapPrometheusScrapingEndpoint("/metrics");
        return app;
    }

    /// <summary>
    /// Coordinated shutdown gives each phase 5 s by default: the drain of calls in flight and the
    /// stop of the upstream processes need longer.
    /// </summary>
    private static string ShutdownPhases(NodeOptions node)
    {
        var drain = (long)(node.ShutdownDrain + TimeSpan.FromSeconds(5)).TotalMilliseconds;
        return $$"""
            akka.coordinated-shutdown.phases {
              service-requests-done.timeout = {{drain}}ms
              service-stop.timeout = 15s
            }
            """;
    }
}
