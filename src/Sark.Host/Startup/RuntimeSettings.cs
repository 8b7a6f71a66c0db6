using System.Collections.Immutable;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Sark.Actors.Configuration;

namespace Sark.Host.Startup;

/// <summary>
/// Runtime settings that the .NET runtime reads only from the environment, applied by
/// re-executing the node once at start: the GC's generation-0 budget (<c>DOTNET_GCgen0size</c>
/// has no <c>runtimeconfig.json</c> knob that the runtime honours), or the server GC
/// (<c>DOTNET_gcServer</c>, over the runtimeconfig's workstation GC). On Linux the node calls
/// <c>execve</c> on its own executable with its own arguments and the variable added, so the pid,
/// the open standard streams and the command line stay the same; the new image starts from the
/// top, finds the variable set and goes on. A value the operator put in the environment wins and
/// is never replaced. Elsewhere, or when <c>execve</c> fails, the node runs on without it and says so.
/// </summary>
internal static class RuntimeSettings
{
    /// <summary>The variable the runtime reads the generation-0 budget from (hexadecimal bytes).</summary>
    public const string Gen0SizeVariable = "DOTNET_GCgen0size";

    /// <summary>Set on the re-executed image, so that a runtime that ignores the settings cannot loop.</summary>
    public const string AppliedVariable = "SARK_RUNTIME_SETTINGS_APPLIED";

    /// <summary>The variable that turns the server GC on (the node's runtimeconfig has it off).</summary>
    public const string ServerGcVariable = "DOTNET_gcServer";

    /// <summary>
    /// The variables the node wants set: the server GC for <see cref="GcMode.Server"/> (whose heaps
    /// size their own budgets), else the workstation GC's budget of <paramref name="gen0Budget"/>
    /// bytes (none for 0).
    /// </summary>
    public static ImmutableDictionary<string, string> Wanted(long gen0Budget, GcMode mode = GcMode.Workstation) => mode switch
    {
        GcMode.Server => ImmutableDictionary<string, string>.Empty.Add(ServerGcVariable, "1"),
        _ when gen0Budget > 0 => ImmutableDictionary<string, string>.Empty.Add(Gen0SizeVariable, "0x" + gen0Budget.ToString("x", CultureInfo.InvariantCulture)),
        _ => ImmutableDictionary<string, string>.Empty,
    };

    /// <summary>
    /// What is left to set: the wanted variables the environment does not have, or nothing once
    /// the node was re-executed already (even when the runtime dropped them).
    /// </summary>
    public static ImmutableDictionary<string, string> Missing(IReadOnlyDictionary<string, string> wanted, Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(wanted);
        ArgumentNullException.ThrowIfNull(environment);
        if (environment(AppliedVariable) is not null)
            return ImmutableDictionary<string, string>.Empty;
        var missing = ImmutableDictionary.CreateBuilder<string, string>(StringComparer.Ordinal);
        foreach (var (name, value) in wanted)
        {
            if (string.IsNullOrEmpty(environment(name)))
                missing[name] = value;
        }

        return missing.ToImmutable();
    }

    /// <summary>
    /// Re-executes the process with the <paramref name="missing"/> variables added. Returns only
    /// when that is not possible (not Linux, <c>/proc</c> unreadable, <c>execve</c> failed), with
    /// the reason.
    /// </summary>
    public static string Reexecute(IReadOnlyDictionary<string, string> missing)
    {
        if (!OperatingSystem.IsLinux())
            return "only Linux nodes re-execute themselves";
        string[] argv;
        try
        {
            argv = File.ReadAllText("/proc/self/cmdline", Encoding.UTF8).TrimEnd('\0').Split('\0');
        }
        catch (IOException ex)
        {
            return $"/proc/self/cmdline could not be read ({ex.Message})";
        }

        var environment = new List<string?>();
        foreach (System.Collections.DictionaryEntry entry in Environment.GetEnvironmentVariables())
            environment.Add($"{entry.Key}={entry.Value}");
        foreach (var (name, value) in missing)
            environment.Add($"{name}={value}");
        environment.Add($"{AppliedVariable}=1");
        environment.Add(null);

        Console.Out.Flush();
        Console.Error.Flush();
        _ = Execve("/proc/self/exe", [.. argv, null], [.. environment]);
        return $"execve failed (errno {Marshal.GetLastPInvokeError()})";
    }

    [DllImport("libc", EntryPoint = "execve", SetLastError = true, CharSet = CharSet.Ansi, BestFitMapping = false, ThrowOnUnmappableChar = true)]
    private static extern int Execve(string path, string?[] argv, string?[] envp);
}
