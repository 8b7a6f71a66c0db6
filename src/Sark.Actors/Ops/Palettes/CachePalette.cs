using System.Text.Json.Nodes;
using Akka.Actor;
using Sark.Actors.Catalog;
using Sark.Actors.Events;

namespace Sark.Actors.Ops.Palettes;

/// <summary><c>cache stats|clear</c>: the catalog's cache per upstream, and its invalidation.</summary>
internal sealed class CachePalette : OpsPalette
{
    public override PaletteDefinition Definition { get; } = new("cache", "The catalog's cache and the policy decision cache.",
    [
        new CommandDefinition("stats", "Per upstream: entries, hits, misses, fetches, failures, when the listing expires; and the decision cache.", []),
        new CommandDefinition("clear", "Expire the catalog (or one server) so the next lookup reads the upstream again; --decisions also drops cached policy decisions.",
        [
            ArgumentDefinition.Option("server", "--server", "only this server", alias: "-s"),
            ArgumentDefinition.Flag("decisions", "--decisions", "also drop every cached policy decision"),
        ]),
    ]);

    public override Props CommandProps(OpsInvocation invocation) => Props.Create(() => new Command(invocation));

    private sealed class Command(OpsInvocation invocation) : OpsCommandActor(invocation)
    {
        protected override void PreStart()
        {
            if (Command.Name == "stats")
                Services.Children.Catalog.Tell(CatalogCommands.GetCacheStats.Instance);
            else
                Services.Children.Catalog.Tell(new CatalogCommands.Invalidate(Command.Get("server")));
        }

        protected override void OnReceive(object message)
        {
            switch (message)
            {
                case CatalogCommands.CacheStatsReply stats:
                    var now = Context.System.Scheduler.Now;
                    Columns("cache", "entries", "hits", "misses", "fetches", "fetch_failures", "fresh", "expires_at");
                    foreach (var (upstream, s) in stats.Upstreams.OrderBy(p => p.Key, StringComparer.Ordinal))
                    {
                        Row(new JsonObject
                        {
                            ["cache"] = $"catalog:{upstream}",
                            ["entries"] = s.Entries,
                            ["hits"] = s.Hits,
                            ["misses"] = s.Misses,
                            ["fetches"] = s.Fetches,
                            ["fetch_failures"] = s.FetchFailures,
                            // Pushed (mcp-*, no TTL): always current. Pulled: fresh until the listing expires (none after a clear).
                            ["fresh"] = s.Ttl is null || (s.ExpiresAt is { } at && at > now),
                            ["expires_at"] = s.ExpiresAt is { } e && e > DateTimeOffset.MinValue ? e.ToString("O") : null,
                        });
                    }

                    Row(new JsonObject
                    {
                        ["cache"] = "policy-decisions",
                        ["entries"] = Services.Decisions.Count,
                        ["hits"] = null,
                        ["misses"] = null,
                        ["fetches"] = null,
                        ["fetch_failures"] = null,
                        ["fresh"] = true,
                        ["expires_at"] = null,
                    });
                    Done();
                    break;
                case CatalogCommands.Invalidated invalidated:
                    var decisions = 0;
                    if (Command.Has("decisions"))
                    {
                        decisions = Services.Decisions.Count;
                        Services.Decisions.Clear();
                    }

                    Columns("expired_entries", "dropped_decisions", "note");
                    Row(new JsonObject
                    {
                        ["expired_entries"] = invalidated.Entries,
                        ["dropped_decisions"] = decisions,
                        ["note"] = "servers that mcp-* upstreams push are always current and are not counted",
                    });
                    Done();
                    break;
                default:
                    Unhandled(message);
                    break;
            }
        }
    }
}

/// <summary><c>stream list</c>: event subscriptions and their state.</summary>
internal sealed class StreamPalette : OpsPalette
{
    public override PaletteDefinition Definition { get; } = new("stream", "Event subscriptions (SSE) held by this node.",
    [
        new CommandDefinition("list", "Each subscription: id, upstream, URL, state, last event id, last error.", []),
    ]);

    public override Props CommandProps(OpsInvocation invocation) => Props.Create(() => new Command(invocation));

    private sealed class Command(OpsInvocation invocation) : OpsCommandActor(invocation), IWithTimers
    {
        private readonly Dictionary<string, EventStreamManager.StreamEntry> _waiting = new(StringComparer.Ordinal);
        private readonly List<JsonObject> _rows = [];
        private int _max;

        public ITimerScheduler Timers { get; set; } = null!;

        protected override void PreStart() => Services.Children.Streams.Tell(EventStreamManager.ListStreams.Instance);

        protected override void OnReceive(object message)
        {
            switch (message)
            {
                case EventStreamManager.StreamList list:
                    _max = list.MaxStreams;
                    foreach (var entry in list.Streams)
                    {
                        _waiting[entry.Id] = entry;
                        entry.Subscription.Tell(EventStreamManager.GetState.Instance);
                    }

                    // A subscription that ends meanwhile never answers: it is listed as gone.
                    Timers.StartSingleTimer("late", Late.Instance, TimeSpan.FromSeconds(2));
                    Finish(force: false);
                    break;
                case EventStreamManager.StateReply state when _waiting.Remove(state.Id, out var entry):
                    _rows.Add(RowOf(entry, UpstreamPalette.Wire(state.State.ToString()), state.LastEventId, state.LastError));
                    Finish(force: false);
                    break;
                case Late:
                    Finish(force: true);
                    break;
                default:
                    Unhandled(message);
                    break;
            }
        }

        private void Finish(bool force)
        {
            if (_waiting.Count > 0 && !force)
                return;
            foreach (var gone in _waiting.Values)
                _rows.Add(RowOf(gone, "gone", null, null));
            _waiting.Clear();
            Columns("id", "upstream", "url", "state", "last_event_id", "last_error");
            foreach (var row in _rows.OrderBy(r => (string?)r["id"], StringComparer.Ordinal))
                Row(row);
            Done($"{_rows.Count} of at most {_max} subscriptions");
            Timers.CancelAll();
            Become(_ => { });
        }

        private static JsonObject RowOf(EventStreamManager.StreamEntry entry, string state, string? lastEventId, string? lastError) => new()
        {
            ["id"] = entry.Id,
            ["upstream"] = entry.Upstream,
            ["url"] = entry.Uri.ToString(),
            ["state"] = state,
            ["last_event_id"] = lastEventId,
            ["last_error"] = lastError,
        };

        private sealed class Late
        {
            public static readonly Late Instance = new();
        }
    }
}
