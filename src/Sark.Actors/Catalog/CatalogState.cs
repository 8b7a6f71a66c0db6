using System.Collections.Frozen;
using System.Collections.Immutable;
using Sark.Actors.Configuration;
using Sark.Actors.Errors;

namespace Sark.Actors.Catalog;

/// <summary>A part of the catalog that can be fetched again: an upstream's whole listing (<see cref="Server"/> null) or one server.</summary>
public readonly record struct RefreshKey(string Upstream, string? Server)
{
    public override string ToString() => Server is null ? $"{Upstream} (listing)" : $"{Upstream}/{Server}";
}

/// <summary>
/// The catalog's data and its decisions, without actors: what each upstream exposes, until when
/// each part is fresh (TTL per upstream, per listing and per server), which parts a query needs
/// fetched again, invalidation, the max-entries bound, and the snapshot the facade reads.
/// Upstreams that pull (gateway) expire; upstreams that push their tools (mcp-*) never do.
/// </summary>
internal sealed class CatalogState
{
    private readonly Dictionary<string, Slot> _slots = new(StringComparer.Ordinal);
    private readonly CatalogOptions _limits;
    private CatalogSnapshot? _snapshot;

    public CatalogState(SarkOptions options)
    {
        _limits = options.Catalog;
        foreach (var upstream in options.Upstreams.Values)
            _slots[upstream.Name] = new Slot(upstream);
    }

    /// <summary>Servers left out by the max-entries bound so far.</summary>
    public long Truncated { get; private set; }

    /// <summary>The snapshot of the current data (built once per change).</summary>
    public CatalogSnapshot Snapshot => _snapshot ??= Build();

    /// <summary>The routes known before anything connected: each mcp-* upstream to itself.</summary>
    public static CatalogSnapshot InitialSnapshot(SarkOptions options) => new CatalogState(options).Snapshot;

    public bool IsPulled(string upstream) => _slots.TryGetValue(upstream, out var slot) && slot.Pulled;

    public TimeSpan? Ttl(string upstream) => _slots.TryGetValue(upstream, out var slot) && slot.Pulled ? slot.Options.CacheTtl : null;

    /// <summary>Every server of an upstream, replacing what it had. Returns how many were cut by max-entries.</summary>
    public int ApplyListing(string upstream, ImmutableArray<CatalogEntry> entries, DateTimeOffset now)
    {
        if (!_slots.TryGetValue(upstream, out var slot))
            return 0;
        var room = _limits.MaxEntries - (Count() - slot.Servers.Count);
        var freshUntil = slot.Pulled ? now + slot.Options.CacheTtl : DateTimeOffset.MaxValue;
        slot.Servers.Clear();
        var cut = 0;
        foreach (var entry in entries)
        {
            if (slot.Servers.Count >= room && !slot.Servers.ContainsKey(entry.Server.ServerName))
            {
                cut++;
                continue;
            }

            slot.Servers[entry.Server.ServerName] = new Held(entry, freshUntil);
        }

        slot.ListingFreshUntil = freshUntil;
        slot.LastFetchAt = now;
        Truncated += cut;
        _snapshot = null;
        return cut;
    }

    /// <summary>One server of an upstream read again; null when the upstream no longer has it.</summary>
    public void ApplyServer(string upstream, string server, CatalogEntry? entry, DateTimeOffset now)
    {
        if (!_slots.TryGetValue(upstream, out var slot))
            return;
        if (entry is null)
            slot.Servers.Remove(server);
        else if (slot.Servers.ContainsKey(server) || Count() < _limits.MaxEntries)
            slot.Servers[server] = new Held(entry, slot.Pulled ? now + slot.Options.CacheTtl : DateTimeOffset.MaxValue);
        else
            Truncated++;
        slot.LastFetchAt = now;
        _snapshot = null;
    }

    /// <summary>A server's tools changed (an mcp-* upstream re-listed after <c>list_changed</c>).</summary>
    public void ReplaceTools(string server, ImmutableArray<ToolInfo> tools, DateTimeOffset now)
    {
        foreach (var slot in _slots.Values)
        {
            if (slot.Servers.TryGetValue(server, out var held))
            {
                slot.Servers[server] = held with
                {
                    Entry = new CatalogEntry(held.Entry.Server with { ToolsCount = tools.Length, UpdatedAt = now }, tools),
                };
                _snapshot = null;
            }
        }
    }

    public void SetHealth(string upstream, string health)
    {
        if (!_slots.TryGetValue(upstream, out var slot))
            return;
        foreach (var (name, held) in slot.Servers)
        {
            if (held.Entry.Server.HealthStatus != health)
                slot.Servers[name] = held with { Entry = held.Entry with { Server = held.Entry.Server with { HealthStatus = health } } };
        }

        _snapshot = null;
    }

