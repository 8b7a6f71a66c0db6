using Sark.Actors.Configuration;

namespace Sark.Actors.Tests;

public sealed class ConfigSpecs
{
    [Fact]
    public void Reference_defaults_load_with_no_upstreams()
    {
        var options = SarkConfigLoader.Parse("");

        Assert.Empty(options.Upstreams);
        Assert.Equal("127.0.0.1:8080", options.Node.HttpBind);
        Assert.Equal(TimeSpan.FromSeconds(10), options.Node.ShutdownDrain);
    }

    [Fact]
    public void An_upstream_inherits_the_defaults_and_overrides_its_own_keys()
    {
        var options = SarkConfigLoader.Parse("""
            sark.upstreams.files {
              kind = mcp-stdio
              command = ["node", "server.js", "stdio"]
              env { TOKEN = "abc" }
              call-timeout = 5s
            }
            """, appDirectory: "/app");

        var files = options.Upstreams["files"];
        Assert.Equal(UpstreamKind.McpStdio, files.Kind);
        Assert.Equal(["node", "server.js", "stdio"], files.Command.ToArray());
        Assert.Equal("abc", files.Env["TOKEN"]);
        Assert.Equal(TimeSpan.FromSeconds(5), files.CallTimeout);
        Assert.Equal(TimeSpan.FromSeconds(15), files.InitTimeout);
        Assert.Equal(4 * 1024 * 1024, files.MaxMessageBytes);
        Assert.Equal(5, files.FailureThreshold);
        Assert.Contains("PATH", files.EnvAllowlist);
        Assert.False(files.RelayClientRequests);
    }

    [Fact]
    public void An_upstream_can_relay_client_requests()
    {
        var options = SarkConfigLoader.Parse("""
            sark.upstreams.files { kind = mcp-stdio, command = ["node", "server.js"], relay-client-requests = true }
            """, appDirectory: "/app");

        Assert.True(options.Upstreams["files"].RelayClientRequests);
    }

    [Fact]
    public void App_placeholder_in_a_command_is_the_node_folder()
    {
        var options = SarkConfigLoader.Parse("""sark.upstreams.demo { kind = mcp-stdio, command = ["dotnet", "{app}/Sark.DemoServer.dll"] }""", appDirectory: "/opt/sark");

        Assert.Equal("/opt/sark/Sark.DemoServer.dll", options.Upstreams["demo"].Command[1]);
    }

    [Fact]
    public void Upstreams_follow_their_own_event_streams_with_the_nodes_events_settings()
    {
        var options = SarkConfigLoader.Parse("""
            sark.events { read-timeout = 7s, max-event-size = 64KiB, backoff { min = 2s, max = 9s } }
            sark.upstreams.registry { kind = gateway, url = "http://127.0.0.1:1" }
            """);

        var events = options.Upstreams["registry"].Events;
        Assert.Equal(TimeSpan.FromSeconds(7), events.ReadTimeout);
        Assert.Equal(64 * 1024, events.MaxEventBytes);
        Assert.Equal(TimeSpan.FromSeconds(2), events.Backoff.Min);
        Assert.Equal(TimeSpan.FromSeconds(9), events.Backoff.Max);
        Assert.Same(options.Events, events);
    }

    [Fact]
    public void Secrets_come_from_the_environment()
    {
        Environment.SetEnvironmentVariable("SARK_SPEC_SECRET", "s3cret");
        var options = SarkConfigLoader.Parse("""sark.upstreams.demo { kind = mcp-stdio, command = ["x"], env { KEY = ${?SARK_SPEC_SECRET} } }""");

        Assert.Equal("s3cret", options.Upstreams["demo"].Env["KEY"]);
    }

    [Fact]
    public void An_unset_optional_secret_leaves_the_key_out()
    {
        Environment.SetEnvironmentVariable("SARK_SPEC_UNSET", null);
        var options = SarkConfigLoader.Parse("""sark.upstreams.demo { kind = mcp-stdio, command = ["x"], env { KEY = ${?SARK_SPEC_UNSET} } }""");

        Assert.False(options.Upstreams["demo"].Env.ContainsKey("KEY"));
    }

    [Theory]
    [InlineData("""sark.upstreams.x { kind = nope, command = ["a"] }""", "sark.upstreams.x.kind")]
    [InlineData("""sark.upstreams.x { command = ["a"] }""", "sark.upstreams.x.kind")]
    [InlineData("""sark.upstreams.x { kind = mcp-stdio }""", "sark.upstreams.x.command")]
    [InlineData("""sark.upstreams.x { kind = mcp-stdio, command = "a b" }""", "sark.upstreams.x.command")]
    [InlineData("""sark.upstreams.x { kind = mcp-stdio, command = ["a"], call-timeout = soon }""", "sark.upstreams.x.call-timeout")]
    [InlineData("""sark.upstreams.x { kind = mcp-stdio, command = ["a"], failure-threshold = 0 }""", "sark.upstreams.x.failure-threshold")]
    [InlineData("""sark.upstreams.x { kind = mcp-stdio, command = ["a"], max-message-size = lots }""", "sark.upstreams.x.max-message-size")]
    [InlineData("""sark.upstreams.x { kind = gateway }""", "sark.upstreams.x.url")]
    [InlineData("""sark.upstreams."bad name!" { kind = mcp-stdio, command = ["a"] }""", "sark.upstreams.bad name!")]
    [InlineData("""sark.node.http.bind = "localhost" """, "sark.node.http.bind")]
    public void An_invalid_config_fails_with_a_message_naming_the_key(string hocon, string key)
    {
        var ex = Assert.Throws<SarkConfigException>(() => SarkConfigLoader.Parse(hocon));

        Assert.Contains(key, ex.Message);
    }
}
