using System.Collections.Frozen;
using System.Collections.Immutable;
using Sark.Actors.Configuration;

namespace Sark.Actors.Catalog;

/// <summary>One way to reach a server: an upstream and its kind.</summary>
public readonly record struct Route(string Upstream, UpstreamKind Kind);

/// <summary>A server as the catalog serves it: the preferred route's info and tools, and every route.</summary>
/// <param name="FreshUntil">Until when it is served without a fetch (MaxValue for servers an mcp-* upstream pushes).</param>
internal sealed record ServerView(ServerInfo Server, ImmutableArray<ToolInfo> Tools, DateTimeOffset FreshUntil, ImmutableArray<Route> Routes);

/// <summary>
/// An immutable picture of the catalog, published by the catalog actor after every change and
/// read by the facade without a message: listings, lookups by name, routes, and until when
/// each part is fresh. Reads answered from it are cache hits.
/// </summary>
internal sealed class CatalogSnapshot
{
    public static readonly CatalogSnapshot Empty = new(
        [], [], FrozenDictionary<string, ServerView>.Empty, FrozenDictionary<string, ImmutableArray<Route>>.Empty, DateTimeOffset.MinValue);

    public CatalogSnapshot(
        ImmutableArray<ServerInfo> servers,
        ImmutableArray<ToolInfo> tools,
        FrozenDictionary<string, ServerView> byName,
        FrozenDictionary<string, ImmutableArray<Route>> routes,
        DateTimeOffset listingsFreshUntil)
    {
        Servers = servers;
        Tools = tools;
        ByName = byName;
        Routes = routes;
        ListingsFreshUntil = listingsFreshUntil;
    }

    /// <summary>Every server, by name (ordinal).</summary>
    public ImmutableArray<ServerInfo> Servers { get; }

    /// <summary>Every tool of every server.</summary>
    public ImmutableArray<ToolInfo> Tools { get; }

    public FrozenDictionary<string, ServerView> ByName { get; }

    /// <summary>
    /// Routes by server name, preferred first (stdio, mcp-http, gateway; then by upstream name).
    /// A configured mcp-* upstream routes to itself before it has ever connected.
    /// </summary>
    public FrozenDictionary<string, ImmutableArray<Route>> Routes { get; }

    /// <summary>Until when the whole listing (every pulled upstream and every server in it) is fresh.</summary>
    public DateTimeOffset ListingsFreshUntil { get; }
}

/// <summary>
/// Where the facade reads the catalog without a message: the current <see cref="CatalogSnapshot"/>
/// (the catalog actor is its only writer) and the per-upstream cache counters.
/// </summary>
internal sealed class CatalogView
{
    private volatile CatalogSnapshot _current;
    private TaskCompletionSource _changed = NewSignal();

    public CatalogView(SarkOptions options)
    {
        var counters = new Dictionary<string, CacheCounters>(StringComparer.Ordinal);
        foreach (var name in options.Upstreams.Keys)
            counters[name] = new CacheCounters(name);
        Counters = counters.ToFrozenDictionary(StringComparer.Ordinal);
        AllCounters = [.. Counters.Values];
        _current = CatalogState.InitialSnapshot(options);
    }

    public CatalogSnapshot Current => _current;

    /// <summary>Cache counters by upstream name.</summary>
    public FrozenDictionary<string, CacheCounters> Counters { get; }

    /// <summary>Every upstream's counters, for lookups that read them all.</summary>
    public ImmutableArray<CacheCounters> AllCounters { get; }

    /// <summary>The routes to <paramref name="server"/>, preferred first.</summary>
    public bool TryResolve(string server, out ImmutableArray<Route> routes) => _current.Routes.TryGetValue(server, out routes);

    /// <summary>
    /// Completes when the next snapshot is published. Read it before <see cref="Current"/>, so
    /// that no change between the two reads is missed. Watchers (the front door's list_changed)
    /// wait on it instead of receiving a message.
    /// </summary>
    public Task NextChange => Volatile.Read(ref _changed).Task;

    /// <summary>Replaces the snapshot (catalog actor only) and wakes whoever waits on <see cref="NextChange"/>.</summary>
    public void Publish(CatalogSnapshot snapshot)
    {
        _current = snapshot;
        Interlocked.Exchange(ref _changed, NewSignal()).TrySetResult();
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
