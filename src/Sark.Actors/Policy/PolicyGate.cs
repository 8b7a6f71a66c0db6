using System.Diagnostics;
using Akka.Actor;

namespace Sark.Actors.Policy;

/// <summary>
/// The facade's door to the policy: a cached decision is read from the shared
/// <see cref="DecisionCache"/> without a message; otherwise the <see cref="PolicyDecisionPoint"/>
/// is asked, with a timeout (the only Ask, on the facade side). Fails closed: every failure
/// is a <see cref="PolicyUnavailableException"/> (code <c>policy_unavailable</c>). A deny is
/// returned as a decision, not thrown; the facade turns it into <see cref="PolicyDeniedException"/>.
/// </summary>
public sealed class PolicyGate
{
    private readonly IActorRef _decisionPoint;
    private readonly DecisionCache _cache;
    private readonly TimeSpan _timeout;

    public PolicyGate(IActorRef decisionPoint, DecisionCache cache, TimeSpan decideTimeout)
    {
        ArgumentNullException.ThrowIfNull(decisionPoint);
        ArgumentNullException.ThrowIfNull(cache);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(decideTimeout, TimeSpan.Zero);
        _decisionPoint = decisionPoint;
        _cache = cache;
        _timeout = decideTimeout;
    }

    public PolicyGate(IActorRef decisionPoint, DecisionCache cache, PolicyOptions options)
        : this(decisionPoint, cache, (options ?? throw new ArgumentNullException(nameof(options))).DecideTimeout)
    {
    }

    public DecisionCache Cache => _cache;

    /// <summary>The decision on <paramref name="input"/>, hashing its arguments.</summary>
    public ValueTask<PolicyDecision> DecideAsync(PolicyInput input, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(input);
        return DecideAsync(input, DecisionKey.ArgumentsHash(input), cancellationToken);
    }

    /// <summary>
    /// The decision on <paramref name="input"/> whose arguments hash to
    /// <paramref name="argumentsHash"/> (<see cref="CanonicalJson.Hash"/>; the facade computes it
    /// once when audit records it as <c>arguments_hash</c> too). Null: hashed here, and only when
    /// the cache keys decisions on arguments (some rule reads them).
    /// </summary>
    public ValueTask<PolicyDecision> DecideAsync(PolicyInput input, string? argumentsHash, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(input);
        var start = Stopwatch.GetTimestamp();
        var key = DecisionKey.For(input, _cache.KeysArguments ? argumentsHash ?? DecisionKey.ArgumentsHash(input) : DecisionKey.ArgumentsIgnored);
        if (_cache.TryGet(key, out var cached, out var engine))
        {
            PolicyTelemetry.Record(engine, input.Action, PolicyTelemetry.Outcome(cached), true, start);
            return ValueTask.FromResult(cached);
        }

        return new ValueTask<PolicyDecision>(AskAsync(input, key, cancellationToken));
    }

    private async Task<PolicyDecision> AskAsync(PolicyInput input, string key, CancellationToken cancellationToken)
    {
        object reply;
        try
        {
            reply = await _decisionPoint.Ask<object>(new PolicyCommands.Decide(input, key), _timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (AskTimeoutException ex)
        {
            throw new PolicyUnavailableException(
                $"The policy did not decide within {_timeout.TotalSeconds:0.###}s (sark.policy.decide-timeout); the call is refused.", input.Context.RequestId, ex);
        }

        return reply switch
        {
            PolicyReplies.Decided decided => decided.Decision,
            PolicyReplies.Unavailable unavailable => throw new PolicyUnavailableException(unavailable.Error.Message, input.Context.RequestId),
            _ => throw new PolicyUnavailableException($"The policy answered {reply.GetType().Name}; the call is refused.", input.Context.RequestId),
        };
    }
}
