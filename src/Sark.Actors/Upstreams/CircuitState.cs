using Sark.Actors.Configuration;

namespace Sark.Actors.Upstreams;

/// <summary>
/// What a circuit knows about its upstream, and its transitions. Pure: time is passed in, so
/// the breaker's arithmetic is tested without actors or clocks.
/// </summary>
internal sealed record CircuitState(
    string Name,
    UpstreamKind Kind,
    UpstreamState State,
    BreakerState Breaker,
    int RestartCount,
    int ConsecutiveRestarts,
    string? LastError,
    DateTimeOffset? LastErrorAt,
    DateTimeOffset? ConnectedSince,
    DateTimeOffset? NextTryAt,
    int? ProcessId,
    int ToolCount)
{
    public static CircuitState Initial(string name, UpstreamKind kind) =>
        new(name, kind, UpstreamState.Connecting, BreakerState.Closed, 0, 0, null, null, null, null, null, 0);

    /// <summary>A connection actor started: after a fault it is the half-open probe.</summary>
    public CircuitState Started(int? processId) => this with
    {
        State = UpstreamState.Connecting,
        Breaker = ConsecutiveRestarts > 0 ? BreakerState.HalfOpen : BreakerState.Closed,
        ProcessId = processId,
        NextTryAt = null,
    };

    public CircuitState Ready(DateTimeOffset now, int toolCount) => this with
    {
        State = UpstreamState.Ready,
        Breaker = BreakerState.Closed,
        ConnectedSince = now,
        ToolCount = toolCount,
    };

    /// <summary>Connected for the whole reset period: the backoff starts from the minimum again.</summary>
    public CircuitState Stable() => this with { ConsecutiveRestarts = 0 };

    public CircuitState Faulted(string reason, DateTimeOffset now, BackoffOptions backoff) => this with
    {
        State = UpstreamState.Backoff,
        Breaker = BreakerState.Open,
        RestartCount = RestartCount + 1,
        ConsecutiveRestarts = ConsecutiveRestarts + 1,
        LastError = reason,
        LastErrorAt = now,
        ConnectedSince = null,
        ProcessId = null,
        NextTryAt = now + UpperDelay(ConsecutiveRestarts, backoff),
    };

    public CircuitState Stopped() => this with { State = UpstreamState.Stopped, ProcessId = null };

    /// <summary>An operator stopped the upstream: down on purpose, so the breaker is not open and no try is due.</summary>
    public CircuitState OperatorStopped() => this with
    {
        State = UpstreamState.Stopped,
        Breaker = BreakerState.Closed,
        ProcessId = null,
        ConnectedSince = null,
        NextTryAt = null,
    };

    /// <summary>An operator started it again: a fresh backoff, connecting now.</summary>
    public CircuitState OperatorStarted() => this with
    {
        State = UpstreamState.Connecting,
        Breaker = BreakerState.Closed,
        ConsecutiveRestarts = 0,
        NextTryAt = null,
    };

    /// <summary>Time until the supervisor's next try (zero when it is due or a try is under way).</summary>
    public TimeSpan RetryAfter(DateTimeOffset now) =>
        NextTryAt is { } at && at > now ? at - now : TimeSpan.Zero;

    /// <summary>
    /// The longest delay the BackoffSupervisor may pick for its <paramref name="restartCount"/>-th
    /// restart: min × 2ⁿ capped at max, times (1 + random-factor), as Akka computes it.
    /// </summary>
    public static TimeSpan UpperDelay(int restartCount, BackoffOptions backoff)
    {
        var exponential = backoff.Min.Ticks * Math.Pow(2, Math.Min(restartCount, 62));
        var capped = Math.Min(backoff.Max.Ticks, exponential);
        return TimeSpan.FromTicks((long)(capped * (1 + backoff.RandomFactor)));
    }

    /// <summary>gateway: the last discovery walk's figures.</summary>
    public PagingStats? Paging { get; init; }

    /// <summary>gateway: the registry's own health, last read.</summary>
    public string? RegistryHealth { get; init; }

    public UpstreamStatus ToStatus(DateTimeOffset now) => new(
        Name, Kind, State, Breaker, RestartCount, ConsecutiveRestarts, LastError, LastErrorAt, ConnectedSince,
        ProcessId, Breaker == BreakerState.Open ? RetryAfter(now) : null, ToolCount)
    {
        Paging = Paging,
        RegistryHealth = RegistryHealth,
    };
}
