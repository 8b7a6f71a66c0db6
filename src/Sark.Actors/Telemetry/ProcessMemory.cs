namespace Sark.Actors.Telemetry;

/// <summary>Resident memory of a process, read from <c>/proc/PID/statm</c> where there is one.</summary>
internal static class ProcessMemory
{
    private static readonly long PageSize = Environment.SystemPageSize;

    /// <summary>Bytes resident, or 0 when the process is gone or the platform has no <c>/proc</c>.</summary>
    public static long ResidentBytes(int pid)
    {
        if (pid <= 0)
            return 0;
        try
        {
            if (OperatingSystem.IsLinux())
            {
                // "size resident shared text lib data dt", in pages.
                var statm = File.ReadAllText($"/proc/{pid}/statm");
                var parts = statm.Split(' ', 3);
                return parts.Length > 1 && long.TryParse(parts[1], out var pages) ? pages * PageSize : 0;
            }

            using var process = System.Diagnostics.Process.GetProcessById(pid);
            return process.WorkingSet64;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or InvalidOperationException)
        {
            return 0;
        }
    }
}
