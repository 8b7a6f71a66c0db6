using System.Collections.Immutable;
using Sark.Actors.Hosting;
using Sark.Actors.Ops;

namespace Sark.Actors.Tests.Ops;

public sealed class OpsCommandParserSpecs
{
    private static readonly IReadOnlyDictionary<string, PaletteDefinition> Palettes =
        SarkOpsHostingExtensions.BuiltIn().ToDictionary(p => p.Definition.Name, p => p.Definition);

    private static OpsCommand Parsed(params string[] argv)
    {
        var parse = OpsCommandParser.Parse(argv, Palettes);
        Assert.True(parse.Command is not null, parse.Error);
        return parse.Command!;
    }

    private static OpsParse Refused(params string[] argv)
    {
        var parse = OpsCommandParser.Parse(argv, Palettes);
        Assert.Null(parse.Command);
        return parse;
    }

    [Fact]
    public void A_positional_argument_is_read_in_order()
    {
        var command = Parsed("upstream", "restart", "demo");

        Assert.Equal("upstream", command.Palette);
        Assert.Equal("restart", command.Name);
        Assert.Equal("demo", command.Get("name"));
    }

    [Fact]
    public void A_switch_takes_its_value_by_alias_long_name_or_inline_and_defaults_fill_the_rest()
    {
        Assert.Equal(3, Parsed("actor", "hierarchy", "-d", "3").GetInt("depth", 0));
        Assert.Equal(5, Parsed("actor", "hierarchy", "--depth", "5").GetInt("depth", 0));
        Assert.Equal(6, Parsed("actor", "hierarchy", "--depth=6").GetInt("depth", 0));
        Assert.Equal(4, Parsed("actor", "hierarchy").GetInt("depth", 0));
    }

    [Fact]
    public void A_flag_takes_no_value()
    {
        var command = Parsed("audit", "tail", "-f", "-n", "5");

        Assert.True(command.Has("follow"));
        Assert.Equal(5, command.GetInt("count", 0));
        Assert.False(Parsed("audit", "tail").Has("follow"));
    }

    [Fact]
    public void A_palette_that_is_a_command_reads_its_arguments_right_after_its_name()
    {
        var command = Parsed("call", "demo", "echo", "--args", """{"message":"hi"}""", "--as", "ci-bot");

        Assert.Equal("demo", command.Get("server"));
        Assert.Equal("echo", command.Get("tool"));
        Assert.Equal("""{"message":"hi"}""", command.Get("args"));
        Assert.Equal("ci-bot", command.Get("as"));
    }

    [Fact]
    public void Unknown_palettes_and_commands_are_not_found_and_list_what_exists()
    {
        var palette = Refused("nope");
        var command = Refused("upstream", "reboot", "demo");

        Assert.Equal("not_found", palette.Code);
        Assert.Contains("upstream", palette.Error);
        Assert.Equal("not_found", command.Code);
        Assert.Contains("restart", command.Error);
    }

    [Theory]
    [InlineData("upstream", "show")]
    [InlineData("upstream", "show", "a", "b")]
    [InlineData("actor", "hierarchy", "--bogus", "1")]
    [InlineData("actor", "hierarchy", "-d")]
    [InlineData("audit", "tail", "--follow=yes")]
    [InlineData("upstream")]
    public void Bad_arguments_are_invalid_requests_with_the_usage(params string[] argv)
    {
        var parse = Refused(argv);

        Assert.Equal("invalid_request", parse.Code);
        Assert.Contains(argv[0], parse.Error);
    }

    [Fact]
    public void A_negative_number_is_a_value_not_a_switch()
    {
        Assert.Equal(-1, Parsed("log", "peek", "-n", "-1").GetInt("count", 0));
    }

    [Fact]
    public void Words_split_on_blanks_and_quotes_group()
    {
        Assert.Equal(["call", "demo", "echo", "--args", """{"message": "a b"}"""],
            OpsCommandParser.Split("""call demo  echo --args '{"message": "a b"}'"""));
        Assert.Empty(OpsCommandParser.Split("   "));
    }

    [Fact]
    public void The_usage_line_shows_positional_and_optional_arguments()
    {
        var tail = Palettes["audit"].Find("tail")!;
        var call = Palettes["call"].Find(OpsCommandParser.PaletteCommand)!;

        Assert.Equal("audit tail [-n COUNT] [-f]", tail.Usage("audit"));
        Assert.StartsWith("call <server> <tool> [-a ARGS]", call.Usage("call"), StringComparison.Ordinal);
    }

    [Fact]
    public void Every_builtin_command_has_help_and_the_issue_palettes_are_all_there()
    {
        var names = Palettes.Values.SelectMany(p => p.Commands.Select(c => $"{p.Name} {c.Name}".Trim())).ToImmutableHashSet();

        foreach (var expected in new[]
                 {
                     "actor system", "actor hierarchy", "upstream list", "upstream show", "upstream restart", "upstream stop", "upstream start",
                     "breaker list", "tools list", "call", "cache stats", "cache clear", "stream list", "policy explain", "audit tail",
                     "log peek", "config show", "cluster show", "cluster leave", "cluster down",
                 })
        {
            Assert.Contains(expected, names);
        }

        Assert.All(Palettes.Values.SelectMany(p => p.Commands), c => Assert.False(string.IsNullOrWhiteSpace(c.Help)));
    }
}
