namespace Sark.Host;

/// <summary>The node's source-generated log messages (outside actors).</summary>
internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Information, "{Method} {Path} failed: {Code}: {Message} ({Suppressed} lines of this code suppressed before this one)")]
    public static partial void RequestFailed(ILogger logger, string method, string path, string code, string message, long suppressed);

    [LoggerMessage(2, LogLevel.Error, "{Method} {Path} failed with an unexpected error ({Suppressed} lines of this kind suppressed before this one)")]
    public static partial void Unhandled(ILogger logger, Exception exception, string method, string path, long suppressed);

    [LoggerMessage(3, LogLevel.Debug, "{Method} {Path}: the caller went away")]
    public static partial void RequestAborted(ILogger logger, string method, string path);

    [LoggerMessage(4, LogLevel.Warning, "Readiness could not read the upstreams' status")]
    public static partial void ReadinessFailed(ILogger logger, Exception exception);

    [LoggerMessage(5, LogLevel.Information, "Runtime: {Gc} GC, generation-0 budget {Gen0Budget} (sark.node.gc)")]
    public static partial void Runtime(ILogger logger, string gc, string gen0Budget);
}
