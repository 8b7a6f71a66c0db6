using System.Diagnostics.Metrics;
using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using Sark.Actors.Errors;
using Sark.Actors.Policy;
using static Sark.Actors.Tests.Policy.PolicyTestInputs;

namespace Sark.Actors.Tests.Policy;

public sealed class PolicyDecisionPointSpecs : TestKit, IAsyncLifetime
{
    private static readonly Config VirtualTime = ConfigurationFactory.ParseString("""
        akka.scheduler.implementation = "Akka.TestKit.TestScheduler, Akka.TestKit"
        """);

    private OpaStandIn _opa = null!;

    public PolicyDecisionPointSpecs()
        : base(VirtualTime)
    {
    }

    public async Task InitializeAsync() => _opa = await OpaStandIn.StartAsync();

    public async Task DisposeAsync() => await _opa.DisposeAsync();

    private TestScheduler Scheduler => (TestScheduler)Sys.Scheduler;

    private const string Rules = """
        sark.policy.embedded.rules = [
          { name = dev, effect = allow, roles = [developer], cache-ttl = 30s }
          { name = blocked, effect = deny, subjects = [mallory], cache-ttl = 10s }
        ]
        """;

    private (IActorRef Pdp, DecisionCache Cache) Start(string hocon)
    {
        var options = PolicyOptions.Parse(hocon);
        var cache = new DecisionCache(Scheduler, options.CacheMaxEntries);
        return (Sys.ActorOf(PolicyDecisionPoint.Props(options, cache), "policy"), cache);
    }

    private string OpaHocon(string timeout = "10s") => $$"""
        sark.policy { engine = opa, opa = { url = "{{_opa.Url}}", path = "sark/authz/decision", timeout = {{timeout}} } }
        """;

    [Fact]
    public void An_embedded_allow_is_cached_for_its_ttl_by_scheduler_time()
    {
        var (pdp, cache) = Start(Rules);
        var input = Invoke("developer", "github-mcp", "get_repo", """{"repo":"x"}""");

        pdp.Tell(new PolicyCommands.Decide(input));
        var first = ExpectMsg<PolicyReplies.Decided>();
        Assert.True(first.Decision.Allow);
        Assert.False(first.Cached);

        pdp.Tell(new PolicyCommands.Decide(input));
        Assert.True(ExpectMsg<PolicyReplies.Decided>().Cached);
        Assert.True(cache.TryGet(DecisionKey.For(input), out _));

        Scheduler.Advance(TimeSpan.FromSeconds(30));
        pdp.Tell(new PolicyCommands.Decide(input));
        Assert.False(ExpectMsg<PolicyReplies.Decided>().Cached);
    }

    [Fact]
    public void A_default_deny_is_never_cached_and_a_rule_deny_with_a_ttl_is()
    {
        var (pdp, cache) = Start(Rules);
        var guest = Invoke("guest", "github-mcp", "get_repo");
        pdp.Tell(new PolicyCommands.Decide(guest));
        Assert.False(ExpectMsg<PolicyReplies.Decided>().Decision.Allow);
        pdp.Tell(new PolicyCommands.Decide(guest));
        Assert.False(ExpectMsg<PolicyReplies.Decided>().Cached);

        var mallory = Invoke(Caller("mallory", "developer"), "github-mcp", "get_repo");
        pdp.Tell(new PolicyCommands.Decide(mallory));
        Assert.False(ExpectMsg<PolicyReplies.Decided>().Decision.Allow);
        pdp.Tell(new PolicyCommands.Decide(mallory));
        var cached = ExpectMsg<PolicyReplies.Decided>();
        Assert.True(cached.Cached);
        Assert.False(cached.Decision.Allow);
        Assert.Equal(1, cache.Count);
    }

