using System.Collections.Immutable;
using Akka.Actor;
using Akka.Event;
using Sark.Actors.Configuration;
using Sark.Actors.Errors;
using Sark.Actors.Telemetry;

namespace Sark.Actors.Catalog;

/// <summary>A server and its tools, as an upstream exposes it.</summary>
internal sealed record CatalogEntry(ServerInfo Server, ImmutableArray<ToolInfo> Tools);

/// <summary>Updates to the catalog, sent by upstream circuits and connections.</summary>
internal static class CatalogCommands
{
    /// <summary>Every server an upstream exposes, replacing what it exposed before (a connection became ready).</summary>
    public sealed record UpsertServers(string Upstream, ImmutableArray<CatalogEntry> Servers) : INoSerializationVerificationNeeded;

    public sealed record ReplaceTools(string Server, ImmutableArray<ToolInfo> Tools) : INoSerializationVerificationNeeded;

    /// <summary>The health of every server of an upstream.</summary>
    public sealed record SetHealth(string Upstream, string HealthStatus);

    /// <summary>Where the catalog sends <see cref="Upstreams.UpstreamCommands.RefreshCatalog"/> (from <c>SarkRoot</c>).</summary>
    public sealed record UseUpstreams(IActorRef Upstreams);

    /// <summary>A connection's answer to a refresh: the listing (or the one server; empty when it is gone).</summary>
    public sealed record Refreshed(RefreshKey Key, ImmutableArray<CatalogEntry> Servers) : Cluster.ISarkClusterMessage;

    /// <summary>A refresh could not be made; stale entries stay and are served.</summary>
    public sealed record RefreshFailed(RefreshKey Key, SarkError Error) : Cluster.ISarkClusterMessage;

    /// <summary>Expire a server (or everything when null). Replied to with <see cref="Invalidated"/>.</summary>
    public sealed record Invalidate(string? Server);

    public sealed record Invalidated(int Entries);

    /// <summary>A registry said something changed (its events): expire the server, or the upstream's whole listing. No reply.</summary>
    public sealed record Expire(string Upstream, string? Server);

    /// <summary>Replied to with <see cref="CacheStatsReply"/>.</summary>
    public sealed class GetCacheStats
    {
        public static readonly GetCacheStats Instance = new();

        private GetCacheStats()
        {
        }
    }

    public sealed record CacheStatsReply(ImmutableDictionary<string, CacheStats> Upstreams) : INoSerializationVerificationNeeded;
}

/// <summary>Questions to the catalog. Each is answered with its reply record, <see cref="NotFound"/> or <see cref="Unavailable"/>.</summary>
public static class CatalogQueries
{
    public sealed class ListServers
    {
        public static readonly ListServers Instance = new();

        private ListServers()
        {
        }
    }

    public sealed record GetServer(string Server);

    /// <summary>Tools of one server, or of all servers when <see cref="Server"/> is null.</summary>
    public sealed record ListTools(string? Server);

    public sealed record ServerList(ImmutableArray<ServerInfo> Servers) : INoSerializationVerificationNeeded;

    public sealed record ServerFound(ServerInfo Server) : INoSerializationVerificationNeeded;

    public sealed record ToolList(ImmutableArray<ToolInfo> Tools) : INoSerializationVerificationNeeded;

    public sealed record NotFound(string Server);

    /// <summary>The server is not held, and the fetch that could have found it failed.</summary>
    public sealed record Unavailable(SarkError Error) : INoSerializationVerificationNeeded;
}

/// <summary>
/// What the node knows about servers and their tools, from every upstream (child of <c>SarkRoot</c>).
/// The data and its decisions are in <see cref="CatalogState"/>; this actor applies updates,
/// publishes a snapshot the facade reads without a message (hits), and answers the facade's
/// misses. A miss sends one <see cref="Upstreams.UpstreamCommands.RefreshCatalog"/> per expired
/// part however many lookups wait for it (single-flight), and answers them all when it returns.
/// A failed fetch serves the stale entries for <c>stale-retry</c>.
/// </summary>
internal sealed class CatalogActor : UntypedActor, IWithTimers
{
    private readonly CatalogState _state;
    private readonly CatalogView _view;
    private readonly SarkOptions _options;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Dictionary<RefreshKey, List<Waiter>> _pending = [];
    private readonly List<RefreshKey> _keys = [];
    private readonly List<string> _upstreamsRead = [];
    private readonly Events.EventJournal? _journal;
    private IActorRef _upstreams = ActorRefs.Nobody;

