using Sark.Actors.Configuration;
using Sark.Host.FrontDoor;

namespace Sark.Actors.Tests.FrontDoor;

/// <summary><c>sark.front-door</c> as <see cref="FrontDoorOptions"/> reads it (compiled in from Sark.Host).</summary>
public sealed class FrontDoorOptionsSpecs
{
    [Fact]
    public void The_defaults_serve_mcp_with_sessions_a_double_underscore_and_legacy_sse()
    {
        var options = FrontDoorOptions.Parse("");

        Assert.Equal((true, "/mcp", false, "__"), (options.Enabled, options.Path, options.Stateless, options.Separator));
        Assert.Empty(options.AllowedHosts);
        Assert.Empty(options.AllowedOrigins);
        Assert.Equal(1024 * 1024, options.MaxRequestBodyBytes);
        Assert.Equal(1000, options.MaxSessions);
        Assert.Equal(100, options.MaxSessionsPerCaller);
        Assert.Equal(500, options.PageSize);
        Assert.Equal(TimeSpan.FromMinutes(30), options.IdleTimeout);
        Assert.Equal(TimeSpan.FromSeconds(15), options.KeepAlive);
        Assert.Equal(TimeSpan.FromMinutes(5), options.ResumeWindow);
        Assert.False(options.ResumeCallStreams);
        Assert.True(options.LegacySse.Enabled);
        Assert.Equal(new DateTimeOffset(2027, 6, 30, 0, 0, 0, TimeSpan.Zero), options.LegacySse.Sunset);
        Assert.Equal(100, options.LegacySse.MaxSessions);
        Assert.Equal(TimeSpan.FromMinutes(10), options.LegacySse.IdleTimeout);
        Assert.Equal((100, 200), (options.LegacySse.MessagesPerSecond, options.LegacySse.MessagesBurst));
        Assert.Equal("https", options.LegacySse.MigrationGuide.Scheme);
    }

    [Fact]
    public void A_node_file_overrides_every_value()
    {
        var options = FrontDoorOptions.Parse("""
            sark.front-door {
              enabled = false, path = "/agents/", stateless = true, separator = "."
              allowed-hosts = ["Sark.Example.com", "[::1]"], allowed-origins = ["https://App.example.com:443", "*"]
              max-request-body = 64KiB, max-sessions = 5, max-sessions-per-caller = 2, page-size = 7, idle-timeout = 90s, keep-alive = 0s, resume-window = 0s
              legacy-sse { enabled = false, sunset = "2026-12-31", migration-guide = "https://docs.example.com/mcp", max-sessions = 3, idle-timeout = 5s, messages-per-second = 0, messages-burst = 7 }
            }
            """);

        Assert.Equal((false, "/agents", true, "."), (options.Enabled, options.Path, options.Stateless, options.Separator));
        Assert.Equal(["sark.example.com", "::1"], options.AllowedHosts);
        Assert.Equal(["https://app.example.com", "*"], options.AllowedOrigins);
        Assert.Equal(64 * 1024, options.MaxRequestBodyBytes);
        Assert.Equal((5, 2), (options.MaxSessions, options.MaxSessionsPerCaller));
        Assert.Equal(7, options.PageSize);
        Assert.Equal(TimeSpan.FromSeconds(90), options.IdleTimeout);
        Assert.Equal(TimeSpan.Zero, options.KeepAlive);
        Assert.Equal(TimeSpan.Zero, options.ResumeWindow);
        Assert.False(options.LegacySse.Enabled);
        Assert.Equal(new DateTimeOffset(2026, 12, 31, 0, 0, 0, TimeSpan.Zero), options.LegacySse.Sunset);
        Assert.Equal(new Uri("https://docs.example.com/mcp"), options.LegacySse.MigrationGuide);
        Assert.Equal(3, options.LegacySse.MaxSessions);
        Assert.Equal(TimeSpan.FromSeconds(5), options.LegacySse.IdleTimeout);
        Assert.Equal((0, 7), (options.LegacySse.MessagesPerSecond, options.LegacySse.MessagesBurst));
    }

