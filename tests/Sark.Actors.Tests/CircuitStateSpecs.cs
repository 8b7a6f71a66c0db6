using Sark.Actors.Configuration;
using Sark.Actors.Upstreams;

namespace Sark.Actors.Tests;

public sealed class CircuitStateSpecs
{
    private static readonly BackoffOptions Backoff = new()
    {
        Min = TimeSpan.FromSeconds(1),
        Max = TimeSpan.FromSeconds(30),
        RandomFactor = 0.2,
    };

    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Upper_delay_doubles_from_min_and_is_capped_at_max_with_jitter()
    {
        Assert.Equal(TimeSpan.FromSeconds(1.2), CircuitState.UpperDelay(0, Backoff));
        Assert.Equal(TimeSpan.FromSeconds(2.4), CircuitState.UpperDelay(1, Backoff));
        Assert.Equal(TimeSpan.FromSeconds(19.2), CircuitState.UpperDelay(4, Backoff));
        Assert.Equal(TimeSpan.FromSeconds(36), CircuitState.UpperDelay(5, Backoff));
        Assert.Equal(TimeSpan.FromSeconds(36), CircuitState.UpperDelay(500, Backoff));
    }

    [Fact]
    public void A_fault_opens_the_circuit_and_counts_a_restart()
    {
        var state = CircuitState.Initial("demo", UpstreamKind.McpStdio).Started(10).Ready(T0, 3);
        Assert.Equal(BreakerState.Closed, state.Breaker);

        var open = state.Faulted("boom", T0, Backoff);

        Assert.Equal(BreakerState.Open, open.Breaker);
        Assert.Equal(UpstreamState.Backoff, open.State);
        Assert.Equal(1, open.RestartCount);
        Assert.Equal("boom", open.LastError);
        Assert.Null(open.ProcessId);
        Assert.Equal(TimeSpan.FromSeconds(1.2), open.RetryAfter(T0));
        Assert.Equal(TimeSpan.FromSeconds(0.2), open.RetryAfter(T0.AddSeconds(1)));
        Assert.Equal(TimeSpan.Zero, open.RetryAfter(T0.AddSeconds(5)));
    }

    [Fact]
    public void The_connection_started_after_a_fault_is_the_half_open_probe()
    {
        var open = CircuitState.Initial("demo", UpstreamKind.McpStdio).Started(1).Faulted("x", T0, Backoff);

        var probe = open.Started(2);
        Assert.Equal(BreakerState.HalfOpen, probe.Breaker);
        Assert.Equal(BreakerState.Closed, probe.Ready(T0, 1).Breaker);
        Assert.Equal(BreakerState.Open, probe.Faulted("again", T0, Backoff).Breaker);
    }

    [Fact]
    public void Consecutive_restarts_grow_the_delay_until_a_stable_period_resets_them()
    {
        var state = CircuitState.Initial("demo", UpstreamKind.McpStdio);
        for (var i = 0; i < 3; i++)
            state = state.Started(i).Faulted("crash", T0, Backoff);
        Assert.Equal(3, state.ConsecutiveRestarts);
        Assert.Equal(TimeSpan.FromSeconds(4.8), state.RetryAfter(T0));

        state = state.Started(9).Ready(T0, 1).Stable().Faulted("crash", T0, Backoff);

        Assert.Equal(4, state.RestartCount);
        Assert.Equal(1, state.ConsecutiveRestarts);
        Assert.Equal(TimeSpan.FromSeconds(1.2), state.RetryAfter(T0));
    }
}

/// <summary>The operator's transitions of <see cref="Sark.Actors.Upstreams.CircuitState"/> (the ops console's upstream stop/start).</summary>
public sealed class OperatorCircuitStateSpecs
{
    [Fact]
    public void An_operator_stop_is_not_an_open_breaker_and_a_start_begins_a_fresh_backoff()
    {
        var now = DateTimeOffset.UnixEpoch;
        var faulted = Sark.Actors.Upstreams.CircuitState.Initial("demo", Configuration.UpstreamKind.McpStdio)
            .Started(41).Faulted("crash", now, new Configuration.BackoffOptions());

        var stopped = faulted.OperatorStopped();
        var started = stopped.OperatorStarted();

        Assert.Equal(UpstreamState.Stopped, stopped.State);
        Assert.Equal(BreakerState.Closed, stopped.Breaker);
        Assert.Null(stopped.ProcessId);
        Assert.Equal(TimeSpan.Zero, stopped.RetryAfter(now));
        Assert.Equal(UpstreamState.Connecting, started.State);
        Assert.Equal(0, started.ConsecutiveRestarts);
        Assert.Equal(1, started.RestartCount);
        Assert.Equal(BreakerState.Closed, started.Started(42).Breaker);
    }
}
