using Sark.Host.FrontDoor;

namespace Sark.Actors.Tests.FrontDoor;

/// <summary>Session limits per node, per legacy transport and per caller (<see cref="SessionLedger"/>).</summary>
public sealed class SessionLedgerSpecs
{
    [Fact]
    public void The_node_limit_refuses_the_session_over_it_and_a_closed_one_frees_a_slot()
    {
        var ledger = new SessionLedger(maxSessions: 2, maxLegacySessions: 10, maxSessionsPerCaller: 10);

        Assert.Equal(SessionRefusal.None, ledger.TryOpen("a", SessionKind.Streamable, out var first));
        Assert.Equal(SessionRefusal.None, ledger.TryOpen("b", SessionKind.Streamable, out _));
        Assert.Equal(SessionRefusal.NodeLimit, ledger.TryOpen("c", SessionKind.Streamable, out var refused));
        Assert.Null(refused);

        first!.Dispose();
        Assert.Equal(SessionRefusal.None, ledger.TryOpen("c", SessionKind.Streamable, out _));
        Assert.Equal(2, ledger.Streamable);
    }

    [Fact]
    public void Legacy_sessions_have_their_own_limit()
    {
        var ledger = new SessionLedger(maxSessions: 10, maxLegacySessions: 1, maxSessionsPerCaller: 10);

        Assert.Equal(SessionRefusal.None, ledger.TryOpen("a", SessionKind.LegacySse, out _));
        Assert.Equal(SessionRefusal.LegacyLimit, ledger.TryOpen("b", SessionKind.LegacySse, out _));
        Assert.Equal(SessionRefusal.None, ledger.TryOpen("b", SessionKind.Streamable, out _));
        Assert.Equal((1, 1), (ledger.Streamable, ledger.Legacy));
    }

    [Fact]
    public void A_caller_limit_counts_both_kinds_and_leaves_other_callers_alone()
    {
        var ledger = new SessionLedger(maxSessions: 10, maxLegacySessions: 10, maxSessionsPerCaller: 2);

        Assert.Equal(SessionRefusal.None, ledger.TryOpen("a", SessionKind.Streamable, out _));
        Assert.Equal(SessionRefusal.None, ledger.TryOpen("a", SessionKind.LegacySse, out var legacy));
        Assert.Equal(SessionRefusal.CallerLimit, ledger.TryOpen("a", SessionKind.Streamable, out _));
        Assert.Equal(SessionRefusal.None, ledger.TryOpen("b", SessionKind.Streamable, out _));

        legacy!.Dispose();
        Assert.Equal(1, ledger.CountOf("a"));
        Assert.Equal(SessionRefusal.None, ledger.TryOpen("a", SessionKind.Streamable, out _));
    }

    [Fact]
    public void Disposing_a_slot_twice_gives_it_back_once()
    {
        var ledger = new SessionLedger(maxSessions: 5, maxLegacySessions: 5, maxSessionsPerCaller: 5);
        ledger.TryOpen("a", SessionKind.Streamable, out var one);
        ledger.TryOpen("a", SessionKind.Streamable, out _);

        one!.Dispose();
        one.Dispose();

        Assert.Equal(1, ledger.Streamable);
        Assert.Equal(1, ledger.CountOf("a"));
    }

    [Fact]
    public void Concurrent_openers_never_pass_the_limit_together()
    {
        var ledger = new SessionLedger(maxSessions: 50, maxLegacySessions: 50, maxSessionsPerCaller: 1000);
        var opened = 0;

        Parallel.For(0, 400, i =>
        {
            if (ledger.TryOpen("caller-" + (i % 7), SessionKind.Streamable, out _) == SessionRefusal.None)
                Interlocked.Increment(ref opened);
        });

        Assert.Equal(50, opened);
        Assert.Equal(50, ledger.Streamable);
    }
}
