using System.Diagnostics;
using System.Diagnostics.Metrics;
using Sark.Actors.Telemetry;

namespace Sark.Actors.Policy;

/// <summary>
/// Policy instruments on the one <c>Sark.Actors</c> meter (DESIGN.md section 10). Tags:
/// <c>engine</c> (embedded, opa), <c>action</c> (the three actions, else <c>other</c>),
/// <c>decision</c> (allow, deny, unavailable) and <c>cached</c> (true, false).
/// </summary>
public static class PolicyTelemetry
{
    public static readonly Counter<long> Decisions =
        SarkTelemetry.Meter.CreateCounter<long>("sark.policy.decisions", "{decision}", "Policy decisions, by engine, action, decision and whether the cache answered.");

    public static readonly Histogram<double> Duration =
        SarkTelemetry.Meter.CreateHistogram<double>("sark.policy.duration", "s", "Time to a policy decision, by engine, action, decision and whether the cache answered.");

    public const string Allow = "allow";
    public const string Deny = "deny";
    public const string Unavailable = "unavailable";

    private static long _lastUnavailable;

    /// <summary>
    /// When the engine last failed to decide (<see cref="Stopwatch"/> timestamp, 0 for never),
    /// and the reason; readiness reports it (docs/observability.md).
    /// </summary>
    public static long LastUnavailableTimestamp => Volatile.Read(ref _lastUnavailable);

    public static string? LastUnavailableReason { get; private set; }

    /// <summary>The engine could not decide (OPA down or slow): readiness says so for a while.</summary>
    public static void EngineUnavailable(string reason)
    {
        LastUnavailableReason = reason;
        Volatile.Write(ref _lastUnavailable, Stopwatch.GetTimestamp());
    }

    /// <summary>The engine decided again: readiness stops reporting it unavailable.</summary>
    public static void EngineDecided()
    {
        if (Volatile.Read(ref _lastUnavailable) != 0)
            Volatile.Write(ref _lastUnavailable, 0);
    }

    public static void Record(string engine, string action, string decision, bool cached, long startTimestamp)
    {
        if (!cached && decision != Unavailable)
            EngineDecided();
        if (!Decisions.Enabled && !Duration.Enabled)
            return;
        var tags = new TagList
        {
            { "engine", engine },
            { "action", PolicyActions.IsKnown(action) ? action : "other" },
            { "decision", decision },
            { "cached", cached ? "true" : "false" },
        };
        Decisions.Add(1, tags);
        // A cached decision takes nanoseconds: counted above, not timed (it would only fill the first bucket).
        if (!cached && Duration.Enabled)
            Duration.Record(Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds, tags);
    }

    public static string Outcome(PolicyDecision decision) => decision.Allow ? Allow : Deny;
}
