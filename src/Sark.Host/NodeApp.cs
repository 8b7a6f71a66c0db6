using Akka.Hosting;
using Sark.Actors.Configuration;
using Sark.Actors.Hosting;
using Sark.Actors.Identity;
using Sark.Host.Api;
using Sark.Host.Cluster;
using Sark.Host.FrontDoor;
using Sark.Host.Health;
using Sark.Host.Security;
using Sark.Host.Startup;
using Sark.Host.StatusPage;

namespace Sark.Host;

/// <summary>Builds the node's web application: Kestrel, the actor system, the REST API, health and metrics.</summary>
internal static class NodeApp
{
    /// <summary>Time the host gives its services to stop, on top of the drain and the upstreams' stop graces.</summary>
    private static readonly TimeSpan ShutdownMargin = TimeSpan.FromSeconds(15);

    /// <summary>
    /// Builds the application. Configuration errors that only the actor system's set-up finds
    /// surface here as a <see cref="SarkConfigException"/>, before anything starts.
    /// </summary>
    public static WebApplication Build(
        SarkOptions options, AuthOptions auth, Func<Sark.Actors.Policy.PolicyOptions?>? reloadPolicy = null, FrontDoorOptions? frontDoor = null,
        Akka.Configuration.Config? config = null)
    {
        frontDoor ??= FrontDoorOptions.Default;
        var endpoint = KestrelBinding.Parse(options.Node.HttpBind);
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });

        NodeLogging.Configure(builder.Logging, options.Telemetry);
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        // Hosting's own request lines are Information, below the filter above; but while its logger
        // is enabled at all, hosting makes an Activity and a log scope for every request. The
        // request envelope has the node's own scope (RequestId, RequestPath) and server span.
        builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.None);
        // The MCP SDK logs three Information lines per request (called, completed, took): the
        // front door's calls are counted and audited by the node instead.
        builder.Logging.AddFilter("ModelContextProtocol", LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Information);
        builder.WebHost.ConfigureKestrel(kestrel => KestrelBinding.Configure(kestrel, options.Node, endpoint));
        builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = ShutdownTimeout(options));
        builder.Services.ConfigureHttpJsonOptions(json => json.SerializerOptions.TypeInfoResolverChain.Insert(0, NodeJsonContext.Default));

        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton<TooLargeBodies>();
        builder.Services.AddSingleton(new Authenticator(auth));
        builder.Services.AddAkka("sark", (akka, _) =>
        {
            akka.ConfigureLoggers(loggers => loggers.ClearLoggers().AddLoggerFactory());
            akka.WithNodeCluster(options, config);
            akka.WithSarkGateway(options);
            akka.WithSarkOps(config);
        });
        builder.Services.AddSarkOpsLogs(options.Node.Ops.LogLines);
        if (options.Node.Ops.Enabled)
            builder.Services.AddHostedService<Startup.OpsListening>();
        builder.Services.AddSarkGateway();
        builder.Services.AddSingleton(sp => new PolicyReloader(
            reloadPolicy ?? (() => options.Policy), sp.GetRequiredService<ActorRegistry>(), sp.GetRequiredService<ILogger<PolicyReloader>>()));
        builder.Services.AddHostedService(sp => sp.GetRequiredService<PolicyReloader>());
        builder.Services.AddHealthEndpoints();
        builder.Services.AddNodeMetrics(options.Telemetry);
        builder.Services.AddMcpFrontDoor(frontDoor, options.Node.HttpBind);

        var app = builder.Build();

        // Runs the Akka set-up now (WithSarkGateway validates the upstreams), so that a bad
        // configuration is reported as such instead of failing the host's start.
        _ = app.Services.GetRequiredService<AkkaConfigurationBuilder>();

        // Request id, server span, errors and status pages in one frame; then the front door's
        // Host/Origin/body checks, authentication, and the front door's sessions.
        app.UseMiddleware<RequestEnvelopeMiddleware>();
        app.UseMcpFrontDoorGuard(frontDoor);
        app.UseMiddleware<AuthenticationMiddleware>();
        app.UseMcpFrontDoorSessions(frontDoor);
        app.MapRestApi();
        app.MapEventsEndpoint();
        app.MapAuditEndpoints();
        app.MapHealthEndpoints();
        app.MapNodeMetrics(options.Telemetry);
        app.MapStatusPage();
        app.MapMcpFrontDoor(frontDoor);
        return app;
    }

    /// <summary>
    /// Coordinated shutdown drains calls (<c>shutdown-drain</c>), then stops every upstream
    /// process (stdin closed, <c>stop-grace</c>, SIGTERM, <c>kill-grace</c>): the host waits for all of it.
    /// In a cluster the hand-off drains the upstreams' calls too (docs/cluster.md, the leave sequence).
    /// </summary>
    private static TimeSpan ShutdownTimeout(SarkOptions options) =>
        options.Node.ShutdownDrain + (options.Cluster.Enabled ? options.Node.ShutdownDrain : TimeSpan.Zero)
        + options.LongestUpstreamStop + (options.Audit?.FlushTimeout ?? TimeSpan.Zero) + ShutdownMargin;
}
