using System.Diagnostics;
using System.Text.Json;

namespace Sark.Integration.Tests.Infrastructure;

/// <summary>
/// Runs <c>tests/peers/mcp-client.mjs</c> (the official TypeScript SDK client) as a real process:
/// one command against a URL, its JSON lines back. The script has its own hard timeout; this
/// kills it by PID if it outlives that.
/// </summary>
internal static class TsMcpClient
{
    private static readonly TimeSpan ScriptTimeout = TimeSpan.FromSeconds(20);

    public static string Script => Path.Combine(NodePaths.RepoRoot, "tests/peers/mcp-client.mjs");

    /// <summary>Runs one command; returns the exit code and every JSON line it printed.</summary>
    public static async Task<TsClientRun> RunAsync(string transport, Uri url, IReadOnlyDictionary<string, string>? headers, params string[] command)
    {
        var start = new ProcessStartInfo("node")
        {
            WorkingDirectory = Path.GetDirectoryName(Script)!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Script);
        start.ArgumentList.Add(transport);
        start.ArgumentList.Add(url.ToString());
        start.ArgumentList.Add(JsonSerializer.Serialize(headers ?? new Dictionary<string, string>()));
        foreach (var part in command)
            start.ArgumentList.Add(part);
        start.Environment["MCP_CLIENT_TIMEOUT_MS"] = ((int)ScriptTimeout.TotalMilliseconds).ToString(System.Globalization.CultureInfo.InvariantCulture);

        using var process = Process.Start(start) ?? throw new InvalidOperationException("node did not start");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(ScriptTimeout + TimeSpan.FromSeconds(10));
        try
        {
            await process.WaitForExitAsync(deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            ProcessTools.KillQuietly(process.Id);
            Assert.Fail($"mcp-client.mjs (pid {process.Id}) outlived its own timeout and was killed.");
        }

        var lines = (await stdout.ConfigureAwait(false))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(static line => JsonDocument.Parse(line).RootElement.Clone())
            .ToList();
        return new TsClientRun(process.ExitCode, lines, await stderr.ConfigureAwait(false));
    }
}

/// <summary>How one <c>mcp-client.mjs</c> run ended.</summary>
internal sealed record TsClientRun(int ExitCode, IReadOnlyList<JsonElement> Lines, string Stderr)
{
    /// <summary>The <c>result</c> of the single successful line; fails with everything printed otherwise.</summary>
    public JsonElement Result
    {
        get
        {
            Assert.True(ExitCode == 0 && Lines.Count == 1 && Lines[0].GetProperty("ok").GetBoolean(), ToString());
            return Lines[0].GetProperty("result");
        }
    }

    public override string ToString() => $"exit code {ExitCode}\n--- stdout ---\n{string.Join('\n', Lines)}\n--- stderr ---\n{Stderr}";
}
