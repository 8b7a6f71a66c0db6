using System.Diagnostics;
using Sark.Actors.Telemetry;

namespace Sark.Actors.Catalog;

/// <summary>
/// Hits, misses and fetches of one upstream's part of the catalog. The facade counts hits (it
/// answers them from the snapshot), the catalog actor counts misses and fetches. Lock-free.
/// </summary>
internal sealed class CacheCounters(string upstream)
{
    private long _hits;
    private long _misses;
    private long _fetches;
    private long _fetchFailures;

    public string Upstream { get; } = upstream;

    public long Hits => Volatile.Read(ref _hits);

    public long Misses => Volatile.Read(ref _misses);

    public long Fetches => Volatile.Read(ref _fetches);

    public long FetchFailures => Volatile.Read(ref _fetchFailures);

    public void Hit()
    {
        Interlocked.Increment(ref _hits);
        if (SarkTelemetry.CatalogLookups.Enabled)
            SarkTelemetry.CatalogLookups.Add(1, new TagList { { "upstream", Upstream }, { "result", "hit" } });
    }

    public void Miss()
    {
        Interlocked.Increment(ref _misses);
        SarkTelemetry.CatalogLookups.Add(1, new TagList { { "upstream", Upstream }, { "result", "miss" } });
    }

    public void Fetched(bool ok)
    {
        Interlocked.Increment(ref _fetches);
        if (!ok)
            Interlocked.Increment(ref _fetchFailures);
        SarkTelemetry.CatalogFetches.Add(1, new TagList { { "upstream", Upstream }, { "outcome", ok ? "ok" : "error" } });
    }
}
