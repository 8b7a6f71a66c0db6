using Sark.Actors.Configuration;
using Sark.Actors.Ops;

namespace Sark.Actors.Tests.Ops;

public sealed class OpsOptionsSpecs
{
    [Fact]
    public void The_reference_defaults_bind_loopback_9110_without_a_token()
    {
        var ops = SarkConfigLoader.Parse("sark {}").Node.Ops;

        Assert.True(ops.Enabled);
        Assert.Equal("127.0.0.1:9110", ops.Bind);
        Assert.False(ops.RequiresToken);
        Assert.Equal(TimeSpan.FromSeconds(30), ops.DefaultTimeout);
    }

    [Fact]
    public void A_non_loopback_bind_without_a_token_is_a_configuration_error()
    {
        var ex = Assert.Throws<SarkConfigException>(() => SarkConfigLoader.Parse("""sark.node.ops.bind = "0.0.0.0:9110" """));

        Assert.Contains("sark.node.ops.bind", ex.Message, StringComparison.Ordinal);
        Assert.Contains("token", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_non_loopback_bind_with_a_token_loads()
    {
        var ops = SarkConfigLoader.Parse("""sark.node.ops { bind = "0.0.0.0:0", token = "s3cret-token" }""").Node.Ops;

        Assert.True(ops.RequiresToken);
        Assert.Equal(0, ops.EndPoint().Port);
    }

    [Theory]
    [InlineData("""sark.node.ops.bind = "nonsense" """)]
    [InlineData("""sark.node.ops.bind = "example.com:9110" """)]
    public void A_bad_bind_names_the_key(string hocon)
    {
        var ex = Assert.Throws<SarkConfigException>(() => SarkConfigLoader.Parse(hocon));

        Assert.Contains("sark.node.ops.bind", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Tokens_are_compared_exactly_and_never_printed()
    {
        var ops = new OpsOptions { Enabled = true, Token = "right-token" };

        Assert.True(ops.TokenMatches("right-token"));
        Assert.False(ops.TokenMatches("right-token2"));
        Assert.False(ops.TokenMatches(null));
        Assert.True(new OpsOptions().TokenMatches(null));
        Assert.DoesNotContain("right-token", ops.ToString(), StringComparison.Ordinal);
    }
}
