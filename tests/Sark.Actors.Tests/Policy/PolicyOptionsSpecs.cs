using Sark.Actors.Configuration;
using Sark.Actors.Policy;

namespace Sark.Actors.Tests.Policy;

public sealed class PolicyOptionsSpecs
{
    [Fact]
    public void The_defaults_are_the_embedded_engine_denying_everything()
    {
        var options = PolicyOptions.Parse("");
        Assert.Equal(PolicyEngineKind.Embedded, options.Engine);
        Assert.Equal(PolicyEffect.Deny, options.Embedded.Default);
        Assert.Empty(options.Embedded.Rules);
        Assert.Equal(TimeSpan.FromSeconds(60), options.DefaultCacheTtl);
        Assert.Equal(10_000, options.CacheMaxEntries);
        Assert.Equal(TimeSpan.FromSeconds(1), options.Opa.Timeout);
        Assert.Equal(new Uri("http://127.0.0.1:8181/v1/data/sark/authz/decision"), options.Opa.DataUri);
    }

    [Fact]
    public void A_full_rule_is_read_with_every_key()
    {
        var options = PolicyOptions.Parse(""""
            sark.policy {
              engine = opa
              opa { url = "http://opa.local:9000/", path = "/mcp/gateway/decision/", timeout = 250ms }
              embedded.rules = [
                {
                  name = r1, effect = deny, subjects = ["svc-*"], roles = [a], except-roles = [b], teams = [t],
                  actions = ["tool:*"], servers = ["s*"], tools = [x], max-sensitivity = high, min-sensitivity = low,
                  cache-ttl = 15s, reason = "because"
                  arguments {
                    deny-if-matches { "query" = """^drop""" }
                    remove = [password], redact = [token]
                  }
                }
              ]
            }
            """");
        Assert.Equal(PolicyEngineKind.Opa, options.Engine);
        Assert.Equal(new Uri("http://opa.local:9000/v1/data/mcp/gateway/decision"), options.Opa.DataUri);
        Assert.Equal(TimeSpan.FromMilliseconds(250), options.Opa.Timeout);
        var rule = Assert.Single(options.Embedded.Rules);
        Assert.Equal(PolicyEffect.Deny, rule.Effect);
        Assert.Equal("svc-*", rule.Subjects[0].Pattern);
        Assert.Equal(["a"], rule.Roles.Select(g => g.Pattern));
        Assert.Equal(["b"], rule.ExceptRoles.Select(g => g.Pattern));
        Assert.Equal(Sensitivity.High, rule.MaxSensitivity);
        Assert.Equal(Sensitivity.Low, rule.MinSensitivity);
        Assert.Equal(TimeSpan.FromSeconds(15), rule.CacheTtl);
        Assert.Equal("because", rule.Reason);
        Assert.Equal("query", rule.Arguments.DenyIfMatches[0].Key);
        Assert.Matches(rule.Arguments.DenyIfMatches[0].Pattern, "drop table");
        Assert.Equal<string>(["password"], rule.Arguments.Remove);
        Assert.Equal<string>(["token"], rule.Arguments.Redact);
    }

    [Theory]
    [InlineData("sark.policy.engine = rego", "sark.policy.engine: 'rego'")]
    [InlineData("sark.policy.default-cache-ttl = soon", "sark.policy.default-cache-ttl:")]
    [InlineData("sark.policy.opa.url = \"ftp://x\"", "sark.policy.opa.url:")]
    [InlineData("sark.policy.opa.path = \"a b\"", "sark.policy.opa.path:")]
    [InlineData("sark.policy.opa.timeout = 0s", "sark.policy.opa.timeout: must be more than zero")]
    [InlineData("sark.policy.embedded.default = maybe", "sark.policy.embedded.default: 'maybe' must be allow or deny")]
    [InlineData("sark.policy.embedded.rules = { a = 1 }", "sark.policy.embedded.rules: must be a list")]
    [InlineData("sark.policy.embedded.rules = [ { effect = allow } ]", "sark.policy.embedded.rules[0].name: missing")]
    [InlineData("sark.policy.embedded.rules = [ { name = a } ]", "sark.policy.embedded.rules[0] ('a').effect: missing")]
    [InlineData("sark.policy.embedded.rules = [ { name = a, effect = permit } ]", "('a').effect: 'permit' must be allow or deny")]
    [InlineData("sark.policy.embedded.rules = [ { name = a, effect = allow }, { name = a, effect = deny } ]", "rules[1] ('a').name: another rule has the same name")]
    [InlineData("sark.policy.embedded.rules = [ { name = a, effect = allow, role = [admin] } ]", "('a').role: not a rule key")]
    [InlineData("sark.policy.embedded.rules = [ { name = a, effect = allow, roles = admin } ]", "('a').roles: must be a list of strings")]
    [InlineData("sark.policy.embedded.rules = [ { name = a, effect = allow, actions = [\"tool:call\"] } ]", "('a').actions: 'tool:call' matches none")]
    [InlineData("sark.policy.embedded.rules = [ { name = a, effect = allow, max-sensitivity = secret } ]", "('a').max-sensitivity: 'secret'")]
    [InlineData("sark.policy.embedded.rules = [ { name = a, effect = allow, min-sensitivity = high, max-sensitivity = low } ]", "('a').min-sensitivity: must not be above")]
    [InlineData("sark.policy.embedded.rules = [ { name = a, effect = allow, cache-ttl = -1s } ]", "('a').cache-ttl:")]
    [InlineData("sark.policy.embedded.rules = [ { name = a, effect = allow, arguments { deny-if-matches { q = \"(\" } } } ]", "('a').arguments.deny-if-matches.q: not a valid regular expression")]
    [InlineData("sark.policy.embedded.rules = [ { name = a, effect = allow, arguments { strip = [x] } } ]", "('a').arguments.strip: not a key here")]
    [InlineData("sark.policy.embedded.filters { deny-if-matches { q = x } }", "sark.policy.embedded.filters.deny-if-matches: not a key here")]
    [InlineData("sark.policy.embedded.filters { remove = [\"\"] }", "sark.policy.embedded.filters.remove: must not contain empty strings")]
    [InlineData("sark.policy.cache-max-entries = 3", "sark.policy.cache-max-entries: '3' must be a whole number")]
    public void A_bad_value_fails_with_an_error_that_names_the_key(string hocon, string expected)
    {
        var ex = Assert.Throws<SarkConfigException>(() => PolicyOptions.Parse(hocon));
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_shipped_example_parses()
    {
        var options = PolicyOptions.Parse(File.ReadAllText(PolicyTestInputs.HoconFile("policy-example.conf")));
        Assert.Equal(6, options.Embedded.Rules.Length);
        Assert.Equal<string>(["password", "secret", "api_key"], options.Embedded.Filters.Remove);
    }
}
