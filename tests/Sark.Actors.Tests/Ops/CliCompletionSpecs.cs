using System.Text.Json.Nodes;
using Sark.Actors.Hosting;
using Sark.Actors.Ops;
using Sark.Cli;

namespace Sark.Actors.Tests.Ops;

/// <summary>The <c>sark</c> client's completion and catalogue, fed the catalogue the host really sends.</summary>
public sealed class CliCompletionSpecs
{
    private static readonly Catalogue Catalogue = Sark.Cli.Catalogue.Parse(
        JsonNode.Parse(OpsFrames.Catalogue(SarkOpsHostingExtensions.BuiltIn().Select(p => p.Definition)).ToJsonString())!.AsObject());

    [Fact]
    public void An_empty_line_offers_every_palette_and_the_console_words()
    {
        var candidates = Completion.Candidates("", Catalogue);

        Assert.Contains("upstream", candidates);
        Assert.Contains("policy", candidates);
        Assert.Contains("help", candidates);
        Assert.Contains("exit", candidates);
    }

    [Theory]
    [InlineData("ups", "upstream")]
    [InlineData("upstream re", "restart")]
    [InlineData("actor hierarchy -", "--depth")]
    [InlineData("audit tail --", "--count")]
    [InlineData("help pol", "policy")]
    public void A_prefix_completes_from_the_catalogue(string line, string expected)
    {
        Assert.Contains(expected, Completion.Candidates(line, Catalogue));
    }

    [Fact]
    public void A_switch_offers_its_suggested_values_and_a_used_switch_is_not_offered_again()
    {
        Assert.Equal(["2", "4", "8"], Completion.Candidates("actor hierarchy -d ", Catalogue));
        Assert.DoesNotContain("--depth", Completion.Candidates("actor hierarchy --depth 2 ", Catalogue));
    }

    [Fact]
    public void Several_candidates_complete_to_their_common_prefix()
    {
        var candidates = Completion.Candidates("c", Catalogue);

        Assert.Equal(["cache", "call", "cluster", "config"], candidates);
        Assert.Equal("c", Completion.CommonPrefix(candidates));
        Assert.Equal("ca", Completion.CommonPrefix(["cache", "call"]));
        Assert.Equal("clu", Completion.CommonPrefix(["cluster", "clue"]));
    }

    [Fact]
    public void Unknown_words_complete_to_nothing()
    {
        Assert.Empty(Completion.Candidates("nope ", Catalogue));
    }

    [Fact]
    public void The_catalogue_knows_which_command_lines_follow()
    {
        Assert.True(Catalogue.Follows(["audit", "tail", "-f"]));
        Assert.True(Catalogue.Follows(["audit", "tail", "--follow"]));
        Assert.False(Catalogue.Follows(["audit", "tail"]));
        Assert.False(Catalogue.Follows(["upstream", "list"]));
        Assert.True(Catalogue.Find("call")!.IsCommand);
    }

    [Fact]
    public void Table_cells_show_text_as_is_null_as_a_dash_and_the_rest_as_json()
    {
        Assert.Equal("demo", Output.Cell(JsonValue.Create("demo")));
        Assert.Equal("-", Output.Cell(null));
        Assert.Equal("12", Output.Cell(JsonValue.Create(12)));
        Assert.Equal("""{"a":1}""", Output.Cell(new JsonObject { ["a"] = 1 }));
    }

    [Theory]
    [InlineData("127.0.0.1:9110", "127.0.0.1", 9110)]
    [InlineData("localhost", "localhost", 9110)]
    [InlineData("[::1]:9000", "::1", 9000)]
    public void Addresses_default_to_port_9110(string address, string host, int port)
    {
        Assert.Equal((host, port), OpsClient.ParseAddress(address));
    }

    [Fact]
    public void A_bad_port_is_a_usage_error()
    {
        Assert.Throws<ArgumentException>(() => OpsClient.ParseAddress("127.0.0.1:http"));
    }
}
