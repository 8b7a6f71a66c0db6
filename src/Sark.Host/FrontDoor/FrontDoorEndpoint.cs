namespace Sark.Host.FrontDoor;

/// <summary>Wires the MCP front door (<c>sark.front-door</c>) into the node: services, then the endpoint.</summary>
internal static class FrontDoorEndpoint
{
    public static IServiceCollection AddMcpFrontDoor(this IServiceCollection services, FrontDoorOptions options)
    {
        if (!options.Enabled)
            return services;

        services.AddHttpContextAccessor();
        services.AddSingleton(new ToolNames(options.Separator));
        services.AddSingleton<FrontDoorHandlers>();
        services.AddMcpServer()
            .WithHttpTransport(http => http.Stateless = options.Stateless)
            .WithListToolsHandler((request, ct) => Handlers(request.Services).ListToolsAsync(request, ct))
            .WithCallToolHandler((request, ct) => Handlers(request.Services).CallToolAsync(request, ct))
            .WithFrontDoorRelays();
        return services;
    }

    public static IEndpointRouteBuilder MapMcpFrontDoor(this IEndpointRouteBuilder endpoints, FrontDoorOptions options)
    {
        if (options.Enabled)
        {
            endpoints.MapMcp(options.Path);
            endpoints.MapMcp(FrontDoorScope.SingleServerPattern);
        }

        return endpoints;
    }

    private static FrontDoorHandlers Handlers(IServiceProvider? services) =>
        (services ?? throw new InvalidOperationException("The MCP request carries no services.")).GetRequiredService<FrontDoorHandlers>();
}
