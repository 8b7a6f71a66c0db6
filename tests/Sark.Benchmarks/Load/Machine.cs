using System.Runtime;
using System.Runtime.InteropServices;
using System.Text;

namespace Sark.Benchmarks.Load;

/// <summary>What the figures were measured on, and a Ctrl+C that stops the loops instead of the process.</summary>
internal static class Machine
{
    private static readonly CancellationTokenSource Interrupt = new();

    /// <summary>Cancelled on Ctrl+C: loops end early and every process is still stopped.</summary>
    public static CancellationToken Interrupted => Interrupt.Token;

    public static void HookCtrlC() =>
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            Interrupt.Cancel();
        };

    public static string Describe()
    {
        var text = new StringBuilder();
        text.AppendLine($"- date (UTC): {DateTime.UtcNow:yyyy-MM-dd HH:mm}");
        text.AppendLine($"- logical CPUs: {Environment.ProcessorCount}");
        text.AppendLine($"- OS: {RuntimeInformation.OSDescription} ({RuntimeInformation.OSArchitecture})");
        text.AppendLine($"- .NET: {RuntimeInformation.FrameworkDescription}; the harness runs {(GCSettings.IsServerGC ? "server" : "workstation")} GC{(GCSettings.LatencyMode == GCLatencyMode.Interactive ? " (concurrent)" : string.Empty)}");
        return text.ToString();
    }

    /// <summary>"server" or "workstation": what a built app's runtimeconfig.json asks for.</summary>
    public static string GcOf(string dll)
    {
        var runtimeConfig = Path.ChangeExtension(dll, ".runtimeconfig.json");
        try
        {
            return File.ReadAllText(runtimeConfig).Contains("\"System.GC.Server\": true", StringComparison.Ordinal) ? "server" : "workstation";
        }
        catch (IOException)
        {
            return "unknown";
        }
    }
}
