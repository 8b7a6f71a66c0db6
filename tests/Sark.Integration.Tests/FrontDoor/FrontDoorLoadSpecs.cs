using System.Globalization;
using System.Net;
using Sark.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Sark.Integration.Tests.FrontDoor;

/// <summary>No upstream, anonymous callers; room for 1,000 legacy sessions, and Streamable HTTP sessions that idle out after 2 s.</summary>
public sealed class FrontDoorLoadNodeFixture : FrontDoorNodeFixture
{
    public const int LegacyLimit = 1000;

    protected override string Config => $$"""
        sark.node.shutdown-drain = 2s
        sark.front-door {
          idle-timeout = 2s
          max-sessions-per-caller = 5000
          legacy-sse { max-sessions = {{LegacyLimit}}, idle-timeout = 10m }
        }
        """;
}

/// <summary>Many idle sessions: the limits hold, and what each one costs the node.</summary>
public sealed class FrontDoorLoadSpecs(FrontDoorLoadNodeFixture fixture, ITestOutputHelper output) : IClassFixture<FrontDoorLoadNodeFixture>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task A_thousand_idle_legacy_sessions_hold_and_the_next_one_is_refused()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = 2 * FrontDoorLoadNodeFixture.LegacyLimit };
        using var http = new HttpClient(handler) { BaseAddress = fixture.Node.BaseAddress, Timeout = Timeout };
        await RawMcp.WaitForGaugeAsync(http, "sark_legacy_sse_sessions", 0, Timeout);
        var rssBefore = ResidentKiB(fixture.Node.ProcessId);
        var streams = new List<SseReader>(FrontDoorLoadNodeFixture.LegacyLimit);
        try
        {
            for (var batch = 0; batch < FrontDoorLoadNodeFixture.LegacyLimit / 50; batch++)
            {
                var opened = await Task.WhenAll(Enumerable.Range(0, 50).Select(async _ =>
                {
                    var stream = await SseReader.OpenLegacyAsync(http, fixture.Sse, apiKey: null, timeout.Token);
                    Assert.Equal(HttpStatusCode.OK, stream.Response.StatusCode);
                    await stream.ReadEndpointAsync(timeout.Token);
                    return stream;
                }));
                streams.AddRange(opened);
            }

            await RawMcp.WaitForGaugeAsync(http, "sark_legacy_sse_sessions", FrontDoorLoadNodeFixture.LegacyLimit, Timeout);
            await using (var refused = await SseReader.OpenLegacyAsync(http, fixture.Sse, apiKey: null, timeout.Token))
            {
                Assert.Equal(HttpStatusCode.TooManyRequests, refused.Response.StatusCode);
                Assert.Equal("session_limit_reached", await refused.ErrorCodeAsync(timeout.Token));
            }

            var rssAfter = ResidentKiB(fixture.Node.ProcessId);
            var perSession = (rssAfter - rssBefore) / (double)FrontDoorLoadNodeFixture.LegacyLimit;
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"VmRSS {rssBefore} KiB before, {rssAfter} KiB with {FrontDoorLoadNodeFixture.LegacyLimit} idle legacy sessions: {perSession:0.0} KiB per session"));
            // Generous on purpose (the GC decides when memory shows up in RSS): a leak per session would be far above it.
            Assert.True(perSession < 1024, $"{perSession:0.0} KiB per idle legacy session");
        }
        finally
        {
            foreach (var stream in streams)
                await stream.DisposeAsync();
        }

        await RawMcp.WaitForGaugeAsync(http, "sark_legacy_sse_sessions", 0, Timeout);
    }

    [Fact]
    public async Task A_streamable_session_idle_past_idle_timeout_is_closed_and_its_id_is_404()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        var http = fixture.Node.Http;
        await RawMcp.WaitForGaugeAsync(http, "sark_frontdoor_sessions", 0, Timeout, "transport=\"streamable-http\"");
        var sessionId = await RawMcp.OpenSessionAsync(http, fixture.Mcp, apiKey: null, timeout.Token);
        await RawMcp.WaitForGaugeAsync(http, "sark_frontdoor_sessions", 1, Timeout, "transport=\"streamable-http\"");

        // Polling /metrics does not touch the session; the SDK prunes idle sessions every 5 s.
        await RawMcp.WaitForGaugeAsync(http, "sark_frontdoor_sessions", 0, TimeSpan.FromSeconds(30), "transport=\"streamable-http\"");

        using var response = await http.SendAsync(RawMcp.Post(fixture.Mcp, RawMcp.ListToolsBody, apiKey: null, sessionId), timeout.Token);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    /// <summary>VmRSS of a process, from <c>/proc/PID/status</c>.</summary>
    private static long ResidentKiB(int pid)
    {
        var line = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
    }
}
