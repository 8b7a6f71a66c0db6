using Sark.Host.FrontDoor;

namespace Sark.Actors.Tests.FrontDoor;

/// <summary><see cref="ResourceUris"/>: reversible, verbatim, template-friendly.</summary>
public sealed class ResourceUrisSpecs
{
    [Theory]
    [InlineData("everything", "test://static/resource/1")]
    [InlineData("demo", "file:///tmp/a%20b.txt?x=1#top")]
    [InlineData("My.Server-2", "https://example.test/a/b")]
    [InlineData("everything", "test://static/resource/{id}")]
    public void A_uri_round_trips_through_its_front_door_form(string server, string uri)
    {
        Assert.True(ResourceUris.TryQualify(server, uri, out var qualified));
        Assert.Equal($"sark://{server}/{uri}", qualified);

        Assert.True(ResourceUris.TryParse(qualified, out var parsedServer, out var parsedUri));
        Assert.Equal(server, parsedServer);
        Assert.Equal(uri, parsedUri);
    }

    [Theory]
    [InlineData("", "x://y")]
    [InlineData("a/b", "x://y")]
    [InlineData("demo", "")]
    [InlineData("demo", null)]
    public void Empty_parts_and_a_server_with_a_slash_have_no_front_door_uri(string server, string? uri) =>
        Assert.False(ResourceUris.TryQualify(server, uri, out _));

    [Theory]
    [InlineData(null)]
    [InlineData("test://static/resource/1")]
    [InlineData("sark://")]
    [InlineData("sark:///x://y")]
    [InlineData("sark://demo")]
    [InlineData("sark://demo/")]
    [InlineData("SARK://demo/x://y")]
    public void Anything_else_does_not_parse(string? uri) =>
        Assert.False(ResourceUris.TryParse(uri, out _, out _));
}
