using Microsoft.Extensions.Options;
using ModelContextProtocol.AspNetCore;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace Sark.Host.FrontDoor;

/// <summary>
/// Wires the relays of the front door into the MCP server: the session registry that sends
/// <c>notifications/tools/list_changed</c> (<see cref="FrontDoorSessions"/>), the capability
/// that announces it, and the resources and prompts handlers (<see cref="FrontDoorCatalogHandlers"/>). It wraps any <c>RunSessionHandler</c> configured before it, so it composes
/// with the HTTP layer's own session handling.
/// </summary>
internal static class FrontDoorRelays
{
    public static IMcpServerBuilder WithFrontDoorRelays(this IMcpServerBuilder builder)
    {
        var services = builder.Services;
        services.AddSingleton<FrontDoorSessions>();
        services.AddHostedService(sp => sp.GetRequiredService<FrontDoorSessions>());
        services.Configure<McpServerOptions>(options =>
        {
            options.Capabilities ??= new ServerCapabilities();
            options.Capabilities.Tools ??= new ToolsCapability();
            options.Capabilities.Tools.ListChanged = true;
        });
        services.AddSingleton<IPostConfigureOptions<HttpServerTransportOptions>, TrackSessions>();
        services.AddSingleton<FrontDoorCatalogHandlers>();
        return builder
            .WithListResourcesHandler((request, ct) => Catalog(request.Services).ListResourcesAsync(request, ct))
            .WithListResourceTemplatesHandler((request, ct) => Catalog(request.Services).ListResourceTemplatesAsync(request, ct))
            .WithReadResourceHandler((request, ct) => Catalog(request.Services).ReadResourceAsync(request, ct))
            .WithListPromptsHandler((request, ct) => Catalog(request.Services).ListPromptsAsync(request, ct))
            .WithGetPromptHandler((request, ct) => Catalog(request.Services).GetPromptAsync(request, ct));
    }

    private static FrontDoorCatalogHandlers Catalog(IServiceProvider? services) =>
        (services ?? throw new InvalidOperationException("The MCP request carries no services.")).GetRequiredService<FrontDoorCatalogHandlers>();

    /// <summary>Runs every session through <see cref="FrontDoorSessions.RunSessionAsync"/>, around the handler set before.</summary>
    private sealed class TrackSessions(IServiceProvider services) : IPostConfigureOptions<HttpServerTransportOptions>
    {
        public void PostConfigure(string? name, HttpServerTransportOptions options)
        {
            // A stateless request has no stream that a list_changed could be sent on.
            if (options.Stateless)
                return;
#pragma warning disable MCPEXP002 // RunSessionHandler is experimental: the only hook that sees a session start and end.
            var inner = options.RunSessionHandler;
            options.RunSessionHandler = (context, session, cancellationToken) =>
                services.GetRequiredService<FrontDoorSessions>().RunSessionAsync(context, session, inner, cancellationToken);
#pragma warning restore MCPEXP002
        }
    }
}
