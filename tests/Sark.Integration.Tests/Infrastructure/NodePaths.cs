using System.Reflection;

namespace Sark.Integration.Tests.Infrastructure;

/// <summary>Where the built node (<c>Sark.Host.dll</c>), the demo server and the <c>dotnet</c> host are.</summary>
internal static class NodePaths
{
    /// <summary>The node's assembly, as recorded by the build (see the csproj); <c>SARK_HOST_DLL</c> overrides it.</summary>
    public static string HostDll { get; } = ResolveHostDll();

    public static string HostDirectory => Path.GetDirectoryName(HostDll)!;

    /// <summary>The demo MCP server, copied into the node's folder by the node's build.</summary>
    public static string DemoServerDll => Path.Combine(HostDirectory, "Sark.DemoServer.dll");

    /// <summary>The <c>dotnet</c> that runs these tests (the CLI sets <c>DOTNET_HOST_PATH</c>), else the one on PATH.</summary>
    public static string Dotnet { get; } =
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";

    /// <summary>
    /// <c>@modelcontextprotocol/server-everything</c>, installed into <c>tests/peers</c> by the test
    /// command (<c>npm ci</c>). Fails with a clear message when it is not installed.
    /// </summary>
    public static string EverythingScript
    {
        get
        {
            var script = Path.Combine(RepoRoot, "tests/peers/node_modules/@modelcontextprotocol/server-everything/dist/index.js");
            return File.Exists(script)
                ? script
                : throw new InvalidOperationException($"{script} is missing: run 'bash scripts/test.sh', which installs the npm peers.");
        }
    }

    /// <summary>The folder that holds <c>Sark.Actors.sln</c>, above the test assembly.</summary>
    public static string RepoRoot { get; } = FindRepoRoot();

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Sark.Actors.sln")))
                return dir.FullName;
        }

        throw new InvalidOperationException("Sark.Actors.sln not found above the test assembly.");
    }

    private static string ResolveHostDll()
    {
        var path = Environment.GetEnvironmentVariable("SARK_HOST_DLL");
        if (string.IsNullOrEmpty(path))
        {
            path = typeof(NodePaths).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
                .SingleOrDefault(a => a.Key == "SarkHostDll")?.Value;
        }

        if (string.IsNullOrEmpty(path) || !File.Exists(path))
            throw new InvalidOperationException($"Sark.Host.dll was not found at '{path}'. Build tests/Sark.Integration.Tests (it builds the node), or set SARK_HOST_DLL.");
        return Path.GetFullPath(path);
    }
}