    [Theory]
    [InlineData("""sark.front-door.path = "mcp" """, "sark.front-door.path")]
    [InlineData("""sark.front-door.path = "/api/mcp" """, "sark.front-door.path")]
    [InlineData("""sark.front-door.path = "/health" """, "sark.front-door.path")]
    [InlineData("""sark.front-door.path = "/sse" """, "sark.front-door.path")]
    [InlineData("""sark.front-door.path = "/messages" """, "sark.front-door.path")]
    [InlineData("""sark.front-door.path = "/servers/mcp" """, "sark.front-door.path")]
    [InlineData("""sark.front-door.separator = "/" """, "sark.front-door.separator")]
    [InlineData("""sark.front-door.separator = "" """, "sark.front-door.separator")]
    [InlineData("""sark.front-door.stateless = maybe""", "sark.front-door.stateless")]
    [InlineData("""sark.front-door.stateless = true""", "sark.front-door.legacy-sse.enabled")]
    [InlineData("""sark.front-door.allowed-hosts = ["http://x.example"]""", "sark.front-door.allowed-hosts")]
    [InlineData("""sark.front-door.allowed-hosts = ["x.example:8080"]""", "sark.front-door.allowed-hosts")]
    [InlineData("""sark.front-door.allowed-hosts = "x.example" """, "sark.front-door.allowed-hosts")]
    [InlineData("""sark.front-door.allowed-origins = ["https://x.example/path"]""", "sark.front-door.allowed-origins")]
    [InlineData("""sark.front-door.allowed-origins = ["x.example"]""", "sark.front-door.allowed-origins")]
    [InlineData("""sark.front-door.allowed-origins = ["null"]""", "sark.front-door.allowed-origins")]
    [InlineData("""sark.front-door.max-request-body = 10""", "sark.front-door.max-request-body")]
    [InlineData("""sark.front-door.max-request-body = lots""", "sark.front-door.max-request-body")]
    [InlineData("""sark.front-door.max-sessions = 0""", "sark.front-door.max-sessions")]
    [InlineData("""sark.front-door.max-sessions-per-caller = -1""", "sark.front-door.max-sessions-per-caller")]
    [InlineData("""sark.front-door.page-size = 0""", "sark.front-door.page-size")]
    [InlineData("""sark.front-door.page-size = 10001""", "sark.front-door.page-size")]
    [InlineData("""sark.front-door.page-size = many""", "sark.front-door.page-size")]
    [InlineData("""sark.front-door.idle-timeout = 0s""", "sark.front-door.idle-timeout")]
    [InlineData("""sark.front-door.idle-timeout = soon""", "sark.front-door.idle-timeout")]
    [InlineData("""sark.front-door.keep-alive = -1s""", "sark.front-door.keep-alive")]
    [InlineData("""sark.front-door.resume-window = forever""", "sark.front-door.resume-window")]
    [InlineData("""sark.front-door.legacy-sse.sunset = "30/06/2027" """, "sark.front-door.legacy-sse.sunset")]
    [InlineData("""sark.front-door.legacy-sse.migration-guide = "docs/migration.md" """, "sark.front-door.legacy-sse.migration-guide")]
    [InlineData("""sark.front-door.legacy-sse.migration-guide = "ftp://x.example/guide" """, "sark.front-door.legacy-sse.migration-guide")]
    [InlineData("""sark.front-door.legacy-sse.max-sessions = 0""", "sark.front-door.legacy-sse.max-sessions")]
    [InlineData("""sark.front-door.legacy-sse.idle-timeout = 100ms""", "sark.front-door.legacy-sse.idle-timeout")]
    [InlineData("""sark.front-door.legacy-sse.messages-per-second = -1""", "sark.front-door.legacy-sse.messages-per-second")]
    [InlineData("""sark.front-door.legacy-sse.messages-burst = 0""", "sark.front-door.legacy-sse.messages-burst")]
    public void An_invalid_value_is_a_configuration_error_that_names_the_key(string hocon, string key)
    {
        var ex = Assert.Throws<SarkConfigException>(() => FrontDoorOptions.Parse(hocon));
        Assert.StartsWith(key, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Stateless_mode_is_valid_once_legacy_sse_is_off()
    {
        var options = FrontDoorOptions.Parse("sark.front-door { stateless = true, legacy-sse.enabled = false }");

        Assert.True(options.Stateless);
        Assert.False(options.LegacySse.Enabled);
    }
}
