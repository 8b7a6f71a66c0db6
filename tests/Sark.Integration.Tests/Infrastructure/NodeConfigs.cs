using System.Text.Json;

namespace Sark.Integration.Tests.Infrastructure;

/// <summary>HOCON configurations for nodes under test.</summary>
internal static class NodeConfigs
{
    /// <summary>One required <c>mcp-stdio</c> upstream, <c>demo</c>, running the demo server.</summary>
    public static string Demo(string maxRequestBody = "4MiB") => $$"""
        sark {
          node.http.max-request-body = {{maxRequestBody}}
          node.shutdown-drain = 2s
          {{DemoUpstream()}}
        }
        """;

    /// <summary>The <c>upstreams.everything</c> block (required, server-everything over stdio), to put inside <c>sark { }</c>; <paramref name="extra"/> goes inside it.</summary>
    public static string EverythingUpstream(string extra = "") => $$"""
        upstreams.everything {
            kind = mcp-stdio
            command = ["node", {{Quote(NodePaths.EverythingScript)}}, "stdio"]
            required = true
            init-timeout = 60s
            stop-grace = 1s
            kill-grace = 2s
            {{extra}}
          }
        """;

    /// <summary>The <c>upstreams.demo</c> block (required, the demo server over stdio), to put inside <c>sark { }</c>; <paramref name="extra"/> goes inside it.</summary>
    public static string DemoUpstream(string extra = "") => $$"""
        upstreams.demo {
            kind = mcp-stdio
            command = [{{Quote(NodePaths.Dotnet)}}, {{Quote(NodePaths.DemoServerDll)}}]
            required = true
            init-timeout = 30s
            stop-grace = 1s
            kill-grace = 2s
            {{extra}}
          }
        """;

    /// <summary>
    /// Put before every configuration a test node reads (<see cref="NodeProcess"/>): nodes under
    /// test are on loopback and their specs call without credentials. A spec that tests
    /// authentication turns it off again (<c>sark.auth.anonymous.enabled = false</c>), which
    /// wins because it comes later.
    /// </summary>
    public const string AnonymousCallers =
        "sark.auth.anonymous.enabled = true\n"
        + "sark.policy.embedded.rules = [ { name = spec-local-caller, effect = allow, subjects = [local] } ]\n";

    /// <summary>A HOCON quoted string (the same escapes as JSON).</summary>
    public static string Quote(string value) => JsonSerializer.Serialize(value);
}
