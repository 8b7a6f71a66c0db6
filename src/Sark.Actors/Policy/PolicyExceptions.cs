using Sark.Actors.Errors;

namespace Sark.Actors.Policy;

/// <summary>
/// The policy could not decide: OPA unreachable, slow, failing or answering nonsense, or the
/// decision point did not answer in time. The call is refused (fail closed); code
/// <c>policy_unavailable</c>.
/// </summary>
public sealed class PolicyUnavailableException(string message, string? requestId = null, Exception? inner = null)
    : SarkException(SarkErrorCode.PolicyUnavailable, message, requestId, inner);

/// <summary>The policy denied the call; code <c>policy_denied</c>. <see cref="Decision"/> carries the reason.</summary>
public sealed class PolicyDeniedException(PolicyDecision decision, string? requestId = null)
    : SarkException(SarkErrorCode.PolicyDenied, $"The policy denied this call: {decision?.Reason}", requestId)
{
    public PolicyDecision Decision { get; } = decision ?? throw new ArgumentNullException(nameof(decision));
}
