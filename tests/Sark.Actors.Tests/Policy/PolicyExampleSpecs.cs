using Akka.Configuration;
using Sark.Actors.Configuration;
using Sark.Actors.Policy;
using static Sark.Actors.Tests.Policy.PolicyTestInputs;

namespace Sark.Actors.Tests.Policy;

/// <summary>
/// The original SARK policy's 14 YAML test cases (opa/policies/tests/gateway.yaml, listed in
/// sark-original-spec.md §10.12) against hocon/policy-example.conf, plus the bugs of §11 that
/// the port fixes (17: deny overrides allow; 8: an empty filter result is used as is).
/// </summary>
public sealed class PolicyExampleSpecs
{
    private static readonly Lazy<EmbeddedPolicyEngine> Example = new(() =>
    {
        var config = ConfigurationFactory.ParseString(File.ReadAllText(HoconFile("policy-example.conf")))
            .WithFallback(SarkConfigLoader.Defaults);
        return new EmbeddedPolicyEngine(PolicyOptions.Read(config));
    });

    private static PolicyDecision Decide(PolicyInput input) => Example.Value.Evaluate(input);

    public static TheoryData<string, string[], string, string, string?, bool> OriginalCases => new()
    {
        { "admin invokes postgres-mcp/execute_query with DROP TABLE users", ["admin"], "postgres-mcp", "execute_query", """{"query":"DROP TABLE users"}""", true },
        { "analyst: SELECT * FROM users WHERE id = 1", ["analyst"], "postgres-mcp", "execute_query", """{"query":"SELECT * FROM users WHERE id = 1"}""", true },
        { "analyst: DROP TABLE users", ["analyst"], "postgres-mcp", "execute_query", """{"query":"DROP TABLE users"}""", false },
        { "analyst: list_tables", ["analyst"], "postgres-mcp", "list_tables", "{}", true },
        { "analyst: describe_table", ["analyst"], "postgres-mcp", "describe_table", """{"table":"users"}""", true },
        { "analyst: execute_mutation (UPDATE)", ["analyst"], "postgres-mcp", "execute_mutation", """{"query":"UPDATE users SET name = 'x'"}""", false },
        { "developer: github-mcp/get_repo", ["developer"], "github-mcp", "get_repo", """{"repo":"sark"}""", true },
        { "developer: list_issues", ["developer"], "github-mcp", "list_issues", """{"repo":"sark"}""", true },
        { "developer: create_issue", ["developer"], "github-mcp", "create_issue", """{"repo":"sark","title":"bug"}""", true },
        { "developer: close_issue", ["developer"], "github-mcp", "close_issue", """{"repo":"sark","number":1}""", false },
        { "developer: delete_issue", ["developer"], "github-mcp", "delete_issue", """{"repo":"sark","number":1}""", false },
        { "guest: list_tables", ["guest"], "postgres-mcp", "list_tables", "{}", false },
        { "no roles: list_tables", [], "postgres-mcp", "list_tables", "{}", false },
    };

    [Theory]
    [MemberData(nameof(OriginalCases))]
    public void The_original_policy_cases_hold(string description, string[] roles, string server, string tool, string? args, bool allowed)
    {
        var decision = Decide(Invoke(Caller("user-1", roles), server, tool, args));
        Assert.True(allowed == decision.Allow, $"{description}: expected allow={allowed}, got {decision.Allow} ({decision.Reason})");
        Assert.Equal(allowed ? TimeSpan.FromSeconds(60) : TimeSpan.Zero, decision.CacheTtl);
    }

    [Fact]
    public void The_original_case_admin_server_access_on_github_is_a_server_listing_that_is_allowed()
    {
        // The original's gateway:server:access is server:list in the port's vocabulary (bug 20).
        Assert.True(Decide(ListServer(Caller("root", "admin"), "github-mcp")).Allow);
    }

    [Fact]
    public void Bug17_a_deny_overrides_an_allow_so_select_then_drop_is_denied_for_an_analyst()
    {
        var decision = Decide(Invoke(Caller("a", "analyst"), "postgres-mcp", "execute_query", """{"query":"select 1; drop table users"}"""));
        Assert.False(decision.Allow);
        Assert.Contains("Destructive SQL", decision.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Bug17_an_admin_who_also_holds_another_role_is_not_treated_as_a_non_admin()
    {
        Assert.True(Decide(Invoke(Caller("a", "developer", "admin"), "github-mcp", "close_issue", "{}")).Allow);
        Assert.True(Decide(Invoke(Caller("b", "analyst", "admin"), "postgres-mcp", "execute_query", """{"query":"TRUNCATE logs"}""")).Allow);
    }

    [Fact]
    public void Bug15_the_reason_of_a_decision_reaches_the_caller()
    {
        var decision = Decide(Invoke(Caller("d", "developer"), "github-mcp", "delete_issue", "{}"));
        Assert.Equal("Closing or deleting issues requires the admin role.", decision.Reason);
    }

    [Fact]
    public void The_password_secret_and_api_key_filter_removes_them_from_every_allowed_call()
    {
        var decision = Decide(Invoke(Caller("a", "analyst"), "postgres-mcp", "execute_query",
            """{"query":"select 1","password":"p","connection":{"secret":"s","Api_Key":"k","host":"db"}}"""));
        Assert.True(decision.Allow);
        Assert.Equal("""{"query":"select 1","connection":{"host":"db"}}""", decision.FilteredParameters!.Value.GetRawText());
    }

    [Fact]
    public void Bug8_arguments_that_were_all_filtered_out_are_sent_as_an_empty_object()
    {
        var decision = Decide(Invoke(Caller("d", "developer"), "github-mcp", "get_repo", """{"api_key":"k"}"""));
        Assert.True(decision.Allow);
        Assert.Equal("{}", decision.FilteredParameters!.Value.GetRawText());
    }

    [Fact]
    public void Listings_show_an_analyst_only_the_tools_it_may_call()
    {
        var analyst = Caller("a", "analyst");
        Assert.True(Decide(ListTool(analyst, "postgres-mcp", "execute_query")).Allow);
        Assert.True(Decide(ListTool(analyst, "postgres-mcp", "list_tables")).Allow);
        Assert.False(Decide(ListTool(analyst, "postgres-mcp", "execute_mutation")).Allow);
        Assert.False(Decide(ListTool(analyst, "github-mcp", "get_repo")).Allow);
        Assert.True(Decide(ListServer(analyst, "postgres-mcp")).Allow);
        Assert.False(Decide(ListServer(analyst, "github-mcp")).Allow);
    }
}