    [Fact]
    public void Reload_swaps_the_rules_and_clears_the_cache()
    {
        var (pdp, cache) = Start(Rules);
        var input = Invoke("developer", "github-mcp", "get_repo");
        pdp.Tell(new PolicyCommands.Decide(input));
        Assert.True(ExpectMsg<PolicyReplies.Decided>().Decision.Allow);

        pdp.Tell(new PolicyCommands.Reload(PolicyOptions.Parse("sark.policy.embedded.rules = [ { name = nobody, effect = deny } ]")));
        var reloaded = ExpectMsg<PolicyReplies.Reloaded>();
        Assert.Equal("embedded", reloaded.Engine);
        Assert.Equal(0, cache.Count);

        pdp.Tell(new PolicyCommands.Decide(input));
        var after = ExpectMsg<PolicyReplies.Decided>();
        Assert.False(after.Decision.Allow);
        Assert.Contains("nobody", after.Decision.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Opa_decisions_are_cached_and_identical_queries_in_flight_share_one_request()
    {
        var (pdp, _) = Start(OpaHocon());
        _opa.Result = """{"allow":true,"reason":"opa says yes","cache_ttl":20}""";
        _opa.Hold();
        var input = Invoke("developer", "github-mcp", "get_repo", """{"repo":"x"}""");
        var first = CreateTestProbe();
        var second = CreateTestProbe();

        pdp.Tell(new PolicyCommands.Decide(input), first);
        AwaitCondition(() => _opa.Requests == 1);
        pdp.Tell(new PolicyCommands.Decide(input with { Context = new PolicyContext("req-2", PolicyTestInputs.Now, "test") }), second);
        second.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        _opa.Release();

        Assert.Equal("opa says yes", first.ExpectMsg<PolicyReplies.Decided>().Decision.Reason);
        Assert.False(second.ExpectMsg<PolicyReplies.Decided>().Cached);
        pdp.Tell(new PolicyCommands.Decide(input));
        Assert.True(ExpectMsg<PolicyReplies.Decided>().Cached);
        Assert.Equal(1, _opa.Requests);
    }

    [Fact]
    public void A_failing_opa_is_answered_with_policy_unavailable()
    {
        var (pdp, cache) = Start(OpaHocon());
        _opa.Behaviour = OpaBehaviour.ServerError;
        pdp.Tell(new PolicyCommands.Decide(Invoke("developer", "github-mcp", "get_repo")));
        var unavailable = ExpectMsg<PolicyReplies.Unavailable>();
        Assert.Equal(SarkErrorCode.PolicyUnavailable, unavailable.Error.Code);
        Assert.Contains("OPA answered 500", unavailable.Error.Message, StringComparison.Ordinal);
        Assert.Equal(0, cache.Count);
    }

    [Fact]
    public void A_decision_made_under_the_old_policy_is_not_cached_after_a_reload()
    {
        var (pdp, cache) = Start(OpaHocon());
        _opa.Hold();
        var input = Invoke("developer", "github-mcp", "get_repo");
        pdp.Tell(new PolicyCommands.Decide(input));
        AwaitCondition(() => _opa.Requests == 1);

        pdp.Tell(new PolicyCommands.Reload(PolicyOptions.Parse(OpaHocon())));
        ExpectMsg<PolicyReplies.Reloaded>();
        _opa.Release();

        Assert.True(ExpectMsg<PolicyReplies.Decided>().Decision.Allow);
        Assert.Equal(0, cache.Count);
        pdp.Tell(new PolicyCommands.Decide(input));
        Assert.False(ExpectMsg<PolicyReplies.Decided>().Cached);
        Assert.Equal(2, _opa.Requests);
    }

    [Fact]
    public void Reload_can_switch_from_the_embedded_engine_to_opa()
    {
        var (pdp, _) = Start(Rules);
        pdp.Tell(new PolicyCommands.Reload(PolicyOptions.Parse(OpaHocon())));
        Assert.Equal("opa", ExpectMsg<PolicyReplies.Reloaded>().Engine);
        _opa.Result = "false";
        pdp.Tell(new PolicyCommands.Decide(Invoke("developer", "github-mcp", "get_repo")));
        Assert.Equal("Denied by the OPA policy.", ExpectMsg<PolicyReplies.Decided>().Decision.Reason);
        Assert.Equal(1, _opa.Requests);
    }
}

/// <summary>The facade's side: cache hits without a message, Ask otherwise, fail closed.</summary>
public sealed class PolicyGateSpecs : TestKit
{
    private readonly FakeClock _clock = new();

    [Fact]
    public async Task A_cache_hit_is_answered_without_a_message()
    {
        var pdp = CreateTestProbe();
        var cache = new DecisionCache(_clock);
        var gate = new PolicyGate(pdp, cache, TimeSpan.FromSeconds(2));
        var input = Invoke("developer", "github-mcp", "get_repo", """{"b":1,"a":2}""");
        var allow = PolicyDecision.Allowed("cached", TimeSpan.FromSeconds(60));
        cache.Set(DecisionKey.For(input), allow, cache.Generation, "embedded");

        var pending = gate.DecideAsync(input with { Parameters = Json("""{"a":2,"b":1}""") });

        Assert.True(pending.IsCompletedSuccessfully);
        Assert.Same(allow, await pending);
        pdp.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public async Task A_miss_asks_the_decision_point_with_the_cache_key()
    {
        var pdp = CreateTestProbe();
        var gate = new PolicyGate(pdp, new DecisionCache(_clock), TimeSpan.FromSeconds(2));
        var input = Invoke("developer", "github-mcp", "get_repo", """{"a":1}""");
        var hash = CanonicalJson.Hash(input.Parameters);

        var pending = gate.DecideAsync(input, hash).AsTask();
        var decide = pdp.ExpectMsg<PolicyCommands.Decide>();
        Assert.Equal(DecisionKey.For(input, hash), decide.CacheKey);
        pdp.Reply(new PolicyReplies.Decided(PolicyDecision.Denied("no"), false));

        Assert.Equal("no", (await pending).Reason);
    }

    [Fact]
    public async Task A_policy_that_never_reads_arguments_serves_every_call_of_a_tool_from_one_decision()
    {
        var cache = new DecisionCache(_clock);
        var pdp = Sys.ActorOf(PolicyDecisionPoint.Props(
            PolicyOptions.Parse("sark.policy.embedded.rules = [ { name = devs, effect = allow, roles = [developer], cache-ttl = 60s } ]"), cache));
        var gate = new PolicyGate(pdp, cache, TimeSpan.FromSeconds(2));
        await AwaitAssertAsync(() => Assert.False(cache.KeysArguments), TimeSpan.FromSeconds(3));

        var first = await gate.DecideAsync(Invoke("developer", "github-mcp", "get_repo", """{"message":"one"}"""));
        var second = gate.DecideAsync(Invoke("developer", "github-mcp", "get_repo", """{"message":"two"}"""));

        Assert.True(first.Allow);
        Assert.True(second.IsCompletedSuccessfully, "the second call, with other arguments, was not a cache hit");
        Assert.Same(first, await second);
        Assert.Equal(1, cache.Count);
    }

    [Fact]
    public async Task A_policy_that_reads_arguments_decides_calls_with_other_arguments_apart()
    {
        var cache = new DecisionCache(_clock);
        var pdp = Sys.ActorOf(PolicyDecisionPoint.Props(PolicyOptions.Parse("""
            sark.policy.embedded.rules = [
              { name = devs, effect = allow, roles = [developer], cache-ttl = 60s, arguments { deny-if-matches { "message" = "secret" } } }
            ]
            """), cache));
        var gate = new PolicyGate(pdp, cache, TimeSpan.FromSeconds(2));

        var plain = await gate.DecideAsync(Invoke("developer", "github-mcp", "get_repo", """{"message":"one"}"""));
        var secret = await gate.DecideAsync(Invoke("developer", "github-mcp", "get_repo", """{"message":"my secret"}"""));

        Assert.True(cache.KeysArguments);
        Assert.True(plain.Allow);
        Assert.False(secret.Allow);
    }

    [Fact]
    public void A_key_made_without_arguments_is_not_stored_while_the_policy_reads_them()
    {
        var cache = new DecisionCache(_clock);
        var input = Invoke("developer", "s", "t", """{"a":1}""");
        var allow = PolicyDecision.Allowed("ok", TimeSpan.FromSeconds(60));

        Assert.True(cache.KeysArguments);
        Assert.False(cache.Set(DecisionKey.For(input, DecisionKey.ArgumentsIgnored), allow, cache.Generation, "embedded"));
        Assert.True(cache.Set(DecisionKey.For(input), allow, cache.Generation, "embedded"));
    }

    [Fact]
    public async Task An_unavailable_policy_throws_policy_unavailable_with_the_request_id()
    {
        var pdp = CreateTestProbe();
        var gate = new PolicyGate(pdp, new DecisionCache(_clock), TimeSpan.FromSeconds(2));
        var pending = gate.DecideAsync(Invoke("developer", "s", "t")).AsTask();
        pdp.ExpectMsg<PolicyCommands.Decide>();
        pdp.Reply(new PolicyReplies.Unavailable(new SarkError(SarkErrorCode.PolicyUnavailable, "OPA is down")));

        var ex = await Assert.ThrowsAsync<PolicyUnavailableException>(() => pending);
        Assert.Equal(SarkErrorCode.PolicyUnavailable, ex.Code);
        Assert.Equal("OPA is down", ex.Message);
        Assert.Equal("req-1", ex.RequestId);
    }

    [Fact]
    public async Task A_decision_point_that_does_not_answer_fails_closed_at_the_timeout()
    {
        var pdp = CreateTestProbe();
        var gate = new PolicyGate(pdp, new DecisionCache(_clock), TimeSpan.FromMilliseconds(200));
        var ex = await Assert.ThrowsAsync<PolicyUnavailableException>(() => gate.DecideAsync(Invoke("developer", "s", "t")).AsTask());
        Assert.Contains("did not decide within 0.2s", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Decisions_are_counted_with_engine_action_decision_and_cached_tags()
    {
        var measurements = new List<(long Value, Dictionary<string, object?> Tags)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Name == "sark.policy.decisions")
                l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            var map = new Dictionary<string, object?>();
            foreach (var tag in tags)
                map[tag.Key] = tag.Value;
            if (map.TryGetValue("engine", out var engine) && (string?)engine == "spec-engine")
                lock (measurements)
                    measurements.Add((value, map));
        });
        listener.Start();

        var cache = new DecisionCache(_clock);
        var gate = new PolicyGate(CreateTestProbe(), cache, TimeSpan.FromSeconds(2));
        var input = Invoke("developer", "s", "t");
        cache.Set(DecisionKey.For(input), PolicyDecision.Allowed("ok", TimeSpan.FromSeconds(5)), cache.Generation, "spec-engine");
        await gate.DecideAsync(input);

        var (count, tags) = Assert.Single(measurements);
        Assert.Equal(1, count);
        Assert.Equal("tool:invoke", tags["action"]);
        Assert.Equal("allow", tags["decision"]);
        Assert.Equal("true", tags["cached"]);
    }
}
