using Sark.Actors.Configuration;
using Sark.Host.FrontDoor;

namespace Sark.Actors.Tests.FrontDoor;

/// <summary><c>sark.front-door</c> as <see cref="FrontDoorOptions"/> reads it (compiled in from Sark.Host).</summary>
public sealed class FrontDoorOptionsSpecs
{
    [Fact]
    public void The_defaults_serve_mcp_with_sessions_and_a_double_underscore()
    {
        var options = FrontDoorOptions.Parse("");

        Assert.Equal(new FrontDoorOptions(Enabled: true, Path: "/mcp", Stateless: false, Separator: "__"), options);
    }

    [Fact]
    public void A_node_file_overrides_every_value()
    {
        var options = FrontDoorOptions.Parse("""sark.front-door { enabled = false, path = "/agents/", stateless = true, separator = "." }""");

        Assert.Equal(new FrontDoorOptions(Enabled: false, Path: "/agents", Stateless: true, Separator: "."), options);
    }

    [Theory]
    [InlineData("""sark.front-door.path = "mcp" """, "sark.front-door.path")]
    [InlineData("""sark.front-door.path = "/api/mcp" """, "sark.front-door.path")]
    [InlineData("""sark.front-door.path = "/health" """, "sark.front-door.path")]
    [InlineData("""sark.front-door.separator = "/" """, "sark.front-door.separator")]
    [InlineData("""sark.front-door.separator = "" """, "sark.front-door.separator")]
    public void An_invalid_value_is_a_configuration_error_that_names_the_key(string hocon, string key)
    {
        var ex = Assert.Throws<SarkConfigException>(() => FrontDoorOptions.Parse(hocon));
        Assert.StartsWith(key, ex.Message, StringComparison.Ordinal);
    }
}
