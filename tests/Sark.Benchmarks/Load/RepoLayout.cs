namespace Sark.Benchmarks.Load;

/// <summary>Where the harness finds the repository, the peers and the built node.</summary>
internal sealed class RepoLayout
{
    private RepoLayout(string root) => Root = root;

    /// <summary>The folder that holds <c>Sark.Actors.sln</c>.</summary>
    public string Root { get; }

    /// <summary>server-everything's stdio entry point (<c>tests/peers</c>, installed with npm ci).</summary>
    public string EverythingScript => Path.Combine(Root, "tests", "peers", "node_modules", "@modelcontextprotocol", "server-everything", "dist", "index.js");

    /// <summary>Walks up from the executable to the folder that holds <c>Sark.Actors.sln</c>.</summary>
    public static RepoLayout Find()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        for (var depth = 0; dir is not null && depth < 32; depth++, dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Sark.Actors.sln")))
                return new RepoLayout(dir.FullName);
        }

        throw new InvalidOperationException($"No folder above {AppContext.BaseDirectory} holds Sark.Actors.sln.");
    }

    /// <summary>The built node (Release first, then Debug) and its configuration name, or null.</summary>
    public (string Dll, string Configuration)? HostDll() => Built("Sark.Host");

    /// <summary>The built demo server (Release first, then Debug), or null.</summary>
    public (string Dll, string Configuration)? DemoServerDll() => Built("Sark.DemoServer");

    /// <summary>The absolute path of an executable on PATH, or the name itself when not found.</summary>
    public static string OnPath(string name)
    {
        var path = Environment.GetEnvironmentVariable("PATH") ?? string.Empty;
        foreach (var dir in path.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, name);
            if (File.Exists(candidate))
                return candidate;
        }

        return name;
    }

    private (string Dll, string Configuration)? Built(string project)
    {
        foreach (var configuration in (string[])["Release", "Debug"])
        {
            var dll = Path.Combine(Root, "src", project, "bin", configuration, "net10.0", project + ".dll");
            if (File.Exists(dll))
                return (dll, configuration);
        }

        return null;
    }
}
