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

    public static readonly Counter<long> CatalogJoins =
        Meter.CreateCounter<long>("sark.catalog.singleflight.joins", "{lookup}", "Catalog lookups that joined a fetch already in flight instead of starting one (single-flight), by upstream.");

    public static readonly ObservableGauge<long> StdioRss =
        Meter.CreateObservableGauge("sark.stdio.process.rss", ObserveStdioRss, "By", "Resident memory of each running stdio upstream process, by upstream.");

    /// <summary>Front-door sessions open now, by <c>transport</c> (<see cref="Transports"/>).</summary>
    public static readonly UpDownCounter<long> FrontDoorSessions =
        Meter.CreateUpDownCounter<long>("sark.frontdoor.sessions", "{session}", "MCP sessions of callers open now on the front door, by transport (streamable-http, sse).");

    public static readonly Counter<long> FrontDoorSessionsOpened =
        Meter.CreateCounter<long>("sark.frontdoor.sessions.opened", "{session}", "MCP sessions of callers opened on the front door, by transport.");

    public static readonly Counter<long> SlowCalls =
        Meter.CreateCounter<long>("sark.calls.slow", "{call}", "Tool calls through the facade slower than sark.telemetry.slow-call-threshold, by server.");

    /// <summary>The <c>transport</c> tag values of the front-door instruments.</summary>
    public static class Transports
    {
        public const string StreamableHttp = "streamable-http";
        public const string Sse = "sse";
    }

    /// <summary>A front-door session began (one line at the call site; pair it with <see cref="SessionClosed"/>).</summary>
    public static void SessionOpened(string transport)
    {
        var tag = new KeyValuePair<string, object?>("transport", transport);
        FrontDoorSessions.Add(1, tag);
        FrontDoorSessionsOpened.Add(1, tag);
    }

    /// <summary>A front-door session ended.</summary>
    public static void SessionClosed(string transport) =>
        FrontDoorSessions.Add(-1, new KeyValuePair<string, object?>("transport", transport));

    public static void RecordRequest(string upstream, string operation, string outcome, long startTimestamp, string? traceParent = null)
    {
        if (traceParent is not null)
            RecordUpstreamSpan(traceParent, upstream, operation, outcome, startTimestamp);
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

    /// <summary>
    /// The span of one upstream request, made by the connection actor when the request ends, as a
    /// child of the <c>traceparent</c> the request message carried across the actor hop. It is
    /// started and stopped at once with the request's real start time, so no Activity stays
    /// ambient on the actor's thread.
    /// </summary>
    public static void RecordUpstreamSpan(string traceParent, string upstream, string operation, string outcome, long startTimestamp)
    {
        // A parent that is not recorded (sampled out) gets no child: the span would be dropped anyway.
        if (!ActivitySource.HasListeners() || !ActivityContext.TryParse(traceParent, null, out var parent)
            || (parent.TraceFlags & ActivityTraceFlags.Recorded) == 0)
            return;
        var previous = Activity.Current;
        var started = DateTimeOffset.UtcNow - Stopwatch.GetElapsedTime(startTimestamp);
        var activity = ActivitySource.StartActivity(UpstreamSpanName(operation), ActivityKind.Client, parent, startTime: started);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag("sark.upstream", upstream);
            activity.SetTag("sark.operation", operation);
            activity.SetTag("sark.outcome", outcome);
            if (outcome is not ("ok" or "tool_error"))
                activity.SetStatus(ActivityStatusCode.Error, outcome);
        }

        activity?.Stop();
        Activity.Current = previous;
    }

    /// <summary><c>sark.upstream &lt;operation&gt;</c>, without a new string for the usual operations.</summary>
    private static string UpstreamSpanName(string operation) => operation switch
    {
        "tools/call" => "sark.upstream tools/call",
        "invoke" => "sark.upstream invoke",
        _ => "sark.upstream " + operation,
    };

    /// <summary>
    /// Starts a child span of <paramref name="parent"/> without leaving it ambient: the caller
    /// keeps it and ends it with <see cref="StopDetached"/>.
    /// </summary>
    public static Activity? StartDetached(string name, ActivityKind kind, ActivityContext parent)
    {
        var previous = Activity.Current;
        var activity = ActivitySource.StartActivity(name, kind, parent);
        Activity.Current = previous;
        return activity;
    }

    /// <summary>Ends a span from <see cref="StartDetached"/>, leaving <see cref="Activity.Current"/> as it was.</summary>
    public static void StopDetached(Activity? activity)
    {
        if (activity is null)
            return;
        var previous = Activity.Current;
        activity.Stop();
        Activity.Current = previous;
    }

    private static IEnumerable<Measurement<long>> ObserveStdioRss()
    {
        foreach (var (upstream, pid) in Upstreams.Stdio.ChildProcesses.Running())
        {
            var rss = ProcessMemory.ResidentBytes(pid);
            if (rss > 0)
                yield return new Measurement<long>(rss, new KeyValuePair<string, object?>("upstream", upstream));
        }
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
                new KeyValuePair<string, object?>("state", value switch { 0 => "closed", 1 => "half_open", _ => "open" }));
        }
    }
}
