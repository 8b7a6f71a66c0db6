using System.Globalization;

namespace Sark.Benchmarks.Load;

/// <summary>The garbage a server process has made so far: bytes allocated, collections (every generation) and the time paused in them.</summary>
internal readonly record struct GcSample(double AllocatedBytes, double Collections, double PauseSeconds);

/// <summary>
/// Reads a server's <see cref="GcSample"/> over HTTP: the node's <c>/metrics</c> (the runtime's
/// own <c>System.Runtime</c> meter: <c>dotnet_gc_heap_total_allocated_bytes_total</c>,
/// <c>dotnet_gc_collections_total</c> summed over generations and
/// <c>dotnet_gc_pause_time_seconds_total</c>), or the pass-through's <c>/gc</c>
/// (<c>allocated collections pause-seconds</c>). Allocation is a figure that a busy machine does
/// not blur, as it blurs time.
/// </summary>
internal sealed class ServerGc(HttpClient http, Uri url)
{
    public static ServerGc Node(HttpClient http, Uri baseAddress) => new(http, new Uri(baseAddress, "/metrics"));

    public static ServerGc Bare(HttpClient http, Uri baseAddress) => new(http, new Uri(baseAddress, "/gc"));

    /// <summary>The sample now; null when the server does not say (metrics off, an old build).</summary>
    public async Task<GcSample?> SampleAsync()
    {
        string text;
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            text = await http.GetStringAsync(url, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException)
        {
            return null;
        }

        return url.AbsolutePath == "/gc" ? ParsePlain(text) : ParsePrometheus(text);
    }

    internal static GcSample? ParsePlain(string text)
    {
        var parts = text.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return parts.Length >= 3
            && double.TryParse(parts[0], NumberStyles.Float, CultureInfo.InvariantCulture, out var allocated)
            && double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out var collections)
            && double.TryParse(parts[2], NumberStyles.Float, CultureInfo.InvariantCulture, out var pause)
            ? new GcSample(allocated, collections, pause)
            : null;
    }

    internal static GcSample? ParsePrometheus(string text)
    {
        double? allocated = null, pause = null;
        double collections = 0;
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith("dotnet_gc_heap_total_allocated", StringComparison.Ordinal))
                allocated = Value(line);
            else if (line.StartsWith("dotnet_gc_collections", StringComparison.Ordinal))
                collections += Value(line) ?? 0;
            else if (line.StartsWith("dotnet_gc_pause_time", StringComparison.Ordinal))
                pause = Value(line);
        }

        return allocated is { } a && pause is { } p ? new GcSample(a, collections, p) : null;
    }

    /// <summary>The sample value of an exposition line (<c>name{labels} value [timestamp]</c>).</summary>
    private static double? Value(string line)
    {
        var close = line.LastIndexOf('}');
        var rest = (close >= 0 ? line[(close + 1)..] : line[(line.IndexOf(' ', StringComparison.Ordinal) + 1)..]).Trim();
        var space = rest.IndexOf(' ', StringComparison.Ordinal);
        if (space > 0)
            rest = rest[..space];
        return double.TryParse(rest, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) ? value : null;
    }
}
