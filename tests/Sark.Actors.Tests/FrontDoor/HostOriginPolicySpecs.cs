using Sark.Host.FrontDoor;

namespace Sark.Actors.Tests.FrontDoor;

/// <summary>DNS-rebinding protection: which Host and Origin headers <see cref="HostOriginPolicy"/> accepts.</summary>
public sealed class HostOriginPolicySpecs
{
    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("localhost")]
    [InlineData("[::1]")]
    public void A_loopback_bind_accepts_the_loopback_names_only(string bind)
    {
        var policy = HostOriginPolicy.Create([], [], bind);

        Assert.False(policy.AnyHost);
        Assert.True(policy.IsHostAllowed("localhost"));
        Assert.True(policy.IsHostAllowed("LOCALHOST"));
        Assert.True(policy.IsHostAllowed("127.0.0.1"));
        Assert.True(policy.IsHostAllowed("[::1]"));
        Assert.False(policy.IsHostAllowed("evil.example"));
        Assert.False(policy.IsHostAllowed("127.0.0.1.nip.io"));
        Assert.False(policy.IsHostAllowed(""));
        Assert.False(policy.IsHostAllowed(null));
    }

    [Fact]
    public void A_specific_address_is_accepted_besides_the_loopback_names()
    {
        var policy = HostOriginPolicy.Create([], [], "10.1.2.3");

        Assert.True(policy.IsHostAllowed("10.1.2.3"));
        Assert.True(policy.IsHostAllowed("localhost"));
        Assert.False(policy.IsHostAllowed("10.1.2.4"));
    }

    [Theory]
    [InlineData("*")]
    [InlineData("0.0.0.0")]
    [InlineData("[::]")]
    public void A_wildcard_bind_accepts_any_host_and_only_same_host_origins(string bind)
    {
        var policy = HostOriginPolicy.Create([], [], bind);

        Assert.True(policy.AnyHost);
        Assert.True(policy.IsHostAllowed("sark.internal"));
        Assert.True(policy.IsOriginAllowed("https://sark.internal:8443", "sark.internal"));
        Assert.False(policy.IsOriginAllowed("https://evil.example", "sark.internal"));
    }

    [Fact]
    public void Configured_hosts_replace_the_automatic_ones()
    {
        var policy = HostOriginPolicy.Create(["sark.example.com"], [], "127.0.0.1");

        Assert.True(policy.IsHostAllowed("sark.example.com"));
        Assert.False(policy.IsHostAllowed("localhost"));
        Assert.True(HostOriginPolicy.Create(["*"], [], "127.0.0.1").IsHostAllowed("anything.example"));
    }

    [Fact]
    public void No_origin_header_is_allowed_for_non_browser_clients()
    {
        var policy = HostOriginPolicy.Create([], [], "127.0.0.1");

        Assert.True(policy.IsOriginAllowed(null, "127.0.0.1"));
    }

    [Theory]
    [InlineData("http://localhost:3000", true)]
    [InlineData("http://127.0.0.1", true)]
    [InlineData("http://[::1]:8080", true)]
    [InlineData("https://evil.example", false)]
    [InlineData("http://localhost.evil.example", false)]
    [InlineData("null", false)]
    [InlineData("not an origin", false)]
    [InlineData("http://localhost/path", false)]
    public void Automatic_origins_are_those_of_the_allowed_hosts(string origin, bool allowed)
    {
        var policy = HostOriginPolicy.Create([], [], "127.0.0.1");

        Assert.Equal(allowed, policy.IsOriginAllowed(origin, "127.0.0.1"));
    }

    [Fact]
    public void Configured_origins_match_exactly_after_normalization()
    {
        var policy = HostOriginPolicy.Create([], [HostOriginPolicy.NormalizeOrigin("https://app.example.com:443")!], "127.0.0.1");

        Assert.True(policy.IsOriginAllowed("https://APP.example.com", "127.0.0.1"));
        Assert.False(policy.IsOriginAllowed("http://app.example.com", "127.0.0.1"));
        Assert.False(policy.IsOriginAllowed("https://app.example.com:8443", "127.0.0.1"));
        Assert.False(policy.IsOriginAllowed("http://localhost:3000", "127.0.0.1"));
        Assert.True(HostOriginPolicy.Create([], ["*"], "127.0.0.1").IsOriginAllowed("https://anything.example", "127.0.0.1"));
    }
}
