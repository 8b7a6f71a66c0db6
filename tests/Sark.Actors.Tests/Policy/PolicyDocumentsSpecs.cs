using System.Text.Json;
using Sark.Actors.Policy;
using static Sark.Actors.Tests.Policy.PolicyTestInputs;

namespace Sark.Actors.Tests.Policy;

public sealed class PolicyDocumentsSpecs
{
    [Fact]
    public void The_input_document_has_the_snake_case_shape_of_the_design_and_no_token()
    {
        var caller = new Caller("alice", ["analyst"], ["data"]) { BearerToken = "eyJhbGciOiJIUzI1NiJ9.secret.sig", AuthMethod = "jwt" };
        var input = PolicyInput.ForInvoke(caller, "postgres-mcp", "high", "execute_query", "critical", Json("""{"query":"select 1"}"""), "req-9", Now, "mcp");

        var json = JsonSerializer.Serialize(new OpaRequest(input), PolicyJsonContext.Default.OpaRequest);

        Assert.Equal(
            """{"input":{"subject":{"id":"alice","roles":["analyst"],"teams":["data"]},"action":"tool:invoke","server":{"name":"postgres-mcp","sensitivity":"high"},"tool":{"name":"execute_query","sensitivity":"critical"},"parameters":{"query":"select 1"},"context":{"request_id":"req-9","timestamp":"2025-01-02T03:04:05+00:00","source":"mcp"}}}""",
            json);
        Assert.DoesNotContain("eyJ", json, StringComparison.Ordinal);
        Assert.DoesNotContain("jwt", json, StringComparison.Ordinal);
    }

    [Fact]
    public void A_tool_call_without_arguments_sends_an_empty_object_and_a_listing_sends_none()
    {
        var invoke = PolicyInput.ForInvoke(Caller("a"), "s", "low", "t", "low", null, "r", Now, "rest");
        Assert.Equal("{}", invoke.Parameters!.Value.GetRawText());
        var list = JsonSerializer.Serialize(ListServer(Caller("a"), "s"), PolicyJsonContext.Default.PolicyInput);
        Assert.DoesNotContain("parameters", list, StringComparison.Ordinal);
        Assert.DoesNotContain("\"tool\"", list, StringComparison.Ordinal);
    }

    [Fact]
    public void The_inputs_built_from_catalog_records_carry_their_sensitivity()
    {
        var server = new ServerInfo("id", "github-mcp", "http://x/", "high", [], "healthy", 1, "reg", "gateway", null, null, null, null);
        var tool = new ToolInfo("get_repo", "github-mcp", "", "low", [], [], [], null);
        var invoke = PolicyInput.ForInvoke(Caller.Local, server, tool, null, "r", Now, "library");
        Assert.Equal(new PolicyServer("github-mcp", "high"), invoke.Server);
        Assert.Equal(new PolicyTool("get_repo", "low"), invoke.Tool);
        Assert.Equal(PolicyActions.ToolList, PolicyInput.ForToolList(Caller.Local, server, tool, "r", Now, "library").Action);
        Assert.Null(PolicyInput.ForServerList(Caller.Local, server, "r", Now, "library").Tool);
    }

    [Fact]
    public void A_decision_writes_cache_ttl_in_seconds_and_leaves_out_absent_fields()
    {
        var allow = JsonSerializer.Serialize(PolicyDecision.Allowed("ok", TimeSpan.FromSeconds(30)), PolicyJsonContext.Default.PolicyDecision);
        Assert.Equal("""{"allow":true,"reason":"ok","cache_ttl":30}""", allow);
        var filtered = PolicyDecision.Allowed("ok", TimeSpan.FromMilliseconds(1500), Json("{}"));
        Assert.Equal("""{"allow":true,"reason":"ok","filtered_parameters":{},"cache_ttl":1.5}""",
            JsonSerializer.Serialize(filtered, PolicyJsonContext.Default.PolicyDecision));
        var back = JsonSerializer.Deserialize("""{"allow":false,"reason":"no","audit_id":"a1","cache_ttl":2}""", PolicyJsonContext.Default.PolicyDecision)!;
        Assert.Equal(PolicyDecision.Denied("no", TimeSpan.FromSeconds(2)) with { AuditId = "a1" }, back);
    }
}
