using System.Collections.Immutable;
using System.Reflection;
using Sark.Actors.Configuration;

namespace Sark.Actors.Tests;

/// <summary>Upstream options that run the real demo server, for specs.</summary>
internal static class TestUpstreams
{
    public static string DemoServerDll { get; } = Path.GetFullPath(
        typeof(TestUpstreams).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .Single(a => a.Key == "DemoServerDll").Value!);

    public static UpstreamOptions Demo(string name = "demo", params string[] flags) => new()
    {
        Name = name,
        Kind = UpstreamKind.McpStdio,
        Command = ["dotnet", DemoServerDll, .. flags],
        CallTimeout = TimeSpan.FromSeconds(10),
        InitTimeout = TimeSpan.FromSeconds(20),
        StopGrace = TimeSpan.FromSeconds(1),
        KillGrace = TimeSpan.FromSeconds(1),
    };

    public static SarkOptions With(params UpstreamOptions[] upstreams) => new()
    {
        Upstreams = upstreams.ToDictionary(u => u.Name).ToImmutableDictionary(StringComparer.Ordinal),
    };
}
