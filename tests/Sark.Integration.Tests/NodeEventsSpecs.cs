using System.Collections.Immutable;
using System.Net.Http.Json;
using System.Text.Json;
using Akka.Configuration;
using Akka.TestKit.Xunit2;
using Sark.Actors;
using Sark.Actors.Configuration;
using Sark.Actors.Events;
using Sark.Actors.Hosting;
using Sark.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Sark.Integration.Tests;

/// <summary>
/// The node's own event stream, GET /api/v1/events (issue 5): ids, the type filter, Last-Event-ID
/// replay and the gap event; and node to node: B follows A's events through a gateway upstream.
/// </summary>
public sealed class NodeEventsSpecs(ITestOutputHelper output)
    : TestKit(ConfigurationFactory.ParseString("akka.loglevel = INFO"), output: output)
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    private static string Config(int journal = 4096) => NodeConfigs.Demo() + $"\nsark.events.journal-size = {journal}\n";

    /// <summary>Reads SSE frames from a raw stream until <paramref name="count"/> events (id, type, data) arrived.</summary>
    private static async Task<List<(string? Id, string Type, JsonElement Data)>> ReadEventsAsync(StreamReader reader, int count)
    {
        using var timeout = new CancellationTokenSource(Bound);
        var events = new List<(string?, string, JsonElement)>();
        string? id = null, type = null, data = null;
        while (events.Count < count)
        {
            var line = await reader.ReadLineAsync(timeout.Token) ?? throw new EndOfStreamException();
            if (line.Length == 0)
            {
                if (data is not null)
                    events.Add((id, type ?? "message", JsonDocument.Parse(data).RootElement.Clone()));
                id = type = data = null;
            }
            else if (line.StartsWith("id: ", StringComparison.Ordinal))
                id = line[4..];
            else if (line.StartsWith("event: ", StringComparison.Ordinal))
                type = line[7..];
            else if (line.StartsWith("data: ", StringComparison.Ordinal))
                data = line[6..];
        }

        return events;
    }

    private static async Task<string> InvokeAsync(NodeProcess node, string tool, object parameters)
    {
        using var response = await node.Http.PostAsJsonAsync("/api/v1/invoke", new { server = "demo", tool, parameters });
        response.EnsureSuccessStatusCode();
        return response.Headers.GetValues("X-Request-ID").Single();
    }

    [Fact]
    public async Task The_node_streams_invocations_with_ids_filters_by_type_and_replays_after_last_event_id()
    {
        await using var node = await NodeProcess.StartAsync(Config());
        await DemoNodeFixture.WaitUntilReadyAsync(node);

        using var stream = await node.Http.GetAsync("/api/v1/events?types=invocation", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal("text/event-stream", stream.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await stream.Content.ReadAsStreamAsync());
        var ids = new List<string>();
        for (var i = 0; i < 3; i++)
            ids.Add(await InvokeAsync(node, "echo", new { message = $"m{i}" }));

        var live = await ReadEventsAsync(reader, 3);
        Assert.All(live, e => Assert.Equal(GatewayEventTypes.Invocation, e.Type));
        Assert.Equal(ids, live.Select(e => e.Data.GetProperty("request_id").GetString()));
        Assert.All(live, e => Assert.Equal("ok", e.Data.GetProperty("outcome").GetString()));
        var numbers = live.Select(e => long.Parse(e.Id!, System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(numbers.Order(), numbers);

        // Reconnecting after the first event replays the two after it.
        using var resume = new HttpRequestMessage(HttpMethod.Get, "/api/v1/events?types=invocation");
        resume.Headers.Add("Last-Event-ID", live[0].Id);
        using var resumed = await node.Http.SendAsync(resume, HttpCompletionOption.ResponseHeadersRead);
        using var replay = new StreamReader(await resumed.Content.ReadAsStreamAsync());
        var replayed = await ReadEventsAsync(replay, 2);
        Assert.Equal(ids.Skip(1), replayed.Select(e => e.Data.GetProperty("request_id").GetString()));
    }

    [Fact]
    public async Task A_client_that_resumes_after_the_journal_moved_on_gets_a_gap_event_first()
    {
        await using var node = await NodeProcess.StartAsync(Config(journal: 4));
        await DemoNodeFixture.WaitUntilReadyAsync(node);
        for (var i = 0; i < 8; i++)
            await InvokeAsync(node, "echo", new { message = $"m{i}" });

        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/events");
        request.Headers.Add("Last-Event-ID", "1");
        using var response = await node.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var events = await ReadEventsAsync(reader, 5);

        Assert.Equal(GatewayEventTypes.Gap, events[0].Type);
        Assert.Null(events[0].Id);
        Assert.Equal(1, events[0].Data.GetProperty("last_event_id").GetInt64());
        Assert.True(events[0].Data.GetProperty("first_id").GetInt64() > 2);
        Assert.Equal(4, events.Skip(1).Count(e => e.Id is not null));

        using var bad = new HttpRequestMessage(HttpMethod.Get, "/api/v1/events");
        bad.Headers.Add("Last-Event-ID", "not-a-number");
        using var refused = await node.Http.SendAsync(bad);
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, refused.StatusCode);
    }

    [Fact]
    public async Task Node_b_follows_node_a_a_stdio_restart_on_a_reaches_b_and_a_tools_change_on_a_refreshes_b()
    {
        await using var nodeA = await NodeProcess.StartAsync(Config());
        await DemoNodeFixture.WaitUntilReadyAsync(nodeA);
        var upstream = new UpstreamOptions
        {
            Name = "node-a",
            Kind = UpstreamKind.Gateway,
            Url = nodeA.BaseAddress.GetLeftPart(UriPartial.Authority),
            CallTimeout = TimeSpan.FromSeconds(10),
        };
        var gateway = SarkRuntime.Start(Sys, new SarkOptions
        {
            Upstreams = ImmutableDictionary<string, UpstreamOptions>.Empty.WithComparers(StringComparer.Ordinal).Add(upstream.Name, upstream),
        }).Gateway;
        await Eventually.UntilAsync(async () => (await gateway.ListToolsAsync("demo").ContinueWith(t => t.IsCompletedSuccessfully ? t.Result.Count : 0)),
            n => n == 12, Bound, "node B listing A's twelve demo tools");

        await using var subscription = await gateway.SubscribeAsync("node-a", "/api/v1/events", [GatewayEventTypes.UpstreamState]);
        await Eventually.UntilAsync(() => Task.FromResult(subscription.State), s => s == SubscriptionState.Connected, Bound, "the subscription connecting");

        using var crash = await nodeA.Http.PostAsJsonAsync("/api/v1/invoke", new { server = "demo", tool = "crash", parameters = new { } });
        using var timeout = new CancellationTokenSource(Bound);
        GatewayEvent down;
        do
            down = await subscription.ReadAsync(timeout.Token);
        while (down.Json().GetProperty("breaker").GetString() != "open");
        Assert.Equal("demo", down.Json().GetProperty("upstream").GetString());
        Assert.Equal("mcp-stdio", down.Json().GetProperty("kind").GetString());

        // A's demo server comes back; a new tool on A reaches B's catalog through A's tools_changed event.
        await DemoNodeFixture.WaitUntilReadyAsync(nodeA);
        await Eventually.UntilAsync(async () =>
        {
            using var add = await nodeA.Http.PostAsJsonAsync("/api/v1/invoke", new { server = "demo", tool = "add_tool", parameters = new { name = "fresh" } });
            return add.IsSuccessStatusCode;
        }, ok => ok, Bound, "add_tool on A");
        var tools = await Eventually.UntilAsync(async () => await gateway.ListToolsAsync("demo"),
            list => list.Any(t => t.ToolName == "fresh"), Bound, "B's catalog showing A's new tool");
        Assert.Equal(13, tools.Count);
    }

    [Fact]
    public async Task When_node_a_stops_b_fails_fast_on_an_open_circuit_and_when_a_is_back_b_recovers_by_itself()
    {
        var nodeA = await NodeProcess.StartAsync(Config());
        try
        {
            await DemoNodeFixture.WaitUntilReadyAsync(nodeA);
            var port = nodeA.BaseAddress.Port;
            var upstream = new UpstreamOptions
            {
                Name = "node-a",
                Kind = UpstreamKind.Gateway,
                Url = nodeA.BaseAddress.GetLeftPart(UriPartial.Authority),
                CallTimeout = TimeSpan.FromSeconds(5),
                FailureThreshold = 2,
                HealthInterval = TimeSpan.FromMilliseconds(500),
                ReadRetry = new ReadRetryOptions { Attempts = 1 },
                Backoff = new BackoffOptions { Min = TimeSpan.FromSeconds(1), Max = TimeSpan.FromSeconds(2), RandomFactor = 0 },
            };
            var gateway = SarkRuntime.Start(Sys, new SarkOptions
            {
                Upstreams = ImmutableDictionary<string, UpstreamOptions>.Empty.WithComparers(StringComparer.Ordinal).Add(upstream.Name, upstream),
            }).Gateway;
            await Eventually.UntilAsync(async () => (await gateway.GetUpstreamsAsync()).SingleOrDefault()?.State, s => s == UpstreamState.Ready, Bound, "B ready");
            var echo = JsonDocument.Parse("""{"message":"through B"}""").RootElement;
            Assert.False((await gateway.InvokeToolAsync("demo", "echo", echo)).IsError);

            await nodeA.StopAsync();
            // B notices (its calls or its health checks fail), its circuit opens, and it refuses at once.
            await Eventually.UntilAsync(async () => (await gateway.GetUpstreamsAsync()).Single().Breaker, b => b == BreakerState.Open, Bound, "B's circuit opening");
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var refused = await Assert.ThrowsAsync<Sark.Actors.Errors.UpstreamUnavailableException>(() => gateway.InvokeToolAsync("demo", "echo", echo));
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), $"refused after {clock.Elapsed.TotalMilliseconds:0} ms");
            Assert.NotNull(refused.RetryAfter);

            await nodeA.DisposeAsync();
            nodeA = await NodeProcess.StartAsync(Config(), port: port);
            await DemoNodeFixture.WaitUntilReadyAsync(nodeA);
            var back = await Eventually.UntilAsync(async () =>
            {
                try
                {
                    return await gateway.InvokeToolAsync("demo", "echo", echo);
                }
                catch (Sark.Actors.Errors.SarkException)
                {
                    return null;
                }
            }, r => r is not null, TimeSpan.FromSeconds(60), "a call through B succeeding again with no manual step");
            Assert.Equal("Echo: through B", back!.Result.GetProperty("content")[0].GetProperty("text").GetString());
            Assert.Equal(BreakerState.Closed, (await gateway.GetUpstreamsAsync()).Single().Breaker);
        }
        finally
        {
            await nodeA.DisposeAsync();
        }
    }
}
