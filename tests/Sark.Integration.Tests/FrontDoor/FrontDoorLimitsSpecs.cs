using System.Net;
using Sark.Integration.Tests.Infrastructure;

namespace Sark.Integration.Tests.FrontDoor;

/// <summary>The demo upstream (for <c>/servers/demo/mcp</c>); 3 sessions per node, 2 per caller, 1 legacy session that closes after 2 s without a message.</summary>
public sealed class FrontDoorLimitsNodeFixture : FrontDoorNodeFixture
{
    protected override string Config => "sark.node.shutdown-drain = 2s\nsark {\n" + NodeConfigs.DemoUpstream() + "\n}\n" + TwoCallers + """

        sark.front-door {
          max-sessions = 3
          max-sessions-per-caller = 2
          legacy-sse { max-sessions = 1, idle-timeout = 2s }
        }
        """;
}

/// <summary>Session limits per caller, per node and of the legacy transport, and the legacy idle timeout.</summary>
public sealed class FrontDoorLimitsSpecs(FrontDoorLimitsNodeFixture fixture) : IClassFixture<FrontDoorLimitsNodeFixture>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private const string Sessions = "sark_frontdoor_sessions";
    private const string Streamable = "transport=\"streamable-http\"";
    private const string LegacySessions = "sark_legacy_sse_sessions";

    private HttpClient Http => fixture.Node.Http;

    [Fact]
    public async Task Sessions_over_the_caller_limit_or_the_node_limit_are_refused_with_429_session_limit_reached()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        await RawMcp.WaitForGaugeAsync(Http, LegacySessions, 0, Timeout);
        const string Alice = FrontDoorNodeFixture.AliceKey, Bob = FrontDoorNodeFixture.BobKey;
        var alice1 = await RawMcp.OpenSessionAsync(Http, fixture.Mcp, Alice, timeout.Token);
        var alice2 = await RawMcp.OpenSessionAsync(Http, fixture.Mcp, Alice, timeout.Token);

        await AssertRefusedAsync(Alice, "max-sessions-per-caller", timeout.Token);
        var bob1 = await RawMcp.OpenSessionAsync(Http, fixture.Mcp, Bob, timeout.Token);
        await AssertRefusedAsync(Bob, "sark.front-door.max-sessions)", timeout.Token);
        await RawMcp.WaitForGaugeAsync(Http, Sessions, 3, Timeout, Streamable);

        await RawMcp.DeleteSessionAsync(Http, fixture.Mcp, Alice, alice1, timeout.Token);
        await RawMcp.WaitForGaugeAsync(Http, Sessions, 2, Timeout, Streamable);
        var alice3 = await RawMcp.OpenSessionAsync(Http, fixture.Mcp, Alice, timeout.Token);

        foreach (var (key, id) in new[] { (Alice, alice2), (Alice, alice3), (Bob, bob1) })
            await RawMcp.DeleteSessionAsync(Http, fixture.Mcp, key, id, timeout.Token);
        await RawMcp.WaitForGaugeAsync(Http, Sessions, 0, Timeout, Streamable);
    }

    [Fact]
    public async Task Sessions_of_the_single_server_endpoint_count_against_the_same_limits()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        const string Alice = FrontDoorNodeFixture.AliceKey;
        var single = new Uri(fixture.Node.BaseAddress, "/servers/demo/mcp");
        var first = await RawMcp.OpenSessionAsync(Http, single, Alice, timeout.Token);
        var second = await RawMcp.OpenSessionAsync(Http, fixture.Mcp, Alice, timeout.Token);

        await AssertRefusedAsync(Alice, "max-sessions-per-caller", timeout.Token);
        using (var third = await Http.SendAsync(RawMcp.Post(single, RawMcp.InitializeBody, Alice), timeout.Token))
            Assert.Equal(HttpStatusCode.TooManyRequests, third.StatusCode);

        await RawMcp.DeleteSessionAsync(Http, single, Alice, first, timeout.Token);
        await RawMcp.DeleteSessionAsync(Http, fixture.Mcp, Alice, second, timeout.Token);
        await RawMcp.WaitForGaugeAsync(Http, Sessions, 0, Timeout, Streamable);
    }

    [Fact]
    public async Task The_legacy_transport_has_its_own_lower_session_limit()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        await RawMcp.WaitForGaugeAsync(Http, LegacySessions, 0, Timeout);

        await using (var first = await SseReader.OpenLegacyAsync(Http, fixture.Sse, FrontDoorNodeFixture.AliceKey, timeout.Token))
        {
            await first.ReadEndpointAsync(timeout.Token);
            await RawMcp.WaitForGaugeAsync(Http, LegacySessions, 1, Timeout);
            await using var refused = await SseReader.OpenLegacyAsync(Http, fixture.Sse, FrontDoorNodeFixture.BobKey, timeout.Token);
            Assert.Equal(HttpStatusCode.TooManyRequests, refused.Response.StatusCode);
            Assert.Equal("session_limit_reached", await refused.ErrorCodeAsync(timeout.Token));
            Assert.True(refused.Response.Headers.Contains("Sunset"));
        }

        await RawMcp.WaitForGaugeAsync(Http, LegacySessions, 0, Timeout);
        await using var next = await SseReader.OpenLegacyAsync(Http, fixture.Sse, FrontDoorNodeFixture.BobKey, timeout.Token);
        Assert.Equal(HttpStatusCode.OK, next.Response.StatusCode);
        await next.ReadEndpointAsync(timeout.Token);
    }

    [Fact]
    public async Task A_legacy_session_without_messages_is_closed_after_its_idle_timeout()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        await RawMcp.WaitForGaugeAsync(Http, LegacySessions, 0, Timeout);
        await using var stream = await SseReader.OpenLegacyAsync(Http, fixture.Sse, FrontDoorNodeFixture.AliceKey, timeout.Token);
        var messages = new Uri(fixture.Node.BaseAddress, await stream.ReadEndpointAsync(timeout.Token));

        // The node ends the stream (keep-alive comments aside, nothing else comes).
        string? line;
        var lines = 0;
        while ((line = await stream.ReadLineAsync(timeout.Token)) is not null && lines++ < 1000)
            Assert.True(line.Length == 0 || line.StartsWith(':'), $"unexpected line: {line}");
        Assert.Null(line);

        using var post = new HttpRequestMessage(HttpMethod.Post, messages) { Content = new StringContent(RawMcp.ListToolsBody) };
        post.Headers.Add("X-API-Key", FrontDoorNodeFixture.AliceKey);
        using var response = await Http.SendAsync(post, timeout.Token);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        await RawMcp.WaitForGaugeAsync(Http, LegacySessions, 0, Timeout);
    }

    private async Task AssertRefusedAsync(string apiKey, string limit, CancellationToken cancellationToken)
    {
        using var response = await Http.SendAsync(RawMcp.Post(fixture.Mcp, RawMcp.InitializeBody, apiKey), cancellationToken);
        var body = await response.Content.ReadAsStringAsync(cancellationToken);

        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.Contains("\"code\":\"session_limit_reached\"", body, StringComparison.Ordinal);
        Assert.Contains(limit, body, StringComparison.Ordinal);
    }
}
