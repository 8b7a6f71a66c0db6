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

    public static void Record(string engine, string action, string decision, bool cached, long startTimestamp)
    {
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
        if (Duration.Enabled)
            Duration.Record(Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds, tags);
    }

    public static string Outcome(PolicyDecision decision) => decision.Allow ? Allow : Deny;
}
