using Sark.Integration.Tests.Infrastructure;

namespace Sark.Integration.Tests.FrontDoor;

/// <summary>The demo upstream and the front door's defaults (resume-window on, resume-call-streams off).</summary>
public sealed class FrontDoorDefaultsNodeFixture : FrontDoorNodeFixture
{
    protected override string Config => NodeConfigs.Demo() + "\n" + TwoCallers;
}

/// <summary>What the event store keeps by default: the GET stream's events, not every call's answer.</summary>
public sealed class FrontDoorResumeSpecs(FrontDoorDefaultsNodeFixture fixture) : IClassFixture<FrontDoorDefaultsNodeFixture>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task By_default_a_calls_answer_stream_carries_no_event_id_since_nothing_is_kept_for_it()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        const string Version = RawMcp.ResumableProtocolVersion;
        var http = fixture.Node.Http;
        var sessionId = await RawMcp.OpenSessionAsync(http, fixture.Mcp, FrontDoorNodeFixture.AliceKey, timeout.Token, Version);
        const string Call = """{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"demo__echo","arguments":{"message":"unkept"}}}""";

        using var post = await http.SendAsync(RawMcp.Post(fixture.Mcp, Call, FrontDoorNodeFixture.AliceKey, sessionId, Version), timeout.Token);
        var body = await post.Content.ReadAsStringAsync(timeout.Token);

        Assert.Contains("Echo: unkept", body, StringComparison.Ordinal);
        Assert.DoesNotContain(body.Split('\n'), line => line.StartsWith("id:", StringComparison.Ordinal));
        await RawMcp.DeleteSessionAsync(http, fixture.Mcp, FrontDoorNodeFixture.AliceKey, sessionId, timeout.Token);
    }
}
