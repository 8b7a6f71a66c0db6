using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using ModelContextProtocol.Server;

namespace Sark.Host.FrontDoor;

/// <summary>
/// The SDK's HTTP transport registers authorization checks for its own primitives
/// (<c>McpServerTool</c> and the like, by their <c>[Authorize]</c> metadata). The front door has
/// none: its tools, resources and prompts are handlers over the catalog, and the node's policy
/// authorizes every call. The checks would still be built into every server (in stateless mode,
/// for every request) and wrap every call with nothing to check, so the front door removes them.
/// </summary>
internal static class SdkPrimitiveAuthorization
{
    // Matched by name: the SDK keeps these types internal. If a later SDK renames them they stay
    // registered and cost what they did before; SdkPrimitiveAuthorizationSpecs would then fail.
    private static readonly string[] Setups =
    [
        "ModelContextProtocol.AspNetCore.AuthorizationFilterSetup",
        "ModelContextProtocol.AspNetCore.AuthorizationCallToolFilterGuardSetup",
    ];

    /// <summary>Removes the SDK's post-configuration of primitive authorization from <paramref name="services"/>.</summary>
    public static void Remove(IServiceCollection services)
    {
        for (var i = services.Count - 1; i >= 0; i--)
        {
            if (services[i].ServiceType == typeof(IPostConfigureOptions<McpServerOptions>)
                && Array.IndexOf(Setups, services[i].ImplementationType?.FullName) >= 0)
                services.RemoveAt(i);
        }
    }
}