    public CatalogActor(SarkOptions options, CatalogView view, Events.EventJournal? journal = null)
    {
        _journal = journal;
        _options = options;
        _view = view;
        _state = new CatalogState(options);
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(SarkOptions options, CatalogView view, Events.EventJournal? journal = null) =>
        Akka.Actor.Props.Create(() => new CatalogActor(options, view, journal));

    private DateTimeOffset Now => Context.System.Scheduler.Now;

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case CatalogQueries.ListServers or CatalogQueries.GetServer or CatalogQueries.ListTools:
                OnQuery(message, Sender);
                break;
            case CatalogCommands.Refreshed refreshed:
                Timers.Cancel(refreshed.Key);
                _view.Counters[refreshed.Key.Upstream].Fetched(ok: true);
                if (refreshed.Key.Server is { } server)
                    _state.ApplyServer(refreshed.Key.Upstream, server, refreshed.Servers.IsEmpty ? null : refreshed.Servers[0], Now);
                else
                    ApplyListing(refreshed.Key.Upstream, refreshed.Servers);
                Complete(refreshed.Key, null);
                break;
            case CatalogCommands.RefreshFailed failed:
                Timers.Cancel(failed.Key);
                _view.Counters[failed.Key.Upstream].Fetched(ok: false);
                _log.Warning("Catalog refresh of {Key} failed; serving what is held for {StaleRetry}: {Reason}", failed.Key, _options.Catalog.StaleRetry, failed.Error.Message);
                _state.FetchFailed(failed.Key, Now);
                Complete(failed.Key, failed.Error);
                break;
            case CatalogCommands.UpsertServers upsert:
                if (_state.IsPulled(upsert.Upstream))
                    _view.Counters[upsert.Upstream].Fetched(ok: true);
                ApplyListing(upsert.Upstream, upsert.Servers);
                Publish();
                break;
            case CatalogCommands.ReplaceTools replace:
                _state.ReplaceTools(replace.Server, replace.Tools, Now);
                Publish();
                break;
            case CatalogCommands.SetHealth health:
                _state.SetHealth(health.Upstream, health.HealthStatus);
                Publish();
                break;
            case CatalogCommands.Invalidate invalidate:
                var count = _state.Invalidate(invalidate.Server);
                Publish();
                _log.Info("Catalog: {Count} entries invalidated ({Scope})", count, invalidate.Server ?? "everything");
                Sender.Tell(new CatalogCommands.Invalidated(count));
                break;
            case CatalogCommands.Expire expire:
                _state.Expire(expire.Upstream, expire.Server);
                Publish();
                break;
            case CatalogCommands.GetCacheStats:
                Sender.Tell(new CatalogCommands.CacheStatsReply(_options.Upstreams.Keys.ToImmutableDictionary(
                    name => name, name => _state.Stats(name, _view.Counters[name]), StringComparer.Ordinal)));
                break;
            case CatalogCommands.UseUpstreams use:
                _upstreams = use.Upstreams;
                break;
            case RefreshKey timedOut:
                // The refresh's own timer: the connection never answered (it died mid-fetch).
                Self.Tell(new CatalogCommands.RefreshFailed(timedOut, new SarkError(SarkErrorCode.UpstreamTimeout,
                    $"Upstream '{timedOut.Upstream}' did not answer a catalog refresh within {RefreshTimeout(timedOut.Upstream).TotalSeconds:0}s.")));
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    private void OnQuery(object query, IActorRef replyTo)
    {
        _keys.Clear();
        _upstreamsRead.Clear();
        _state.Needs(query, Now, _keys, _upstreamsRead);
        if (_keys.Count == 0)
        {
            foreach (var upstream in _upstreamsRead)
                _view.Counters[upstream].Hit();
            replyTo.Tell(_state.Answer(query, null));
            return;
        }

        foreach (var upstream in _upstreamsRead)
        {
            if (_keys.Exists(k => k.Upstream == upstream))
                _view.Counters[upstream].Miss();
            else
                _view.Counters[upstream].Hit();
        }

        var waiter = new Waiter(query, replyTo, _keys.Count);
        foreach (var key in _keys)
        {
            if (_pending.TryGetValue(key, out var waiters))
            {
                waiters.Add(waiter);
                SarkTelemetry.CatalogJoins.Add(1, new KeyValuePair<string, object?>("upstream", key.Upstream));
                continue;
            }

            _pending[key] = [waiter];
            Timers.StartSingleTimer(key, key, RefreshTimeout(key.Upstream));
            _upstreams.Tell(new Upstreams.UpstreamCommands.RefreshCatalog(key));
        }
    }

    private void Complete(RefreshKey key, SarkError? error)
    {
        Publish();
        if (!_pending.Remove(key, out var waiters))
            return;
        foreach (var waiter in waiters)
        {
            waiter.Failure ??= error;
            if (--waiter.Remaining == 0)
                waiter.ReplyTo.Tell(_state.Answer(waiter.Query, waiter.Failure));
        }
    }

    private void ApplyListing(string upstream, ImmutableArray<CatalogEntry> servers)
    {
        var cut = _state.ApplyListing(upstream, servers, Now);
        if (cut > 0)
        {
            SarkTelemetry.CatalogTruncated.Add(cut, new KeyValuePair<string, object?>("upstream", upstream));
            _log.Warning("Catalog: {Cut} servers of upstream {Upstream} left out; sark.catalog.max-entries ({Max}) is reached", cut, upstream, _options.Catalog.MaxEntries);
        }
    }

    private void Publish()
    {
        var before = _view.Current;
        var after = _state.Snapshot;
        if (ReferenceEquals(before, after))
            return;
        _view.Publish(after);
        if (_journal is not null)
            PublishChanges(before, after, _journal);
    }

    /// <summary>The same tools by name and description (a refresh makes new but equal instances).</summary>
    private static bool SameTools(ImmutableArray<ToolInfo> a, ImmutableArray<ToolInfo> b)
    {
        if (a == b)
            return true;
        if (a.Length != b.Length)
            return false;
        for (var i = 0; i < a.Length; i++)
        {
            if (a[i].ToolName != b[i].ToolName || a[i].Description != b[i].Description)
                return false;
        }

        return true;
    }

    /// <summary>Tells the node's event stream which servers came, went, or changed their tools.</summary>
    private static void PublishChanges(CatalogSnapshot before, CatalogSnapshot after, Events.EventJournal journal)
    {
        var changes = new List<(string Type, ServerView View)>();
        foreach (var (name, view) in after.ByName)
        {
            if (!before.ByName.TryGetValue(name, out var old))
                changes.Add((Events.GatewayEventTypes.ServerRegistered, view));
            else if (!SameTools(old.Tools, view.Tools))
                changes.Add((Events.GatewayEventTypes.ToolsChanged, view));
        }

        foreach (var (name, view) in before.ByName)
        {
            if (!after.ByName.ContainsKey(name))
                changes.Add((Events.GatewayEventTypes.ServerRemoved, view));
        }

        if (changes.Count > Events.NodeEvents.MaxServerEventsPerChange)
        {
            Events.NodeEvents.CatalogChanged(journal,
                changes.Count(c => c.Type == Events.GatewayEventTypes.ServerRegistered),
                changes.Count(c => c.Type == Events.GatewayEventTypes.ServerRemoved),
                changes.Count(c => c.Type == Events.GatewayEventTypes.ToolsChanged));
            return;
        }

        foreach (var (type, view) in changes)
            Events.NodeEvents.Server(journal, type, view.Server.ServerName, view.Server.Upstream, type == Events.GatewayEventTypes.ServerRemoved ? null : view.Tools.Length);
    }

    /// <summary>Every attempt of a read with its backoff, and a margin: the refresh's own bound.</summary>
    private TimeSpan RefreshTimeout(string upstream)
    {
        var o = _options.Upstreams[upstream];
        return (o.CallTimeout + o.ReadRetry.MaxBackoff) * o.ReadRetry.Attempts * 2 + TimeSpan.FromSeconds(5);
    }

    private sealed class Waiter(object query, IActorRef replyTo, int remaining)
    {
        public object Query { get; } = query;

        public IActorRef ReplyTo { get; } = replyTo;

        public int Remaining { get; set; } = remaining;

        public SarkError? Failure { get; set; }
    }
}
