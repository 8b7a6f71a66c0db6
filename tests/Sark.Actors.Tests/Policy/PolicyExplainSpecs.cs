using Sark.Actors.Policy;
using static Sark.Actors.Tests.Policy.PolicyTestInputs;

namespace Sark.Actors.Tests.Policy;

/// <summary><see cref="EmbeddedPolicyEngine.Explain"/>: the ops console's <c>policy explain</c> names the deciding rule.</summary>
public sealed class PolicyExplainSpecs
{
    private const string Rules = """
        rules = [
          { name = devs-read, effect = allow, roles = [dev], tools = ["read*"] }
          { name = everyone-read, effect = allow, tools = ["read*"] }
          { name = no-shell, effect = deny, tools = [shell] }
          { name = guarded-query, effect = allow, roles = [dev], tools = [query], arguments { deny-if-matches { sql = "(?i)drop" } } }
        ]
        """;

    [Fact]
    public void An_allow_names_the_first_allowing_rule()
    {
        var explained = Engine(Rules).Explain(Invoke("dev", "db", "read_rows"));

        Assert.True(explained.Decision.Allow);
        Assert.Equal("devs-read", explained.Rule);
        Assert.Equal("embedded", explained.Engine);
    }

    [Fact]
    public void A_deny_names_the_deny_rule_that_won_over_the_allows()
    {
        var explained = Engine(Rules + "\ndefault = allow").Explain(Invoke("dev", "box", "shell"));

        Assert.False(explained.Decision.Allow);
        Assert.Equal("no-shell", explained.Rule);
    }

    [Fact]
    public void A_deny_on_an_argument_names_the_rule_whose_pattern_matched()
    {
        var explained = Engine(Rules).Explain(Invoke("dev", "db", "query", """{"sql":"DROP TABLE x"}"""));

        Assert.False(explained.Decision.Allow);
        Assert.Equal("guarded-query", explained.Rule);
        Assert.Contains("sql", explained.Decision.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void No_matching_rule_names_the_default()
    {
        var explained = Engine(Rules).Explain(Invoke("guest", "db", "write_rows"));

        Assert.False(explained.Decision.Allow);
        Assert.Equal(EmbeddedPolicyEngine.DefaultRule, explained.Rule);
    }

    [Fact]
    public void Explain_decides_exactly_as_Evaluate()
    {
        var engine = Engine(Rules);
        foreach (var input in new[] { Invoke("dev", "db", "read_rows"), Invoke("guest", "db", "x"), Invoke("dev", "box", "shell"), Invoke("dev", "db", "query", """{"sql":"select 1"}""") })
            Assert.Equal(engine.Evaluate(input), engine.Explain(input).Decision);
    }
}
