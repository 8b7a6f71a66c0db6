using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using Sark.Actors.Errors;

namespace Sark.Actors.Policy;

/// <summary>Messages to the <see cref="PolicyDecisionPoint"/>.</summary>
public static class PolicyCommands
{
    /// <summary>
    /// Decide on <paramref name="Input"/>. <paramref name="CacheKey"/> is
    /// <see cref="DecisionKey.For(PolicyInput, string)"/>, computed by the sender when it has it.
    /// Answered with <see cref="PolicyReplies.Decided"/> or <see cref="PolicyReplies.Unavailable"/>.
    /// </summary>
    public sealed record Decide(PolicyInput Input, string? CacheKey = null) : INoSerializationVerificationNeeded;

    /// <summary>
    /// Decide on <paramref name="Input"/> without the cache and say which rule decided (the ops
    /// console's <c>policy explain</c>). Answered with <see cref="PolicyReplies.Explained"/> or
    /// <see cref="PolicyReplies.Unavailable"/>. Nothing is cached or counted.
    /// </summary>
    public sealed record Explain(PolicyInput Input) : INoSerializationVerificationNeeded;

    /// <summary>Swap the policy (rules, engine, OPA settings) and drop every cached decision. Answered with <see cref="PolicyReplies.Reloaded"/>.</summary>
    public sealed record Reload(PolicyOptions Options) : INoSerializationVerificationNeeded;
}

/// <summary>Replies of the <see cref="PolicyDecisionPoint"/>.</summary>
public static class PolicyReplies
{
    public sealed record Decided(PolicyDecision Decision, bool Cached) : INoSerializationVerificationNeeded;

    /// <summary>No decision could be made; <see cref="SarkError.Code"/> is <c>policy_unavailable</c>. The call must be refused.</summary>
    public sealed record Unavailable(SarkError Error) : INoSerializationVerificationNeeded;

    public sealed record Reloaded(string Engine, long Generation);

    public sealed record Explained(PolicyExplanation Explanation) : INoSerializationVerificationNeeded;
}

/// <summary>
/// <c>/user/sark/policy</c>: decides with the embedded rules or OPA and fills the shared
/// <see cref="DecisionCache"/>. Two states, one per engine. Embedded decisions are made in
/// the actor (pure, microseconds). OPA queries run as detached tasks piped back to the actor,
/// and identical queries in flight share one request (single flight); the replies go to the
/// original senders. Both engines fail closed with <see cref="PolicyReplies.Unavailable"/>.
/// </summary>
public sealed class PolicyDecisionPoint : UntypedActor
{
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly DecisionCache _cache;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Dictionary<string, Flight> _inFlight = new(StringComparer.Ordinal);
    private PolicyOptions _options;
    private EmbeddedPolicyEngine? _embedded;
    private OpaPolicyClient? _opa;

    public PolicyDecisionPoint(PolicyOptions options, DecisionCache cache)
    {
        _cache = cache;
        _options = options;
        Apply(options);
    }

