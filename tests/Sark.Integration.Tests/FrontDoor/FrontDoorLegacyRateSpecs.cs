using System.Globalization;
using System.Net;
using System.Text;
using Sark.Integration.Tests.Infrastructure;

namespace Sark.Integration.Tests.FrontDoor;

/// <summary>The demo upstream; legacy SSE sessions may post 1 message per second in bursts of 5.</summary>
public sealed class FrontDoorLegacyRateNodeFixture : FrontDoorNodeFixture
{
    public const int Burst = 5;

    protected override string Config => $$"""
        sark {
          node.shutdown-drain = 2s
          {{NodeConfigs.DemoUpstream()}}
          front-door.legacy-sse { messages-per-second = 1, messages-burst = {{Burst}} }
        }
        """;
}

/// <summary>
/// A legacy session that posts to <c>/messages</c> faster than <c>legacy-sse.messages-per-second</c>
/// gets 429 <c>rate_limited</c> with <c>Retry-After</c>, logged once; other sessions are not held
/// back, and the session posts again once its bucket has refilled.
/// </summary>
public sealed class FrontDoorLegacyRateSpecs(FrontDoorLegacyRateNodeFixture fixture) : IClassFixture<FrontDoorLegacyRateNodeFixture>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private HttpClient Http => fixture.Node.Http;

    [Fact]
    public async Task A_flooding_legacy_session_gets_429_rate_limited_and_only_it()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        await using var flooding = await SseReader.OpenLegacyAsync(Http, fixture.Sse, apiKey: null, timeout.Token);
        var floodingMessages = new Uri(fixture.Node.BaseAddress, await flooding.ReadEndpointAsync(timeout.Token));
        await using var quiet = await SseReader.OpenLegacyAsync(Http, fixture.Sse, apiKey: null, timeout.Token);
        var quietMessages = new Uri(fixture.Node.BaseAddress, await quiet.ReadEndpointAsync(timeout.Token));

        var statuses = new List<HttpStatusCode>();
        HttpResponseMessage? limited = null;
        for (var i = 0; i < 2 * FrontDoorLegacyRateNodeFixture.Burst; i++)
        {
            var response = await PingAsync(floodingMessages, i, timeout.Token);
            statuses.Add(response.StatusCode);
            if (response.StatusCode == HttpStatusCode.TooManyRequests && limited is null)
                limited = response;
            else
                response.Dispose();
        }

        // However slow the machine, the burst goes through; a refill of 5 tokens would take 5 s.
        Assert.All(statuses.Take(FrontDoorLegacyRateNodeFixture.Burst), s => Assert.Equal(HttpStatusCode.Accepted, s));
        Assert.NotNull(limited);
        using (limited)
        {
            var body = await limited.Content.ReadAsStringAsync(timeout.Token);
            Assert.Contains("\"code\":\"rate_limited\"", body, StringComparison.Ordinal);
            Assert.Contains("messages-per-second", body, StringComparison.Ordinal);
            Assert.InRange(int.Parse(Assert.Single(limited.Headers.GetValues("Retry-After")), CultureInfo.InvariantCulture), 1, 2);
            Assert.True(limited.Headers.Contains("Deprecation"));
        }

        using (var other = await PingAsync(quietMessages, 100, timeout.Token))
            Assert.Equal(HttpStatusCode.Accepted, other.StatusCode);

        await Eventually.UntilAsync(async () =>
        {
            using var again = await PingAsync(floodingMessages, 200, timeout.Token);
            return again.StatusCode;
        }, s => s == HttpStatusCode.Accepted, Timeout, "the flooding session posting again after its refill");

        // One line for the session, however many of its posts were refused (the log is read once it is in).
        var logged = await Eventually.UntilAsync(
            () => Task.FromResult(fixture.Node.Stdout.Lines.Count(l => l.Contains("refused: rate_limited", StringComparison.Ordinal))),
            n => n >= 1, Timeout, "the refusal in the node's log");
        Assert.True(statuses.Count(s => s == HttpStatusCode.TooManyRequests) >= 1);
        Assert.Equal(1, logged);
    }

    private Task<HttpResponseMessage> PingAsync(Uri messages, int id, CancellationToken cancellationToken) =>
        Http.PostAsync(messages, new StringContent($$"""{"jsonrpc":"2.0","id":{{id}},"method":"ping"}""", Encoding.UTF8, "application/json"), cancellationToken);
}
