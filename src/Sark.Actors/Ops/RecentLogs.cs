using System.Globalization;
using Microsoft.Extensions.Logging;

namespace Sark.Actors.Ops;

/// <summary>
/// The last N log lines, in memory, for <c>log peek</c>: an <see cref="ILoggerProvider"/> that
/// keeps a bounded ring (the oldest line goes first). Lines pass through
/// <see cref="SecretRedactor.RedactText"/>, so a secret that reached a log message is not served
/// again. Register it with <c>services.AddSarkOpsLogs()</c>.
/// </summary>
public sealed partial class RecentLogs : ILoggerProvider
{
    private readonly object _gate = new();
    private readonly LogLine[] _ring;
    private long _written;

    public RecentLogs(int capacity = 1000)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _ring = new LogLine[capacity];
    }

    /// <summary>One kept line.</summary>
    public sealed record LogLine(DateTimeOffset Timestamp, string Level, string Category, string Message);

    public int Capacity => _ring.Length;

    /// <summary>Lines written since the start (the ring keeps the last <see cref="Capacity"/>).</summary>
    public long Written => Interlocked.Read(ref _written);

    public void Add(DateTimeOffset timestamp, LogLevel level, string category, string message)
    {
        // Akka's logger bridge prefixes "[INFO][time][Thread 0007][akka://sark/user/...] ": the actor's path is the better category.
        if (AkkaPrefix().Match(message) is { Success: true } akka)
        {
            category = akka.Groups["path"].Value;
            message = message[akka.Length..];
        }

        var line = new LogLine(timestamp, LevelName(level), category, SecretRedactor.RedactText(message));
        lock (_gate)
        {
            _ring[_written % _ring.Length] = line;
            _written++;
        }
    }

    /// <summary>The last <paramref name="count"/> lines, oldest first.</summary>
    public IReadOnlyList<LogLine> Last(int count)
    {
        lock (_gate)
        {
            var available = (int)Math.Min(_written, _ring.Length);
            var n = Math.Clamp(count, 0, available);
            var lines = new LogLine[n];
            for (var i = 0; i < n; i++)
                lines[i] = _ring[(_written - n + i) % _ring.Length];
            return lines;
        }
    }

    public ILogger CreateLogger(string categoryName) => new RingLogger(this, categoryName);

    public void Dispose()
    {
    }

    private static string LevelName(LogLevel level) => level switch
    {
        LogLevel.Trace => "trce",
        LogLevel.Debug => "dbug",
        LogLevel.Information => "info",
        LogLevel.Warning => "warn",
        LogLevel.Error => "fail",
        LogLevel.Critical => "crit",
        _ => level.ToString().ToLower(CultureInfo.InvariantCulture),
    };

    [System.Text.RegularExpressions.GeneratedRegex(@"^\[[A-Z]+\]\[[^\]]*\]\[Thread [0-9]+\]\[(?<path>[^\]]*)\] ")]
    private static partial System.Text.RegularExpressions.Regex AkkaPrefix();

    private sealed class RingLogger(RecentLogs ring, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel))
                return;
            var message = formatter(state, exception);
            if (exception is not null)
                message = $"{message} ({exception.GetType().Name}: {exception.Message})";
            ring.Add(DateTimeOffset.UtcNow, logLevel, category, message);
        }
    }
}