    /// <summary>A fetch failed: what is held stays, and is served for <c>stale-retry</c> before the next fetch.</summary>
    public void FetchFailed(RefreshKey key, DateTimeOffset now)
    {
        if (!_slots.TryGetValue(key.Upstream, out var slot))
            return;
        var retryAt = now + _limits.StaleRetry;
        if (key.Server is null)
        {
            slot.ListingFreshUntil = retryAt;
            foreach (var (name, held) in slot.Servers)
            {
                if (held.FreshUntil < retryAt)
                    slot.Servers[name] = held with { FreshUntil = retryAt };
            }
        }
        else if (slot.Servers.TryGetValue(key.Server, out var held))
            slot.Servers[key.Server] = held with { FreshUntil = retryAt };
        else
            slot.ListingFreshUntil = slot.ListingFreshUntil < retryAt ? retryAt : slot.ListingFreshUntil;
        _snapshot = null;
    }

    /// <summary>
    /// Marks <paramref name="server"/> (or everything, when null) as expired, so that the next
    /// lookup fetches it again. Returns how many entries were invalidated. Pushed servers (mcp-*)
    /// are always current and are not affected.
    /// </summary>
    public int Invalidate(string? server)
    {
        var count = 0;
        foreach (var slot in _slots.Values)
        {
            if (!slot.Pulled)
                continue;
            if (server is null)
            {
                slot.ListingFreshUntil = DateTimeOffset.MinValue;
                count += slot.Servers.Count;
                foreach (var (name, held) in slot.Servers)
                    slot.Servers[name] = held with { FreshUntil = DateTimeOffset.MinValue };
            }
            else if (slot.Servers.TryGetValue(server, out var held))
            {
                slot.Servers[server] = held with { FreshUntil = DateTimeOffset.MinValue };
                count++;
            }
        }

        _snapshot = null;
        return count;
    }

    /// <summary>Expires one server of an upstream, or (with no server) its whole listing: its registry said it changed.</summary>
    public void Expire(string upstream, string? server)
    {
        if (!_slots.TryGetValue(upstream, out var slot) || !slot.Pulled)
            return;
        if (server is null)
        {
            slot.ListingFreshUntil = DateTimeOffset.MinValue;
            foreach (var (name, held) in slot.Servers)
                slot.Servers[name] = held with { FreshUntil = DateTimeOffset.MinValue };
        }
        else if (slot.Servers.TryGetValue(server, out var held))
        {
            slot.Servers[server] = held with { FreshUntil = DateTimeOffset.MinValue };
        }

        _snapshot = null;
    }

    /// <summary>
    /// The parts a query needs fetched before it can be answered fresh, and the upstreams whose
    /// data it reads (for hit and miss counting). Empty <paramref name="keys"/>: answer now.
    /// </summary>
    public void Needs(object query, DateTimeOffset now, List<RefreshKey> keys, List<string> upstreams)
    {
        var server = query switch
        {
            CatalogQueries.GetServer get => get.Server,
            CatalogQueries.ListTools list => list.Server,
            _ => null,
        };
        if (server is not null && Snapshot.Routes.TryGetValue(server, out var routes) && routes.Length > 0)
        {
            // A known server: its preferred route's entry, fetched alone if it expired.
            // When the whole listing has expired too (the TTL passed for all of it at once), one
            // walk refreshes every server: a read of each of 10,000 servers after the TTL then
            // costs one listing fetch, not 10,000 single-server fetches.
            var preferred = routes[0].Upstream;
            upstreams.Add(preferred);
            if (_slots[preferred] is { Pulled: true } slot && (!slot.Servers.TryGetValue(server, out var held) || held.FreshUntil <= now))
                keys.Add(new RefreshKey(preferred, slot.ListingFreshUntil <= now ? null : server));
            return;
        }

        // Everything, or a name not (yet) known: every expired listing, and every expired server in a fresh one.
        foreach (var slot in _slots.Values)
        {
            upstreams.Add(slot.Options.Name);
            if (!slot.Pulled)
                continue;
            if (slot.ListingFreshUntil <= now)
            {
                keys.Add(new RefreshKey(slot.Options.Name, null));
                continue;
            }

            if (server is not null)
                continue;
            foreach (var (name, held) in slot.Servers)
            {
                if (held.FreshUntil <= now)
                    keys.Add(new RefreshKey(slot.Options.Name, name));
            }
        }
    }

