using System.Diagnostics;
using System.Reflection;
using System.Text.Json.Nodes;
using Sark.Integration.Tests.Infrastructure;

namespace Sark.Integration.Tests.Ops;

/// <summary>How one run of the <c>sark</c> client ended.</summary>
public sealed record CliRun(int ExitCode, string Stdout, string Stderr)
{
    /// <summary>With <c>--json</c>: one object a line.</summary>
    public IReadOnlyList<JsonObject> JsonLines =>
        [.. Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(l => JsonNode.Parse(l)!.AsObject())];

    public override string ToString() => $"exit {ExitCode}\n--- stdout ---\n{Stdout}\n--- stderr ---\n{Stderr}";
}

/// <summary>The real <c>sark</c> client (<c>dotnet sark.dll ...</c>), as built with the tests.</summary>
internal static class SarkCli
{
    private static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(90);

    /// <summary>The client's assembly, as recorded by the build (see the csproj).</summary>
    public static string Dll { get; } = Path.GetFullPath(typeof(SarkCli).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(a => a.Key == "SarkCliDll").Value!);

    /// <summary>Runs the client to its end (killed after <paramref name="timeout"/>, which fails the spec).</summary>
    public static async Task<CliRun> RunAsync(IReadOnlyList<string> arguments, TimeSpan? timeout = null, IDictionary<string, string>? environment = null)
    {
        using var process = Start(arguments, environment);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cancel = new CancellationTokenSource(timeout ?? DefaultTimeout);
        try
        {
            await process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            Assert.Fail($"sark {string.Join(' ', arguments)} did not exit within {(timeout ?? DefaultTimeout).TotalSeconds:0}s.\n{await stdout}\n{await stderr}");
        }

        return new CliRun(process.ExitCode, await stdout, await stderr);
    }

    /// <summary>Starts the client and leaves it running (a follower); the caller stops it.</summary>
    public static Process Start(IReadOnlyList<string> arguments, IDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(NodePaths.Dotnet)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        start.ArgumentList.Add(Dll);
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        start.Environment.Remove("SARK_OPS_TOKEN");
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
            start.Environment[name] = value;
        return Process.Start(start) ?? throw new InvalidOperationException("could not start the sark client");
    }
}

/// <summary>A node with its ops console on a free port, found from the node's log line.</summary>
internal static class OpsNodes
{
    /// <summary>Put into a node's configuration: the console on a free loopback port.</summary>
    public const string FreePort = "sark.node.ops.bind = \"127.0.0.1:0\"\n";

    public static async Task<string> ConsoleAddressAsync(NodeProcess node)
    {
        var line = await Eventually.UntilAsync(
            () => Task.FromResult(node.Stdout.Lines.FirstOrDefault(l => l.Contains("Ops console listening on ", StringComparison.Ordinal))),
            l => l is not null, TimeSpan.FromSeconds(30), "the ops console's listening line");
        var text = line![(line!.IndexOf("Ops console listening on ", StringComparison.Ordinal) + "Ops console listening on ".Length)..];
        return text.Split(' ')[0];
    }
}
