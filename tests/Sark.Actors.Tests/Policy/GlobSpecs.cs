using Sark.Actors.Policy;

namespace Sark.Actors.Tests.Policy;

public sealed class GlobSpecs
{
    [Theory]
    [InlineData("github-mcp", "github-mcp", true)]
    [InlineData("github-mcp", "github-mcp2", false)]
    [InlineData("github-mcp", "GitHub-mcp", false)]
    [InlineData("github-*", "github-mcp", true)]
    [InlineData("github-*", "github-", true)]
    [InlineData("github-*", "gitlab-mcp", false)]
    [InlineData("*-mcp", "postgres-mcp", true)]
    [InlineData("*-mcp", "postgres-mcp-2", false)]
    [InlineData("*", "", true)]
    [InlineData("*", "anything/at:all", true)]
    [InlineData("**", "x", true)]
    [InlineData("", "", true)]
    [InlineData("", "a", false)]
    [InlineData("?", "", false)]
    [InlineData("?", "a", true)]
    [InlineData("?", "ab", false)]
    [InlineData("a?c", "abc", true)]
    [InlineData("a?c", "ac", false)]
    [InlineData("a*b*c", "abc", true)]
    [InlineData("a*b*c", "aXXbYYc", true)]
    [InlineData("a*b*c", "aXXbYY", false)]
    [InlineData("a*b*c", "acb", false)]
    [InlineData("*a*", "bab", true)]
    [InlineData("*a*", "bbb", false)]
    [InlineData("a*a", "a", false)]
    [InlineData("a*a", "aa", true)]
    [InlineData("*x?", "xxxy", true)]
    [InlineData("tool:*", "tool:invoke", true)]
    [InlineData("tool:*", "server:list", false)]
    [InlineData("get_*", "GET_repo", false)]
    public void Globs_match_whole_names_case_sensitively(string pattern, string name, bool expected) =>
        Assert.Equal(expected, new Glob(pattern).IsMatch(name));

    [Fact]
    public void A_null_name_matches_no_pattern() => Assert.False(new Glob("*").IsMatch(null));

    [Fact]
    public void A_long_name_against_many_stars_finishes_quickly_and_correctly()
    {
        var name = new string('a', 10_000);
        Assert.False(new Glob("*a*a*a*a*a*a*b").IsMatch(name));
        Assert.True(new Glob("*a*a*a*a*a*a*").IsMatch(name));
    }
}