    /// <summary>The answer to a query from the current data.</summary>
    public object Answer(object query, SarkError? failure)
    {
        var snapshot = Snapshot;
        switch (query)
        {
            case CatalogQueries.ListServers:
                return new CatalogQueries.ServerList(snapshot.Servers);
            case CatalogQueries.ListTools { Server: null }:
                return new CatalogQueries.ToolList(snapshot.Tools);
            case CatalogQueries.ListTools list when snapshot.ByName.TryGetValue(list.Server, out var view):
                return new CatalogQueries.ToolList(view.Tools);
            case CatalogQueries.GetServer get when snapshot.ByName.TryGetValue(get.Server, out var view):
                return new CatalogQueries.ServerFound(view.Server);
            case CatalogQueries.GetServer or CatalogQueries.ListTools when failure is not null:
                return new CatalogQueries.Unavailable(failure);
            case CatalogQueries.GetServer get:
                return new CatalogQueries.NotFound(get.Server);
            case CatalogQueries.ListTools list:
                return new CatalogQueries.NotFound(list.Server!);
            default:
                throw new ArgumentException($"Not a catalog query: {query.GetType().Name}", nameof(query));
        }
    }

    /// <summary>Cache figures of one upstream (counters come from its <see cref="CacheCounters"/>).</summary>
    public CacheStats Stats(string upstream, CacheCounters counters)
    {
        var slot = _slots[upstream];
        return new CacheStats(
            slot.Servers.Count, counters.Hits, counters.Misses, counters.Fetches, counters.FetchFailures,
            slot.LastFetchAt, slot.Pulled && slot.ListingFreshUntil != DateTimeOffset.MinValue ? slot.ListingFreshUntil : null,
            slot.Pulled ? slot.Options.CacheTtl : null);
    }

    private int Count()
    {
        var count = 0;
        foreach (var slot in _slots.Values)
            count += slot.Servers.Count;
        return count;
    }

    private CatalogSnapshot Build()
    {
        var routes = new Dictionary<string, List<(Route Route, Held? Held)>>(StringComparer.Ordinal);
        var listingsFreshUntil = DateTimeOffset.MaxValue;
        foreach (var slot in _slots.Values)
        {
            var kind = slot.Options.Kind;
            if (!slot.Pulled && slot.Servers.Count == 0)
                Add(routes, slot.Options.Name, new Route(slot.Options.Name, kind), null);
            foreach (var (name, held) in slot.Servers)
            {
                Add(routes, name, new Route(slot.Options.Name, kind), held);
                if (slot.Pulled && held.FreshUntil < listingsFreshUntil)
                    listingsFreshUntil = held.FreshUntil;
            }

            if (slot.Pulled && slot.ListingFreshUntil < listingsFreshUntil)
                listingsFreshUntil = slot.ListingFreshUntil;
        }

        var byName = new Dictionary<string, ServerView>(StringComparer.Ordinal);
        var routeMap = new Dictionary<string, ImmutableArray<Route>>(StringComparer.Ordinal);
        var servers = ImmutableArray.CreateBuilder<ServerInfo>();
        var tools = ImmutableArray.CreateBuilder<ToolInfo>();
        foreach (var (name, list) in routes.OrderBy(r => r.Key, StringComparer.Ordinal))
        {
            list.Sort((a, b) => a.Route.Kind.Preference() != b.Route.Kind.Preference()
                ? a.Route.Kind.Preference().CompareTo(b.Route.Kind.Preference())
                : string.CompareOrdinal(a.Route.Upstream, b.Route.Upstream));
            var ordered = list.Select(r => r.Route).ToImmutableArray();
            routeMap[name] = ordered;
            var first = list.FirstOrDefault(r => r.Held is not null).Held;
            if (first is null)
                continue;
            byName[name] = new ServerView(first.Entry.Server, first.Entry.Tools, first.FreshUntil, ordered);
            servers.Add(first.Entry.Server);
            tools.AddRange(first.Entry.Tools);
        }

        return new CatalogSnapshot(
            servers.ToImmutable(), tools.ToImmutable(), byName.ToFrozenDictionary(StringComparer.Ordinal),
            routeMap.ToFrozenDictionary(StringComparer.Ordinal), listingsFreshUntil);

        static void Add(Dictionary<string, List<(Route, Held?)>> routes, string name, Route route, Held? held)
        {
            if (!routes.TryGetValue(name, out var list))
                routes[name] = list = [];
            list.Add((route, held));
        }
    }

    private sealed record Held(CatalogEntry Entry, DateTimeOffset FreshUntil);

    private sealed class Slot(UpstreamOptions options)
    {
        public UpstreamOptions Options { get; } = options;

        /// <summary>The catalog reads this upstream (gateway) rather than being told by it (mcp-*).</summary>
        public bool Pulled { get; } = options.Kind == UpstreamKind.Gateway;

        public Dictionary<string, Held> Servers { get; } = new(StringComparer.Ordinal);

        public DateTimeOffset ListingFreshUntil { get; set; } = options.Kind == UpstreamKind.Gateway ? DateTimeOffset.MinValue : DateTimeOffset.MaxValue;

        public DateTimeOffset? LastFetchAt { get; set; }
    }
}
