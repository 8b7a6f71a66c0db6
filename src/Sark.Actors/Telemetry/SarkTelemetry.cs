using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Sark.Actors.Telemetry;

/// <summary>
/// The one <see cref="Meter"/> and one <see cref="ActivitySource"/> named <c>Sark.Actors</c>
/// (DESIGN.md section 10). Tags are low-cardinality: upstream names, operations, outcomes.
/// </summary>
public static class SarkTelemetry
{
    public const string Name = "Sark.Actors";

    public static readonly ActivitySource ActivitySource = new(Name, "0.1.0");

    public static readonly Meter Meter = new(Name, "0.1.0");

    /// <summary>Upstream requests by upstream, operation and outcome.</summary>
    public static readonly Counter<long> Requests =
        Meter.CreateCounter<long>("sark.upstream.requests", "{request}", "Requests sent to upstreams, by upstream, operation and outcome.");

    public static readonly Histogram<double> RequestDuration =
        Meter.CreateHistogram<double>("sark.upstream.request.duration", "s", "Duration of upstream requests, by upstream, operation and outcome.");

    /// <summary>0 closed, 1 half-open, 2 open.</summary>
    public static readonly Gauge<int> BreakerState =
        Meter.CreateGauge<int>("sark.breaker.state", "{state}", "Circuit state of each upstream: 0 closed, 1 half-open, 2 open.");

    public static readonly Counter<long> BreakerTransitions =
        Meter.CreateCounter<long>("sark.breaker.transitions", "{transition}", "Circuit state changes, by upstream and the state entered.");

    public static readonly Counter<long> StdioRestarts =
        Meter.CreateCounter<long>("sark.stdio.restarts", "{restart}", "Times a stdio upstream process was started again after a fault.");

    public static readonly Counter<long> FacadeCalls =
        Meter.CreateCounter<long>("sark.calls", "{call}", "Tool calls through the facade, by server and outcome.");

    public static readonly Histogram<double> FacadeCallDuration =
        Meter.CreateHistogram<double>("sark.call.duration", "s", "Duration of tool calls through the facade, by server and outcome.");

    public static readonly Counter<long> CatalogLookups =
        Meter.CreateCounter<long>("sark.catalog.lookups", "{lookup}", "Catalog lookups by upstream and result (hit: served fresh; miss: needed a fetch).");

    public static readonly Counter<long> CatalogFetches =
        Meter.CreateCounter<long>("sark.catalog.fetches", "{fetch}", "Reads of an upstream the catalog made to refresh expired entries, by upstream and outcome.");

    public static readonly Counter<long> CatalogTruncated =
        Meter.CreateCounter<long>("sark.catalog.truncated", "{server}", "Servers left out of the catalog because max-entries was reached, by upstream.");

    public static readonly UpDownCounter<long> SseStreamsActive =
        Meter.CreateUpDownCounter<long>("sark.sse.streams.active", "{stream}", "Event subscriptions (SSE client streams) alive now.");

    public static readonly Counter<long> SseReconnects =
        Meter.CreateCounter<long>("sark.sse.reconnects", "{reconnect}", "Event subscriptions that connected again after their stream ended or broke.");

    public static readonly UpDownCounter<long> SseClients =
        Meter.CreateUpDownCounter<long>("sark.sse.clients", "{client}", "Clients of the node's own GET /api/v1/events now.");

    public static void RecordRequest(string upstream, string operation, string outcome, long startTimestamp)
    {
        var tags = new TagList
        {
            { "upstream", upstream },
            { "operation", operation },
            { "outcome", outcome },
        };
        Requests.Add(1, tags);
        if (RequestDuration.Enabled)
            RequestDuration.Record(Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds, tags);
    }

    public static void RecordBreaker(string upstream, Sark.Actors.BreakerState state, bool transition)
    {
        var value = state switch
        {
            Sark.Actors.BreakerState.Closed => 0,
            Sark.Actors.BreakerState.HalfOpen => 1,
            _ => 2,
        };
        BreakerState.Record(value, new KeyValuePair<string, object?>("upstream", upstream));
        if (transition)
        {
            BreakerTransitions.Add(1,
                new KeyValuePair<string, object?>("upstream", upstream),
                new KeyValuePair<string, object?>("state", state.ToString().ToLowerInvariant()));
        }
    }
}
