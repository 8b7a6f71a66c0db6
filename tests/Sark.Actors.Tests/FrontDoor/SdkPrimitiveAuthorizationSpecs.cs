using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using ModelContextProtocol.Server;
using Sark.Host.FrontDoor;

namespace Sark.Actors.Tests.FrontDoor;

/// <summary><see cref="SdkPrimitiveAuthorization"/>: the servers the front door builds carry none of the SDK's checks for primitives it does not have.</summary>
public sealed class SdkPrimitiveAuthorizationSpecs
{
    private static McpServerOptions ServerOptions(bool removed)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddMcpServer()
            .WithHttpTransport()
            .WithListToolsHandler((_, _) => ValueTask.FromResult(new ModelContextProtocol.Protocol.ListToolsResult()))
            .WithCallToolHandler((_, _) => ValueTask.FromResult(new ModelContextProtocol.Protocol.CallToolResult()));
        if (removed)
            SdkPrimitiveAuthorization.Remove(services);
        using var provider = services.BuildServiceProvider();
        // What the SDK does for every stateless request: a fresh McpServerOptions from the factory.
        return provider.GetRequiredService<IOptionsFactory<McpServerOptions>>().Create(Options.DefaultName);
    }

    [Fact]
    public void The_SDK_adds_its_checks_to_every_server_it_builds()
    {
        var options = ServerOptions(removed: false);

#pragma warning disable MCPEXP002 // The call-tool guard is one of the experimental filters.
        Assert.NotEmpty(options.Filters.Request.CallToolWithAlternateFilters);
#pragma warning restore MCPEXP002
        Assert.NotEmpty(options.Filters.Request.ListToolsFilters);
    }

    [Fact]
    public void Without_them_a_server_has_no_filter_around_its_handlers()
    {
        var options = ServerOptions(removed: true);

#pragma warning disable MCPEXP002
        Assert.Empty(options.Filters.Request.CallToolWithAlternateFilters);
#pragma warning restore MCPEXP002
        Assert.Empty(options.Filters.Request.ListToolsFilters);
        Assert.Empty(options.Filters.Request.ListResourcesFilters);
        Assert.Empty(options.Filters.Request.ReadResourceFilters);
        Assert.Empty(options.Filters.Request.ListPromptsFilters);
        Assert.Empty(options.Filters.Request.GetPromptFilters);
        Assert.NotNull(options.Handlers.CallToolHandler);
    }
}
