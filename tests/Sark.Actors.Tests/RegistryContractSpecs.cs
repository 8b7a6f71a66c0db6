using System.Text;
using System.Text.Json;
using Sark.Actors.Upstreams.Gateway;

namespace Sark.Actors.Tests;

public sealed class RegistryContractSpecs
{
    private static ContractResult<ServerPage> Servers(string json) => RegistryContract.ParseServerPage(Encoding.UTF8.GetBytes(json), "corp-gateway");

    private static ContractResult<ToolPage> Tools(string json) => RegistryContract.ParseToolPage(Encoding.UTF8.GetBytes(json));

    [Fact]
    public void A_realistic_server_page_parses_and_maps_to_ServerInfo()
    {
        var page = Servers("""
            {
              "servers": [
                {
                  "server_id": "7f3c", "server_name": "postgres-prod", "server_url": "http://localhost:8080",
                  "sensitivity_level": "high", "authorized_teams": ["data", "sre"], "access_restrictions": null,
                  "health_status": "healthy", "tools_count": 12,
                  "created_at": "2026-01-02T03:04:05Z", "updated_at": "2026-02-03T04:05:06.5+00:00"
                },
                { "server_id": "8a1d", "server_name": "jira", "server_url": "https://jira.example.com/mcp",
                  "health_status": "degraded", "tools_count": 0 }
              ],
              "next_offset": 2,
              "total": 40
            }
            """);

        Assert.True(page.IsOk, page.Error);
        Assert.Equal(2, page.Value!.NextOffset);
        Assert.Equal(40, page.Value.Total);
        Assert.Equal(2, page.Value.Servers.Length);

        var pg = page.Value.Servers[0];
        Assert.Equal("7f3c", pg.ServerId);
        Assert.Equal("postgres-prod", pg.ServerName);
        Assert.Equal("http://localhost:8080/", pg.ServerUrl);
        Assert.Equal("high", pg.SensitivityLevel);
        Assert.Equal(["data", "sre"], pg.AuthorizedTeams.ToArray());
        Assert.Equal("healthy", pg.HealthStatus);
        Assert.Equal(12, pg.ToolsCount);
        Assert.Equal("corp-gateway", pg.Upstream);
        Assert.Equal("gateway", pg.Transport);
        Assert.Equal(new DateTimeOffset(2026, 2, 3, 4, 5, 6, 500, TimeSpan.Zero), pg.UpdatedAt);

        var jira = page.Value.Servers[1];
        Assert.Equal("medium", jira.SensitivityLevel);
        Assert.Empty(jira.AuthorizedTeams);
        Assert.Null(jira.UpdatedAt);
    }

    [Fact]
    public void A_realistic_tool_page_parses_with_parameters_and_defaults()
    {
        var page = Tools("""
            {"tools": [
              {"tool_name": "query", "server_name": "postgres-prod", "description": "Run SQL",
               "sensitivity_level": "critical",
               "parameters": [{"name": "sql", "type": "string", "required": true}, {"name": "timeout"}],
               "sensitive_params": ["sql"], "required_capabilities": ["db:read"]},
              {"tool_name": "ping", "server_name": "postgres-prod", "description": ""}
            ]}
            """);

        Assert.True(page.IsOk, page.Error);
        Assert.Null(page.Value!.NextOffset);
        Assert.Null(page.Value.Total);
        var query = page.Value.Tools[0];
        Assert.Equal("critical", query.SensitivityLevel);
        Assert.Equal([new ToolParameter("sql", "string", true, null), new ToolParameter("timeout", "any", false, null)], query.Parameters.ToArray());
        Assert.Equal(["sql"], query.SensitiveParams.ToArray());
        Assert.Equal(["db:read"], query.RequiredCapabilities.ToArray());
        var ping = page.Value.Tools[1];
        Assert.Equal("medium", ping.SensitivityLevel);
        Assert.Empty(ping.Parameters);
        Assert.Null(ping.InputSchema);
    }

    [Fact]
    public void Unknown_fields_are_ignored_at_every_level()
    {
        var page = Servers("""
            {"servers": [{"server_id": "1", "server_name": "a", "server_url": "http://a", "health_status": "healthy",
                          "tools_count": 1, "shard": 7, "labels": {"x": [1, 2]}}],
             "cursor": "opaque", "has_more": false}
            """);

        Assert.True(page.IsOk, page.Error);
        Assert.Equal("a", Assert.Single(page.Value!.Servers).ServerName);
    }

    [Fact]
    public void A_negative_tools_count_is_rejected_with_the_server_and_field_named()
    {
        var page = Servers("""
            {"servers": [{"server_id": "1", "server_name": "a", "server_url": "http://a", "health_status": "healthy", "tools_count": -1}]}
            """);

        Assert.False(page.IsOk);
        Assert.Contains("servers[0]", page.Error);
        Assert.Contains("'a'", page.Error);
        Assert.Contains("tools_count must be 0 or more, got -1", page.Error);
    }

