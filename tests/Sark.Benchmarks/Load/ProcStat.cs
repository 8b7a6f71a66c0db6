using System.Globalization;

namespace Sark.Benchmarks.Load;

/// <summary>Reads <c>/proc</c> (Linux): CPU time, resident memory and children of a process. Null when unavailable.</summary>
internal static class ProcStat
{
    private static readonly double ClockTicksPerSecond = 100.0; // USER_HZ is 100 on every Linux we run on.

    /// <summary>User plus system CPU time of <paramref name="pid"/>, in seconds.</summary>
    public static double? CpuSeconds(int pid)
    {
        var fields = StatFields(pid);
        if (fields is null || fields.Length < 15)
            return null;
        // After "pid (comm)": state is field 3, so utime (14) and stime (15) are at 11 and 12 here.
        return long.TryParse(fields[11], CultureInfo.InvariantCulture, out var utime) && long.TryParse(fields[12], CultureInfo.InvariantCulture, out var stime)
            ? (utime + stime) / ClockTicksPerSecond
            : null;
    }

    /// <summary>A <c>/proc/PID/status</c> size line (VmRSS, VmHWM, ...) in KiB.</summary>
    public static long? StatusKiB(int pid, string key)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (!line.StartsWith(key + ":", StringComparison.Ordinal))
                    continue;
                var value = line[(key.Length + 1)..].Trim();
                var space = value.IndexOf(' ', StringComparison.Ordinal);
                return long.TryParse(space < 0 ? value : value[..space], CultureInfo.InvariantCulture, out var kib) ? kib : null;
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return null;
    }

    /// <summary>The pids whose parent is <paramref name="parent"/>.</summary>
    public static HashSet<int> Children(int parent)
    {
        var children = new HashSet<int>();
        if (!Directory.Exists("/proc"))
            return children;
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), CultureInfo.InvariantCulture, out var pid))
                continue;
            var fields = StatFields(pid);
            if (fields is { Length: > 2 } && int.TryParse(fields[1], CultureInfo.InvariantCulture, out var ppid) && ppid == parent)
                children.Add(pid);
        }

        return children;
    }

    /// <summary>The fields of <c>/proc/PID/stat</c> after the command name: [0] is the state, [1] the parent pid.</summary>
    private static string[]? StatFields(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var close = stat.LastIndexOf(')');
            return close < 0 ? null : stat[(close + 2)..].Split(' ');
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }
}