    public static Props Props(PolicyOptions options, DecisionCache cache)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(cache);
        return Akka.Actor.Props.Create(() => new PolicyDecisionPoint(options, cache));
    }

    /// <summary>An OPA query came back (or failed); <see cref="Flight"/> holds who waits for it.</summary>
    private sealed record Evaluated(string FlightKey, PolicyDecision? Decision, SarkError? Error) : INoSerializationVerificationNeeded;

    private sealed record Flight(string CacheKey, long Generation, long Start, string Action, List<IActorRef> Waiters);

    protected override void OnReceive(object message) => Unhandled(message);

    private void Embedded(object message)
    {
        switch (message)
        {
            case PolicyCommands.Decide decide:
                var key = decide.CacheKey ?? DecisionKey.For(decide.Input);
                if (TryReplyCached(key, decide.Input.Action))
                    return;
                var start = Stopwatch.GetTimestamp();
                PolicyDecision decision;
                try
                {
                    decision = _embedded!.Evaluate(decide.Input);
                }
                catch (Exception ex)
                {
                    _log.Error(ex, "The embedded policy failed on request {RequestId}", decide.Input.Context.RequestId);
                    Reply(Sender, null, Unavailable($"The embedded policy failed ({ex.GetType().Name}); the call is refused."), decide.Input.Action, start);
                    return;
                }

                // Answered before it is stored: a store that has to evict from a full cache
                // then delays nobody's decision.
                Reply(Sender, decision, null, decide.Input.Action, start);
                _cache.Set(key, decision, _cache.Generation, _options.EngineName);
                break;
            default:
                Common(message);
                break;
        }
    }

    private void Opa(object message)
    {
        switch (message)
        {
            case PolicyCommands.Decide decide:
                var key = decide.CacheKey ?? DecisionKey.For(decide.Input);
                if (TryReplyCached(key, decide.Input.Action))
                    return;
                var generation = _cache.Generation;
                var flightKey = string.Concat(generation.ToString(System.Globalization.CultureInfo.InvariantCulture), "#", key);
                if (_inFlight.TryGetValue(flightKey, out var flight))
                {
                    flight.Waiters.Add(Sender);
                    return;
                }

                _inFlight[flightKey] = new Flight(key, generation, Stopwatch.GetTimestamp(), decide.Input.Action, [Sender]);
                var client = _opa!;
                client.DecideAsync(decide.Input, _stopping.Token).PipeTo(Self,
                    success: d => new Evaluated(flightKey, d, null),
                    failure: ex => new Evaluated(flightKey, null, ex is SarkException s
                        ? new SarkError(SarkErrorCode.PolicyUnavailable, s.Message)
                        : Unavailable($"The OPA query failed ({ex.GetType().Name}: {ex.Message}); the call is refused.")));
                break;
            default:
                Common(message);
                break;
        }
    }

    private void Common(object message)
    {
        switch (message)
        {
            case Evaluated evaluated when _inFlight.Remove(evaluated.FlightKey, out var flight):
                foreach (var waiter in flight.Waiters)
                    Reply(waiter, evaluated.Decision, evaluated.Error, flight.Action, flight.Start);
                if (evaluated.Decision is { } decision)
                    _cache.Set(flight.CacheKey, decision, flight.Generation, "opa");
                else
                    _log.Warning("The policy could not decide: {Reason}", evaluated.Error!.Message);
                break;
            case PolicyCommands.Explain explain when _opa is { } opa:
                var path = $"opa:{_options.Opa.Path}";
                opa.DecideAsync(explain.Input, _stopping.Token).PipeTo(Sender, Self,
                    success: d => new PolicyReplies.Explained(new PolicyExplanation(d, path, "opa")),
                    failure: ex => new PolicyReplies.Unavailable(Unavailable($"The OPA query failed ({ex.GetType().Name}: {ex.Message}).")));
                break;
            case PolicyCommands.Explain explain:
                try
                {
                    Sender.Tell(new PolicyReplies.Explained(_embedded!.Explain(explain.Input)));
                }
                catch (Exception ex)
                {
                    Sender.Tell(new PolicyReplies.Unavailable(Unavailable($"The embedded policy failed ({ex.GetType().Name}).")));
                }

                break;
            case PolicyCommands.Reload reload:
                _cache.Clear();
                Apply(reload.Options);
                _log.Info("Policy reloaded: engine {Engine}, {RuleCount} embedded rules; the decision cache was cleared", _options.EngineName, _options.Embedded.Rules.Length);
                Sender.Tell(new PolicyReplies.Reloaded(_options.EngineName, _cache.Generation));
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    private void Apply(PolicyOptions options)
    {
        _options = options;
        _embedded = new EmbeddedPolicyEngine(options);
        _cache.KeysArguments = options.Engine == PolicyEngineKind.Opa || _embedded.ReadsArguments;
        if (options.Engine == PolicyEngineKind.Opa)
        {
            // Keep the pooled client (and its queries in flight) when the OPA settings did not change.
            if (_opa is null || _opa.Options != options.Opa)
            {
                _opa?.Dispose();
                _opa = new OpaPolicyClient(options.Opa, options.DefaultCacheTtl);
            }

            Become(Opa);
        }
        else
        {
            _opa?.Dispose();
            _opa = null;
            Become(Embedded);
        }
    }

    private bool TryReplyCached(string key, string action)
    {
        var start = Stopwatch.GetTimestamp();
        if (!_cache.TryGet(key, out var decision, out var engine))
            return false;
        Sender.Tell(new PolicyReplies.Decided(decision, true));
        PolicyTelemetry.Record(engine, action, PolicyTelemetry.Outcome(decision), true, start);
        return true;
    }

    private void Reply(IActorRef to, PolicyDecision? decision, SarkError? error, string action, long start)
    {
        if (decision is not null)
        {
            to.Tell(new PolicyReplies.Decided(decision, false));
            PolicyTelemetry.Record(_options.EngineName, action, PolicyTelemetry.Outcome(decision), false, start);
            if (!decision.Allow)
                _log.Debug("Policy denied {Action}: {Reason}", action, decision.Reason);
        }
        else
        {
            to.Tell(new PolicyReplies.Unavailable(error!));
            PolicyTelemetry.EngineUnavailable(error!.Message);
            PolicyTelemetry.Record(_options.EngineName, action, PolicyTelemetry.Unavailable, false, start);
        }
    }

    private static SarkError Unavailable(string message) => new(SarkErrorCode.PolicyUnavailable, message);

    protected override void PostStop()
    {
        _stopping.Cancel();
        foreach (var flight in _inFlight.Values)
        {
            foreach (var waiter in flight.Waiters)
                waiter.Tell(new PolicyReplies.Unavailable(Unavailable("The policy decision point stopped; the call is refused.")));
        }

        _inFlight.Clear();
        _opa?.Dispose();
        _stopping.Dispose();
        base.PostStop();
    }
}
