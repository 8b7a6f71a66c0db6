using System.Diagnostics;
using System.Globalization;

namespace Sark.Integration.Tests.Infrastructure;

/// <summary>Signals and liveness of processes by PID (Linux <c>/proc</c> where it helps).</summary>
internal static class ProcessTools
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>Sends SIGTERM with the <c>kill</c> command (a plain kill on Windows).</summary>
    public static async Task TerminateAsync(int pid)
    {
        if (OperatingSystem.IsWindows())
        {
            using var target = Process.GetProcessById(pid);
            target.Kill();
            return;
        }

        await SignalAsync(pid, "TERM").ConfigureAwait(false);
    }

    /// <summary>Sends a signal (TERM, HUP, ...) with the <c>kill</c> command (POSIX only).</summary>
    public static async Task SignalAsync(int pid, string signal)
    {
        var start = new ProcessStartInfo("kill") { UseShellExecute = false, RedirectStandardError = true };
        start.ArgumentList.Add("-" + signal);
        start.ArgumentList.Add(pid.ToString(CultureInfo.InvariantCulture));
        using var kill = Process.Start(start) ?? throw new InvalidOperationException("Could not run kill.");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await kill.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
    }

    /// <summary>True while the process exists and is not a zombie.</summary>
    public static bool IsAlive(int pid)
    {
        if (OperatingSystem.IsLinux())
            return ReadStat(pid) is { } stat && stat.State != 'Z';
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    /// <summary>The direct children of a process (Linux only; empty elsewhere).</summary>
    public static IReadOnlyList<int> ChildrenOf(int pid)
    {
        if (!OperatingSystem.IsLinux())
            return [];
        var children = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(dir), out var candidate) && ReadStat(candidate) is { } stat && stat.ParentId == pid)
                children.Add(candidate);
        }

        return children;
    }

    /// <summary>Waits, bounded, until none of <paramref name="pids"/> is alive; returns those still alive.</summary>
    public static async Task<IReadOnlyList<int>> WaitUntilGoneAsync(IEnumerable<int> pids, TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        var alive = pids.Where(IsAlive).ToList();
        while (alive.Count > 0 && deadline.Elapsed < timeout)
        {
            await Task.Delay(PollInterval).ConfigureAwait(false);
            alive.RemoveAll(pid => !IsAlive(pid));
        }

        return alive;
    }

    public static void KillQuietly(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            process.Kill(entireProcessTree: true);
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            // Already gone.
        }
    }

    private static (char State, int ParentId)? ReadStat(int pid)
    {
        string text;
        try
        {
            text = File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }

        // "pid (comm) S ppid ...": comm may hold spaces and parentheses, so read after the last ')'.
        var fields = text[(text.LastIndexOf(')') + 2)..].Split(' ');
        return fields.Length > 1 && int.TryParse(fields[1], out var parent) ? (fields[0][0], parent) : null;
    }
}
