using ModelContextProtocol.Protocol;

namespace Sark.Host.FrontDoor;

/// <summary>Wires the MCP front door (<c>sark.front-door</c>) into the node: services, middleware, then the endpoints.</summary>
internal static class FrontDoorEndpoint
{
    public static IServiceCollection AddMcpFrontDoor(this IServiceCollection services, FrontDoorOptions options, string httpBind)
    {
        if (!options.Enabled)
            return services;

        services.AddHttpContextAccessor();
        services.AddSingleton(_ => new FrontDoorRuntime(options, BindHost(httpBind)));
        services.AddSingleton<LegacySseEndpoint>();
        services.AddSingleton(new ToolNames(options.Separator));
        services.AddSingleton<HiddenTools>();
        services.AddSingleton<FrontDoorHandlers>();
        var mcp = services.AddMcpServer(server =>
            {
                // What the SDK would take from the entry assembly, set here so that a direct tool
                // call (DirectToolCall) names the same server as the SDK's answers do.
                server.ServerInfo = ServerInfo;
                server.Capabilities = new ServerCapabilities
                {
                    // Advertised here; the handlers of resources and prompts (and the relays that send
                    // list_changed) are registered next to those of tools.
                    Tools = new ToolsCapability { ListChanged = true },
                    Resources = new ResourcesCapability { ListChanged = true },
                    Prompts = new PromptsCapability { ListChanged = true },
                };
            })
            .WithHttpTransport(http => ConfigureTransport(http, options))
            .WithListToolsHandler((request, ct) => Handlers(request.Services).ListToolsAsync(request, ct))
            .WithCallToolHandler((request, ct) => Handlers(request.Services).CallToolAsync(request, ct))
            .WithFrontDoorRelays();
        SdkPrimitiveAuthorization.Remove(services);

        if (!options.Stateless && options.ResumeWindow > TimeSpan.Zero)
        {
            // Resumable streams (Last-Event-ID): the SDK's event store on an in-process cache.
            services.AddDistributedMemoryCache();
#pragma warning disable MCP9006 // The event store belongs to the SDK's stateful HTTP, which is what sessions are.
            mcp.WithDistributedCacheEventStreamStore(store =>
            {
                store.EventSlidingExpiration = options.ResumeWindow;
                store.EventAbsoluteExpiration = options.ResumeWindow;
            });
            // Unless asked for, only the GET stream's events are kept (GetStreamEventStore says why).
            if (!options.ResumeCallStreams)
            {
                services.PostConfigure<ModelContextProtocol.AspNetCore.HttpServerTransportOptions>(http =>
                {
                    if (http.EventStreamStore is { } store and not GetStreamEventStore)
                        http.EventStreamStore = new GetStreamEventStore(store);
                });
            }
#pragma warning restore MCP9006
        }

        return services;
    }

    /// <summary>The node as an MCP server: its assembly's name and version.</summary>
    internal static Implementation ServerInfo { get; } = new()
    {
        Name = typeof(FrontDoorEndpoint).Assembly.GetName().Name ?? "Sark.Host",
        Version = typeof(FrontDoorEndpoint).Assembly.GetName().Version?.ToString() ?? "1.0.0",
    };

    /// <summary>Host/Origin checks and the body limit: before authentication, so that a rebinding page gets 421/403, not 401.</summary>
    public static IApplicationBuilder UseMcpFrontDoorGuard(this IApplicationBuilder app, FrontDoorOptions options) =>
        options.Enabled ? app.UseMiddleware<FrontDoorGuardMiddleware>() : app;

    /// <summary>Session ownership, limits and keep-alive: after authentication, which gives the caller.</summary>
    public static IApplicationBuilder UseMcpFrontDoorSessions(this IApplicationBuilder app, FrontDoorOptions options) =>
        options.Enabled ? app.UseMiddleware<FrontDoorSessionMiddleware>() : app;

    public static IEndpointRouteBuilder MapMcpFrontDoor(this IEndpointRouteBuilder endpoints, FrontDoorOptions options)
    {
        if (!options.Enabled)
            return endpoints;

        endpoints.MapMcp(options.Path);
        endpoints.MapMcp(FrontDoorPaths.SingleServerMcp);
        if (options.LegacySse.Enabled)
        {
            // The same endpoint serves both pairs; a session opened at /servers/{name}/sse is one server's.
            var legacy = endpoints.ServiceProvider.GetRequiredService<LegacySseEndpoint>();
            endpoints.MapGet(LegacySseOptions.SsePath, legacy.HandleSseAsync);
            endpoints.MapPost(LegacySseOptions.MessagesPath, legacy.HandleMessageAsync);
            endpoints.MapGet(FrontDoorPaths.SingleServerSse, legacy.HandleSseAsync);
            endpoints.MapPost(FrontDoorPaths.SingleServerMessages, legacy.HandleMessageAsync);
        }

        if (endpoints.ServiceProvider.GetRequiredService<FrontDoorRuntime>().Policy.AnyHost && options.AllowedHosts.Count == 0)
            FrontDoorLog.AnyHost(endpoints.ServiceProvider.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(FrontDoorEndpoint)));
        return endpoints;
    }

    private static void ConfigureTransport(ModelContextProtocol.AspNetCore.HttpServerTransportOptions http, FrontDoorOptions options)
    {
        http.Stateless = options.Stateless;
#pragma warning disable MCP9006 // Stateful Streamable HTTP options are obsolete in the SDK; sessions are what this mode is for.
        http.IdleTimeout = options.IdleTimeout;
        http.MaxIdleSessionCount = options.MaxSessions;
#pragma warning restore MCP9006
        // Stateless, a "session" is one request: it takes no slot (the limits count sessions) and
        // has no stream to send list_changed on, so it runs without a session handler; its server
        // is built per request, without the resources and prompts handlers for a tools request.
        if (!options.Stateless)
        {
#pragma warning disable MCPEXP002 // RunSessionHandler is experimental: it is the one place that sees a session end.
            http.RunSessionHandler = FrontDoorSessionMiddleware.RunSessionAsync;
#pragma warning restore MCPEXP002
        }
        else
        {
            http.ConfigureSessionOptions = StatelessRequests.ConfigureServer;
        }
    }

    /// <summary>The host part of <c>sark.node.http.bind</c> (<c>127.0.0.1</c>, <c>[::1]</c>, <c>*</c>).</summary>
    internal static string BindHost(string bind)
    {
        var colon = bind.LastIndexOf(':');
        return colon > 0 ? bind[..colon] : bind;
    }

    private static FrontDoorHandlers Handlers(IServiceProvider? services) =>
        (services ?? throw new InvalidOperationException("The MCP request carries no services.")).GetRequiredService<FrontDoorHandlers>();
}
