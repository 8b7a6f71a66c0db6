using Akka.Actor;
using Sark.Actors.Policy;
using static Sark.Actors.Tests.Policy.PolicyTestInputs;

namespace Sark.Actors.Tests.Policy;

/// <summary>A clock that moves only when told to.</summary>
internal sealed class FakeClock : ITimeProvider
{
    public DateTimeOffset Now { get; private set; } = PolicyTestInputs.Now;

    public TimeSpan MonotonicClock => Now - PolicyTestInputs.Now;

    public TimeSpan HighResMonotonicClock => MonotonicClock;

    public void Advance(TimeSpan by) => Now += by;
}

public sealed class DecisionCacheSpecs
{
    private static readonly PolicyDecision Allow30 = PolicyDecision.Allowed("ok", TimeSpan.FromSeconds(30));

    [Fact]
    public void A_decision_lives_for_its_ttl_by_the_injected_clock()
    {
        var clock = new FakeClock();
        var cache = new DecisionCache(clock);
        Assert.True(cache.Set("k", Allow30, cache.Generation, "embedded"));

        clock.Advance(TimeSpan.FromSeconds(29.9));
        Assert.True(cache.TryGet("k", out var hit, out var engine));
        Assert.Same(Allow30, hit);
        Assert.Equal("embedded", engine);

        clock.Advance(TimeSpan.FromSeconds(0.1));
        Assert.False(cache.TryGet("k", out _));
        Assert.Equal(0, cache.Count);
    }

    [Fact]
    public void A_deny_is_cached_only_when_it_carries_a_ttl()
    {
        var cache = new DecisionCache(new FakeClock());
        Assert.False(cache.Set("plain-deny", PolicyDecision.Denied("no"), cache.Generation, "opa"));
        Assert.False(cache.TryGet("plain-deny", out _));
        Assert.True(cache.Set("deny-with-ttl", PolicyDecision.Denied("no", TimeSpan.FromSeconds(5)), cache.Generation, "opa"));
        Assert.True(cache.TryGet("deny-with-ttl", out var deny));
        Assert.False(deny.Allow);
    }

    [Fact]
    public void Clear_drops_everything_and_refuses_decisions_of_the_old_generation()
    {
        var cache = new DecisionCache(new FakeClock());
        var before = cache.Generation;
        cache.Set("a", Allow30, before, "embedded");
        cache.Clear();
        Assert.False(cache.TryGet("a", out _));
        Assert.Equal(0, cache.Count);
        Assert.False(cache.Set("late", Allow30, before, "opa"));
        Assert.False(cache.TryGet("late", out _));
        Assert.True(cache.Set("new", Allow30, cache.Generation, "opa"));
    }

    [Fact]
    public void The_size_is_bounded_and_the_soonest_to_expire_go_first()
    {
        var clock = new FakeClock();
        var cache = new DecisionCache(clock, maxEntries: 20);
        for (var i = 1; i <= 21; i++)
            cache.Set($"k{i}", PolicyDecision.Allowed("ok", TimeSpan.FromSeconds(100 + i)), cache.Generation, "embedded");

        Assert.InRange(cache.Count, 1, 20);
        Assert.Equal(18, cache.Count);
        Assert.False(cache.TryGet("k1", out _));
        Assert.False(cache.TryGet("k3", out _));
        Assert.True(cache.TryGet("k4", out _));
        Assert.True(cache.TryGet("k21", out _));
    }

    [Fact]
    public void Expired_entries_are_swept_before_live_ones_are_evicted()
    {
        var clock = new FakeClock();
        var cache = new DecisionCache(clock, maxEntries: 20);
        for (var i = 0; i < 15; i++)
            cache.Set($"short{i}", PolicyDecision.Allowed("ok", TimeSpan.FromSeconds(1)), cache.Generation, "embedded");
        for (var i = 0; i < 5; i++)
            cache.Set($"long{i}", Allow30, cache.Generation, "embedded");
        clock.Advance(TimeSpan.FromSeconds(2));
        cache.Set("one-more", Allow30, cache.Generation, "embedded");

        Assert.Equal(6, cache.Count);
        for (var i = 0; i < 5; i++)
            Assert.True(cache.TryGet($"long{i}", out _));
        Assert.True(cache.TryGet("one-more", out _));
    }

    [Fact]
    public void Concurrent_readers_and_writers_keep_the_count_consistent()
    {
        var cache = new DecisionCache(new FakeClock(), maxEntries: 1000);
        Parallel.For(0, 8, worker =>
        {
            for (var i = 0; i < 2000; i++)
            {
                cache.Set($"k{(worker * 7919 + i) % 3000}", Allow30, cache.Generation, "embedded");
                cache.TryGet($"k{i % 3000}", out _);
            }
        });
        Assert.InRange(cache.Count, 1, 1000);
    }
}

public sealed class DecisionKeySpecs
{
    private static PolicyInput Input(string? args = """{"a":1,"b":2}""", string id = "alice", string[]? roles = null, string[]? teams = null, string server = "s", string tool = "t") =>
        PolicyInput.ForInvoke(new Caller(id, [.. roles ?? ["r1", "r2"]], [.. teams ?? ["blue"]]), server, "medium", tool, "low",
            args is null ? null : Json(args), "req", Now, "test");

    [Fact]
    public void The_key_ignores_argument_key_order_role_order_and_the_request_context()
    {
        var key = DecisionKey.For(Input());
        Assert.Equal(key, DecisionKey.For(Input("""{"b":2,"a":1}""")));
        Assert.Equal(key, DecisionKey.For(Input(roles: ["r2", "r1"])));
        Assert.Equal(key, DecisionKey.For(Input() with { Context = new PolicyContext("other", Now.AddHours(1), "mcp") }));
    }

    [Fact]
    public void Every_part_of_the_decision_changes_the_key()
    {
        var key = DecisionKey.For(Input());
        Assert.NotEqual(key, DecisionKey.For(Input("""{"a":1,"b":3}""")));
        Assert.NotEqual(key, DecisionKey.For(Input(id: "bob")));
        Assert.NotEqual(key, DecisionKey.For(Input(roles: ["r1"])));
        Assert.NotEqual(key, DecisionKey.For(Input(teams: ["red"])));
        Assert.NotEqual(key, DecisionKey.For(Input(server: "s2")));
        Assert.NotEqual(key, DecisionKey.For(Input(tool: "t2")));
        Assert.NotEqual(key, DecisionKey.For(Input() with { Action = PolicyActions.ToolList }));
        Assert.NotEqual(key, DecisionKey.For(Input() with { Tool = new PolicyTool("t", "critical") }));
    }

    [Fact]
    public void Parts_cannot_run_into_each_other()
    {
        Assert.NotEqual(DecisionKey.For(Input(roles: ["a", "b"])), DecisionKey.For(Input(roles: ["a|b"])));
        Assert.NotEqual(DecisionKey.For(Input(id: "a|1:b")), DecisionKey.For(Input(id: "a")));
        Assert.NotEqual(DecisionKey.For(Input(roles: ["x"], teams: [])), DecisionKey.For(Input(roles: [], teams: ["x"])));
    }

    [Fact]
    public void A_precomputed_arguments_hash_gives_the_same_key()
    {
        var input = Input();
        Assert.Equal(DecisionKey.For(input), DecisionKey.For(input, CanonicalJson.Hash(input.Parameters)));
        Assert.EndsWith(CanonicalJson.Hash(Json("""{"b":2,"a":1}""")), DecisionKey.For(input), StringComparison.Ordinal);
    }
}