    [Fact]
    public void A_missing_tools_count_is_rejected_because_it_is_required()
    {
        var page = Servers("""{"servers": [{"server_id": "1", "server_name": "a", "server_url": "http://a", "health_status": "healthy"}]}""");

        Assert.False(page.IsOk);
        Assert.Contains("tools_count is required", page.Error);
    }

    [Fact]
    public void A_server_url_that_is_not_an_absolute_http_url_is_rejected()
    {
        var page = Servers("""{"servers": [{"server_id": "1", "server_name": "a", "server_url": "not-a-url", "health_status": "healthy", "tools_count": 0}]}""");

        Assert.False(page.IsOk);
        Assert.Contains("server_url 'not-a-url' is not an absolute URI", page.Error);
    }

    [Fact]
    public void An_unknown_sensitivity_level_is_rejected()
    {
        var page = Tools("""{"tools": [{"tool_name": "t", "server_name": "s", "description": "d", "sensitivity_level": "extreme"}]}""");

        Assert.False(page.IsOk);
        Assert.Contains("sensitivity_level 'extreme'", page.Error);
    }

    [Fact]
    public void A_missing_servers_or_tools_key_counts_as_an_empty_page()
    {
        var servers = Servers("{}");
        var tools = Tools("""{"total": 0}""");

        Assert.True(servers.IsOk, servers.Error);
        Assert.Empty(servers.Value!.Servers);
        Assert.True(tools.IsOk, tools.Error);
        Assert.Empty(tools.Value!.Tools);
        Assert.Equal(0, tools.Value.Total);
    }

    [Theory]
    [InlineData("""{"servers": [""")]
    [InlineData("<html>502 Bad Gateway</html>")]
    [InlineData("")]
    public void Malformed_json_is_a_failure_with_a_message_not_an_exception(string body)
    {
        var page = Servers(body);

        Assert.False(page.IsOk);
        Assert.Null(page.Value);
        Assert.StartsWith("GET /api/v1/servers: the registry's answer is not the expected JSON", page.Error);
    }

    [Theory]
    [InlineData("""[{"server_id": "1"}]""")]
    [InlineData("""{"servers": "none"}""")]
    [InlineData("""{"servers": [{"server_id": "1", "tools_count": "many"}]}""")]
    public void A_body_of_the_wrong_shape_is_a_failure_with_a_message(string body)
    {
        var page = Servers(body);

        Assert.False(page.IsOk);
        Assert.Contains("not the expected JSON", page.Error);
    }

    [Fact]
    public void Json_null_is_a_failure_with_a_message()
    {
        var page = Tools("null");

        Assert.False(page.IsOk);
        Assert.Contains("JSON null", page.Error);
    }

    [Fact]
    public void A_negative_next_offset_is_rejected()
    {
        var page = Tools("""{"tools": [], "next_offset": -3}""");

        Assert.False(page.IsOk);
        Assert.Contains("next_offset must be 0 or more, got -3", page.Error);
    }

    [Fact]
    public void Page_fingerprints_follow_the_item_ids()
    {
        var one = Servers("""{"servers": [{"server_id": "1", "server_name": "a", "server_url": "http://a", "health_status": "ok", "tools_count": 0}]}""");
        var same = Servers("""{"servers": [{"server_id": "1", "server_name": "a", "server_url": "http://b", "health_status": "down", "tools_count": 3}]}""");
        var other = Servers("""{"servers": [{"server_id": "2", "server_name": "a", "server_url": "http://a", "health_status": "ok", "tools_count": 0}]}""");

        Assert.Equal(one.Value!.Fingerprint, same.Value!.Fingerprint);
        Assert.NotEqual(one.Value.Fingerprint, other.Value!.Fingerprint);
    }

    [Fact]
    public void The_invoke_request_is_written_in_snake_case_with_parameters_untouched()
    {
        using var parameters = JsonDocument.Parse("""{"sql": "select 1", "limit": 5}""");
        var body = JsonSerializer.Serialize(new InvokeRequestDto("postgres-prod", "query", parameters.RootElement), RegistryJsonContext.Default.InvokeRequestDto);

        Assert.Equal("""{"server":"postgres-prod","tool":"query","parameters":{"sql":"select 1","limit":5}}""", body);
    }

    [Fact]
    public void A_server_page_written_by_the_context_leaves_out_absent_paging_fields_and_reads_back()
    {
        var dto = new ServerPageDto([new ServerInfoDto("1", "a", "http://a/", null, null, null, "healthy", 0, null, null)]);
        var json = JsonSerializer.SerializeToUtf8Bytes(dto, RegistryJsonContext.Default.ServerPageDto);

        Assert.DoesNotContain("next_offset", Encoding.UTF8.GetString(json));
        var page = RegistryContract.ParseServerPage(json, "u");
        Assert.True(page.IsOk, page.Error);
        Assert.Equal("a", Assert.Single(page.Value!.Servers).ServerName);
    }
}
