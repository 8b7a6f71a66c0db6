using System.Text.Json;
using Sark.Actors.Policy;
using static Sark.Actors.Tests.Policy.PolicyTestInputs;

namespace Sark.Actors.Tests.Policy;

public sealed class EmbeddedPolicyEngineSpecs
{
    [Fact]
    public void Deny_overrides_allow_whatever_the_order_of_the_rules()
    {
        const string allowFirst = """
            rules = [
              { name = ops-all, effect = allow, roles = [ops] }
              { name = no-shell, effect = deny, tools = [shell] }
            ]
            """;
        const string denyFirst = """
            rules = [
              { name = no-shell, effect = deny, tools = [shell] }
              { name = ops-all, effect = allow, roles = [ops] }
            ]
            """;
        foreach (var rules in new[] { allowFirst, denyFirst })
        {
            var engine = Engine(rules);
            var denied = engine.Evaluate(Invoke("ops", "box", "shell"));
            Assert.False(denied.Allow);
            Assert.Contains("no-shell", denied.Reason, StringComparison.Ordinal);
            Assert.True(engine.Evaluate(Invoke("ops", "box", "ls")).Allow);
        }
    }

    [Fact]
    public void Nothing_is_allowed_without_a_matching_rule_and_the_default_deny_is_not_cached()
    {
        var decision = Engine("rules = [ { name = a, effect = allow, roles = [admin] } ]").Evaluate(Invoke("guest", "s", "t"));
        Assert.False(decision.Allow);
        Assert.Equal(TimeSpan.Zero, decision.CacheTtl);
        Assert.Contains("No policy rule allows tool:invoke of 't' on 's'", decision.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_default_of_allow_allows_with_the_default_ttl_and_still_applies_denies()
    {
        var engine = Engine("default = allow, rules = [ { name = no-rm, effect = deny, tools = [rm] } ]");
        var allowed = engine.Evaluate(Invoke("anyone", "s", "ls"));
        Assert.True(allowed.Allow);
        Assert.Equal(TimeSpan.FromSeconds(60), allowed.CacheTtl);
        Assert.False(engine.Evaluate(Invoke("anyone", "s", "rm")).Allow);
    }

    [Fact]
    public void A_deny_is_cached_only_for_the_ttl_its_rule_gives()
    {
        var engine = Engine("""
            rules = [
              { name = blocked-user, effect = deny, subjects = [mallory], cache-ttl = 30s }
              { name = no-rm, effect = deny, tools = [rm] }
              { name = all, effect = allow, cache-ttl = 5s }
            ]
            """);
        Assert.Equal(TimeSpan.FromSeconds(30), engine.Evaluate(Invoke(Caller("mallory"), "s", "ls")).CacheTtl);
        var rm = engine.Evaluate(Invoke(Caller("alice"), "s", "rm"));
        Assert.False(rm.Allow);
        Assert.Equal(TimeSpan.Zero, rm.CacheTtl);
        Assert.Equal(TimeSpan.FromSeconds(5), engine.Evaluate(Invoke(Caller("alice"), "s", "ls")).CacheTtl);
    }

    [Fact]
    public void The_shortest_ttl_of_the_allowing_rules_wins_and_the_first_gives_the_reason()
    {
        var engine = Engine("""
            rules = [
              { name = by-role, effect = allow, roles = [dev], cache-ttl = 120s }
              { name = by-team, effect = allow, reason = "team rule", cache-ttl = 10s }
            ]
            """);
        var decision = engine.Evaluate(Invoke("dev", "s", "t"));
        Assert.Equal("Allowed by rule 'by-role'.", decision.Reason);
        Assert.Equal(TimeSpan.FromSeconds(10), decision.CacheTtl);
    }

    [Fact]
    public void Every_selector_of_a_rule_must_match()
    {
        var engine = Engine("""
            rules = [ { name = narrow, effect = allow, subjects = ["svc-*"], roles = [dev], teams = [blue], actions = ["tool:invoke"], servers = ["git*"], tools = ["get_?"] } ]
            """);
        PolicyInput With(string id = "svc-1", string role = "dev", string team = "blue", string server = "github", string tool = "get_x") =>
            PolicyInput.ForInvoke(new Caller(id, [role], [team]), server, "low", tool, "low", null, "r", Now, "test");

        Assert.True(engine.Evaluate(With()).Allow);
        Assert.False(engine.Evaluate(With(id: "user-1")).Allow);
        Assert.False(engine.Evaluate(With(role: "ops")).Allow);
        Assert.False(engine.Evaluate(With(team: "red")).Allow);
        Assert.True(engine.Evaluate(With(server: "gitlab")).Allow);
        Assert.False(engine.Evaluate(With(server: "hub")).Allow);
        Assert.False(engine.Evaluate(With(tool: "get_xy")).Allow);
        Assert.False(engine.Evaluate(ListTool(new Caller("svc-1", ["dev"], ["blue"]), "github", "get_x")).Allow);
    }

    [Fact]
    public void Except_roles_exempts_a_caller_holding_any_of_them_even_with_other_roles()
    {
        var engine = Engine("""
            rules = [
              { name = all, effect = allow }
              { name = no-close, effect = deny, except-roles = [admin], tools = [close_issue] }
            ]
            """);
        Assert.False(engine.Evaluate(Invoke(Caller("d", "developer"), "gh", "close_issue")).Allow);
        Assert.True(engine.Evaluate(Invoke(Caller("a", "developer", "admin"), "gh", "close_issue")).Allow);
        Assert.False(engine.Evaluate(Invoke(Caller("nobody"), "gh", "close_issue")).Allow);
    }

    [Theory]
    [InlineData("low", "low", true)]
    [InlineData("medium", "high", true)]
    [InlineData("high", "low", true)]
    [InlineData("critical", "low", false)]
    [InlineData("low", "critical", false)]
    [InlineData("bogus", "low", false)]
    [InlineData("low", "", false)]
    public void A_sensitivity_ceiling_applies_to_the_stricter_of_server_and_tool(string serverLevel, string toolLevel, bool allowed)
    {
        var engine = Engine("rules = [ { name = analysts-up-to-high, effect = allow, roles = [analyst], max-sensitivity = high } ]");
        var decision = engine.Evaluate(Invoke(Caller("a", "analyst"), "s", "t", null, serverLevel, toolLevel));
        Assert.Equal(allowed, decision.Allow);
    }

    [Fact]
    public void A_minimum_sensitivity_scopes_a_deny_to_sensitive_tools()
    {
        var engine = Engine("""
            rules = [
              { name = all, effect = allow }
              { name = contractors-not-critical, effect = deny, roles = [contractor], min-sensitivity = critical }
            ]
            """);
        Assert.True(engine.Evaluate(Invoke(Caller("c", "contractor"), "s", "t", null, "low", "high")).Allow);
        Assert.False(engine.Evaluate(Invoke(Caller("c", "contractor"), "s", "t", null, "low", "critical")).Allow);
    }

    [Fact]
    public void Deny_if_matches_denies_on_an_argument_at_any_depth_and_names_the_key_not_the_value()
    {
        var engine = Engine("""
            rules = [ { name = sql, effect = allow, arguments { deny-if-matches { "query" = "(?i)drop" } } } ]
            """);
        Assert.True(engine.Evaluate(Invoke("x", "db", "q", """{"query":"select 1"}""")).Allow);
        var top = engine.Evaluate(Invoke("x", "db", "q", """{"query":"DROP TABLE secret_stuff"}"""));
        Assert.False(top.Allow);
        Assert.Contains("'query'", top.Reason, StringComparison.Ordinal);
        Assert.DoesNotContain("secret_stuff", top.Reason, StringComparison.Ordinal);
        Assert.False(engine.Evaluate(Invoke("x", "db", "q", """{"batch":[{"Query":"drop x"}]}""")).Allow);
        Assert.False(engine.Evaluate(Invoke("x", "db", "q", """{"options":{"query":"drop"}}""")).Allow);
    }

    [Fact]
    public void Deny_if_matches_tests_non_string_values_by_their_json_text()
    {
        var engine = Engine("""rules = [ { name = limits, effect = allow, arguments { deny-if-matches { "limit" = "^[0-9]{4,}$" } } } ]""");
        Assert.True(engine.Evaluate(Invoke("x", "s", "t", """{"limit":100}""")).Allow);
        Assert.False(engine.Evaluate(Invoke("x", "s", "t", """{"limit":10000}""")).Allow);
    }

    [Fact]
    public void A_deny_rule_with_argument_patterns_denies_only_the_calls_that_match()
    {
        var engine = Engine("""
            rules = [
              { name = all, effect = allow }
              { name = no-rm-rf, effect = deny, arguments { deny-if-matches { "cmd" = "rm\\s+-rf" } } }
            ]
            """);
        Assert.True(engine.Evaluate(Invoke("x", "box", "sh", """{"cmd":"ls -la"}""")).Allow);
        Assert.False(engine.Evaluate(Invoke("x", "box", "sh", """{"cmd":"rm  -rf /"}""")).Allow);
        // Listing has no arguments: the tool stays visible.
        Assert.True(engine.Evaluate(ListTool(Caller("x"), "box", "sh")).Allow);
    }

    [Fact]
    public void A_regex_that_runs_too_long_denies_the_call()
    {
        var engine = Engine("""rules = [ { name = redos, effect = allow, arguments { deny-if-matches { "q" = "^(a+)+$" } } } ]""");
        var decision = engine.Evaluate(Invoke("x", "s", "t", "{\"q\":\"" + new string('a', 40) + "!\"}"));
        Assert.False(decision.Allow);
        Assert.Contains("could not be checked in time", decision.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Remove_and_redact_filter_nested_keys_case_insensitively()
    {
        var engine = Engine("""
            rules = [ { name = all, effect = allow, arguments { redact = [token] } } ]
            filters { remove = [password] }
            """);
        var decision = engine.Evaluate(Invoke("x", "s", "t",
            """{"user":"bob","Password":"p","nested":{"token":"t","deeper":[{"PASSWORD":"q","keep":1}]},"token":{"a":1}}"""));
        Assert.True(decision.Allow);
        Assert.NotNull(decision.FilteredParameters);
        Assert.Equal(
            """{"user":"bob","nested":{"token":"[REDACTED]","deeper":[{"keep":1}]},"token":"[REDACTED]"}""",
            decision.FilteredParameters!.Value.GetRawText());
    }

    [Fact]
    public void Filtered_parameters_are_absent_when_no_filter_changed_anything()
    {
        var engine = Engine("filters = { remove = [password], redact = [secret] }, rules = [ { name = all, effect = allow } ]");
        Assert.Null(engine.Evaluate(Invoke("x", "s", "t", """{"query":"select 1"}""")).FilteredParameters);
        Assert.Null(engine.Evaluate(Invoke("x", "s", "t")).FilteredParameters);
    }

    [Fact]
    public void Filtered_parameters_are_present_and_empty_when_every_key_was_removed()
    {
        var engine = Engine("filters = { remove = [password] }, rules = [ { name = all, effect = allow } ]");
        var decision = engine.Evaluate(Invoke("x", "s", "t", """{"password":"hunter2"}"""));
        Assert.Equal(JsonValueKind.Object, decision.FilteredParameters!.Value.ValueKind);
        Assert.Equal("{}", decision.FilteredParameters.Value.GetRawText());
        Assert.Equal("{}", decision.EffectiveArguments(Json("""{"password":"hunter2"}""")).GetValueOrDefault().GetRawText());
    }

    [Fact]
    public void Remove_wins_over_redact_for_the_same_key()
    {
        var engine = Engine("rules = [ { name = a, effect = allow, arguments { redact = [k] } }, { name = b, effect = allow, arguments { remove = [k] } } ]");
        Assert.Equal("{}", engine.Evaluate(Invoke("x", "s", "t", """{"k":1}""")).FilteredParameters!.Value.GetRawText());
    }

    [Fact]
    public void Listings_use_the_same_rules_so_a_caller_sees_only_what_it_may_call()
    {
        var engine = Engine("""
            rules = [
              { name = dev-github, effect = allow, roles = [developer], servers = [github-mcp], tools = [get_repo, create_issue] }
              { name = no-issues, effect = deny, roles = [intern], tools = [create_issue] }
              { name = no-secret-server, effect = deny, servers = [vault] }
            ]
            """);
        var dev = Caller("d", "developer");
        Assert.True(engine.Evaluate(ListTool(dev, "github-mcp", "get_repo")).Allow);
        Assert.False(engine.Evaluate(ListTool(dev, "github-mcp", "delete_repo")).Allow);
        Assert.True(engine.Evaluate(ListServer(dev, "github-mcp")).Allow);
        Assert.False(engine.Evaluate(ListServer(dev, "postgres-mcp")).Allow);
        var intern = Caller("i", "developer", "intern");
        Assert.False(engine.Evaluate(ListTool(intern, "github-mcp", "create_issue")).Allow);
        // A deny scoped to some tools does not hide the whole server...
        Assert.True(engine.Evaluate(ListServer(intern, "github-mcp")).Allow);
        // ...but a deny of the server does.
        Assert.False(engine.Evaluate(ListServer(Caller("root", "developer"), "vault")).Allow);
    }

    [Fact]
    public void An_unknown_action_is_denied_with_the_list_of_actions()
    {
        var input = Invoke("x", "s", "t") with { Action = "gateway:tool:invoke" };
        var decision = Engine("default = allow").Evaluate(input);
        Assert.False(decision.Allow);
        Assert.Contains("tool:invoke, tool:list, server:list, resource:read, prompt:get", decision.Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("resource:read", "demo://doc/1", true)]
    [InlineData("resource:read", "secret://key", false)]
    [InlineData("prompt:get", "demo://doc/1", false)]
    public void Resource_and_prompt_actions_match_their_uri_or_name_as_the_tool(string action, string item, bool allowed)
    {
        var input = Invoke("x", "s", item) with { Action = action, Parameters = null };
        var engine = Engine("""
            rules = [ { name = docs, effect = allow, actions = ["resource:read"], tools = ["demo://doc/*"] } ]
            """);

        Assert.Equal(allowed, engine.Evaluate(input).Allow);
    }

    [Fact]
    public void Many_rules_are_evaluated_without_a_stack_buffer()
    {
        var rules = string.Join(" ", Enumerable.Range(0, 100).Select(i => $"{{ name = r{i}, effect = allow, servers = [s{i}] }}"));
        var engine = Engine($"rules = [ {rules} ]");
        Assert.True(engine.Evaluate(Invoke("x", "s99", "t")).Allow);
        Assert.False(engine.Evaluate(Invoke("x", "s100", "t")).Allow);
    }
}
