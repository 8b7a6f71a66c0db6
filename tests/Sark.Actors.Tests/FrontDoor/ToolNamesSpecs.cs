using Sark.Host.FrontDoor;

namespace Sark.Actors.Tests.FrontDoor;

/// <summary><see cref="ToolNames"/>, compiled in from Sark.Host (a pure type; the host is a web project).</summary>
public sealed class ToolNamesSpecs
{
    private readonly ToolNames _names = new("__");

    [Fact]
    public void A_tool_is_named_server_separator_tool()
    {
        Assert.True(_names.TryQualify("demo", "echo", out var name));
        Assert.Equal("demo__echo", name);
    }

    [Theory]
    [InlineData("demo", "echo")]
    [InlineData("my-server.v2", "get_weather")]
    [InlineData("demo", "tool__with__separators")]
    [InlineData("a", "b")]
    public void A_name_parses_back_to_its_server_and_tool(string server, string tool)
    {
        Assert.True(_names.TryQualify(server, tool, out var name));
        Assert.True(_names.TryParse(name, out var parsedServer, out var parsedTool));
        Assert.Equal(server, parsedServer);
        Assert.Equal(tool, parsedTool);
    }

    [Theory]
    [InlineData("de__mo", "echo")]
    [InlineData("", "echo")]
    [InlineData("demo", "")]
    [InlineData("demo", "has space")]
    [InlineData("demo", "slash/tool")]
    [InlineData("démo", "echo")]
    public void A_server_or_tool_that_cannot_be_named_reversibly_within_the_rules_has_no_name(string server, string tool) =>
        Assert.False(_names.TryQualify(server, tool, out _));

    [Fact]
    public void A_name_longer_than_128_characters_is_refused()
    {
        Assert.True(_names.TryQualify("s", new string('t', ToolNames.MaxLength - 3), out _));
        Assert.False(_names.TryQualify("s", new string('t', ToolNames.MaxLength - 2), out _));
        Assert.False(_names.TryParse("s__" + new string('t', ToolNames.MaxLength - 2), out _, out _));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("echo")]
    [InlineData("__echo")]
    [InlineData("demo__")]
    [InlineData("demo__ echo")]
    public void A_name_without_a_server_and_a_tool_does_not_parse(string? name) =>
        Assert.False(_names.TryParse(name, out _, out _));

    [Fact]
    public void Another_separator_is_honoured()
    {
        var dotted = new ToolNames(".");
        Assert.True(dotted.TryQualify("demo", "echo", out var name));
        Assert.Equal("demo.echo", name);
        Assert.True(dotted.TryParse("demo.echo.v2", out var server, out var tool));
        Assert.Equal(("demo", "echo.v2"), (server, tool));
    }

    [Theory]
    [InlineData("")]
    [InlineData("/")]
    [InlineData(" ")]
    public void A_separator_outside_the_tool_name_characters_is_refused(string separator) =>
        Assert.Throws<ArgumentException>(() => new ToolNames(separator));
}

/// <summary>Why a tool has no front-door name (<see cref="ToolNames.Check"/>, <see cref="ToolNames.Qualify"/>).</summary>
public sealed class ToolNameProblemSpecs
{
    private readonly ToolNames _names = new("__");

    [Theory]
    [InlineData("echo", nameof(ToolNameProblem.None))]
    [InlineData(null, nameof(ToolNameProblem.Empty))]
    [InlineData("", nameof(ToolNameProblem.Empty))]
    [InlineData("has space", nameof(ToolNameProblem.BadCharacter))]
    [InlineData("slash/tool", nameof(ToolNameProblem.BadCharacter))]
    [InlineData("naïve", nameof(ToolNameProblem.BadCharacter))]
    public void A_name_is_checked_against_the_rules(string? name, string expected) =>
        Assert.Equal(Enum.Parse<ToolNameProblem>(expected), ToolNames.Check(name));

    [Fact]
    public void A_name_over_128_characters_is_too_long_whatever_its_characters()
    {
        Assert.Equal(ToolNameProblem.None, ToolNames.Check(new string('t', ToolNames.MaxLength)));
        Assert.Equal(ToolNameProblem.TooLong, ToolNames.Check(new string('t', ToolNames.MaxLength + 1)));
        Assert.Equal(ToolNameProblem.TooLong, ToolNames.Check(new string(' ', ToolNames.MaxLength + 1)));
    }

    [Theory]
    [InlineData("demo", "echo", nameof(ToolNameProblem.None))]
    [InlineData("", "echo", nameof(ToolNameProblem.Empty))]
    [InlineData("demo", "", nameof(ToolNameProblem.Empty))]
    [InlineData("de__mo", "echo", nameof(ToolNameProblem.ServerHasSeparator))]
    [InlineData("demo", "has space", nameof(ToolNameProblem.BadCharacter))]
    public void A_front_door_name_says_why_there_is_none(string server, string tool, string problem)
    {
        var expected = Enum.Parse<ToolNameProblem>(problem);
        Assert.Equal(expected, _names.Qualify(server, tool, out var name));
        Assert.Equal(expected == ToolNameProblem.None, name is not null);
        Assert.Equal(expected == ToolNameProblem.None, _names.TryQualify(server, tool, out _));
    }

    [Fact]
    public void A_tool_whose_own_name_fits_can_be_too_long_under_its_server()
    {
        var tool = new string('t', ToolNames.MaxLength - 5);

        Assert.Equal(ToolNameProblem.None, ToolNames.Check(tool));
        Assert.Equal(ToolNameProblem.TooLong, _names.Qualify("demo", tool, out var name));
        Assert.Null(name);
    }
}
