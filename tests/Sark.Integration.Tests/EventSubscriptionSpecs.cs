using System.Collections.Immutable;
using System.Diagnostics;
using System.Net;
using System.Text.Json;
using System.Threading.Channels;
using Akka.Configuration;
using Akka.TestKit.Xunit2;
using Sark.Actors;
using Sark.Actors.Configuration;
using Sark.Actors.Errors;
using Sark.Actors.Events;
using Sark.Actors.Hosting;
using Sark.Integration.Tests.Fakes;
using Sark.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Sark.Integration.Tests;

/// <summary>
/// Event subscriptions (<see cref="ISarkGateway.SubscribeAsync"/>) against <see cref="FaultySseServer"/>:
/// reconnection with Last-Event-ID, retry:, 4xx, 5xx storms, silent connections, malformed lines,
/// oversized events and the stream cap. The upstream is a gateway whose registry is the SSE
/// server; its discovery fails (the server has no registry API), which does not matter here.
/// </summary>
public sealed class EventSubscriptionSpecs : TestKit
{
    private readonly ITestOutputHelper _output;

    public EventSubscriptionSpecs(ITestOutputHelper output)
        : base(ConfigurationFactory.ParseString("akka.loglevel = INFO"), output: output)
    {
        _output = output;
    }

    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    private ISarkGateway Start(Uri url, Func<EventsOptions, EventsOptions>? events = null)
    {
        var upstream = new UpstreamOptions
        {
            Name = "feed",
            Kind = UpstreamKind.Gateway,
            Url = url.GetLeftPart(UriPartial.Authority),
            SubscribeEvents = false,
            Backoff = new BackoffOptions { Min = TimeSpan.FromMinutes(5), Max = TimeSpan.FromMinutes(5), RandomFactor = 0 },
        };
        var defaults = new EventsOptions
        {
            Backoff = new BackoffOptions { Min = TimeSpan.FromMilliseconds(10), Max = TimeSpan.FromMilliseconds(50), RandomFactor = 0 },
            ReadTimeout = TimeSpan.FromSeconds(10),
        };
        var options = new SarkOptions
        {
            Upstreams = ImmutableDictionary<string, UpstreamOptions>.Empty.WithComparers(StringComparer.Ordinal).Add(upstream.Name, upstream),
            Events = events?.Invoke(defaults) ?? defaults,
        };
        return SarkRuntime.Start(Sys, options).Gateway;
    }

    private static async Task<List<GatewayEvent>> ReadAsync(ChannelReader<GatewayEvent> reader, int count)
    {
        using var timeout = new CancellationTokenSource(Bound);
        var events = new List<GatewayEvent>(count);
        while (events.Count < count)
            events.Add(await reader.ReadAsync(timeout.Token));
        return events;
    }

    [Fact]
    public async Task A_thousand_events_across_a_hundred_drops_arrive_exactly_once_and_in_order()
    {
        await using var server = await FaultySseServer.StartAsync();
        server.TotalEvents = 1000;
        server.DropEvery = 10;
        var gateway = Start(server.BaseAddress);

        await using var subscription = await gateway.SubscribeAsync("feed", "/events");
        List<GatewayEvent> events;
        try
        {
            events = await ReadAsync(subscription, 1000);
        }
        finally
        {
            _output.WriteLine($"connections: {server.Connections.Count}, state {subscription.State}, buffered {subscription.Count}");
        }

        Assert.Equal(Enumerable.Range(1, 1000), events.Select(e => e.Json().GetProperty("n").GetInt32()));
        Assert.All(events, e => Assert.Equal("tick", e.EventType));
        Assert.Equal("1000", events[^1].EventId);
        var connections = server.Connections;
        Assert.Equal(100, connections.Count);
        Assert.Null(connections[0].LastEventId);
        Assert.Equal(Enumerable.Range(1, 99).Select(k => (k * 10).ToString(System.Globalization.CultureInfo.InvariantCulture)),
            connections.Skip(1).Select(c => c.LastEventId));
        Assert.False(subscription.TryRead(out var extra), $"an event arrived twice: {extra}");
        Assert.Equal(SubscriptionState.Connected, subscription.State);
    }

    [Fact]
    public async Task The_servers_retry_field_sets_the_reconnection_delay()
    {
        await using var server = await FaultySseServer.StartAsync();
        server.TotalEvents = 4;
        server.DropEvery = 2;
        server.RetryMs = 600;
        var gateway = Start(server.BaseAddress);

        await using var subscription = await gateway.SubscribeAsync("feed", "/events");
        await ReadAsync(subscription, 4);

        var connections = server.Connections;
        Assert.Equal(2, connections.Count);
        var gap = connections[1].At - connections[0].At;
        Assert.True(gap >= TimeSpan.FromMilliseconds(550), $"reconnected after {gap.TotalMilliseconds:0} ms; the server asked for 600 ms (backoff alone is 10 ms)");
    }

    [Fact]
    public async Task A_401_fails_the_subscription_with_a_clear_error_and_is_not_retried()
    {
        await using var server = await FaultySseServer.StartAsync();
        server.Status = HttpStatusCode.Unauthorized;
        server.StatusFor(100);
        var gateway = Start(server.BaseAddress);

        var subscription = await gateway.SubscribeAsync("feed", "/events");
        var error = await Assert.ThrowsAsync<UpstreamErrorException>(async () => await subscription.Completion.WaitAsync(Bound));

        Assert.Equal(401, error.UpstreamStatus);
        Assert.Contains("not retried", error.Message);
        Assert.Contains("api-key", error.Message);
        Assert.Equal(SubscriptionState.Failed, subscription.State);
        await Task.Delay(200);
        Assert.Single(server.Connections);
    }

    [Fact]
    public async Task A_503_storm_is_retried_with_a_growing_capped_backoff_and_then_the_events_flow()
    {
        await using var server = await FaultySseServer.StartAsync();
        server.TotalEvents = 3;
        server.StatusFor(6);
        var gateway = Start(server.BaseAddress, e => e with
        {
            Backoff = new BackoffOptions { Min = TimeSpan.FromMilliseconds(50), Max = TimeSpan.FromMilliseconds(400), RandomFactor = 0 },
        });

        await using var subscription = await gateway.SubscribeAsync("feed", "/events");
        var events = await ReadAsync(subscription, 3);

        Assert.Equal(3, events.Count);
        var at = server.Connections.Select(c => c.At).ToList();
        Assert.Equal(7, at.Count);
        var gaps = at.Zip(at.Skip(1), (a, b) => b - a).ToList();
        _output.WriteLine(string.Join(", ", gaps.Select(g => $"{g.TotalMilliseconds:0} ms")));
        // 50, 100, 200, 400, 400, 400 ms with no jitter; a loaded machine only makes gaps longer.
        Assert.True(gaps[0] >= TimeSpan.FromMilliseconds(40), $"first retry after {gaps[0].TotalMilliseconds:0} ms, min is 50 ms");
        Assert.All(gaps.Skip(3), g => Assert.True(g >= TimeSpan.FromMilliseconds(350), $"a late retry after {g.TotalMilliseconds:0} ms: the backoff did not grow to the cap"));
        Assert.True(gaps[^1] < TimeSpan.FromMilliseconds(1500), $"the last retry after {gaps[^1].TotalMilliseconds:0} ms: the backoff grew past its 400 ms cap");
    }

    [Fact]
    public async Task A_silent_connection_is_taken_for_dead_after_the_read_timeout_and_resumed()
    {
        await using var server = await FaultySseServer.StartAsync();
        server.TotalEvents = 4;
        server.SilentAfter = 2;
        var gateway = Start(server.BaseAddress, e => e with { ReadTimeout = TimeSpan.FromMilliseconds(500) });

        await using var subscription = await gateway.SubscribeAsync("feed", "/events");
        var states = new System.Collections.Concurrent.ConcurrentQueue<SubscriptionState>();
        subscription.StateChanged += states.Enqueue;
        var first = await ReadAsync(subscription, 2);
        var clock = Stopwatch.StartNew();
        var next = await ReadAsync(subscription, 2);

        Assert.Equal([1, 2, 3, 4], first.Concat(next).Select(e => e.Json().GetProperty("n").GetInt32()));
        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(400), $"resumed after {clock.Elapsed.TotalMilliseconds:0} ms, before the read timeout");
        Assert.Equal("2", server.Connections[1].LastEventId);
        // The broken connection shows: reconnecting, then connected again.
        await Eventually.UntilAsync(() => Task.FromResult(states.ToArray()),
            seen => seen.Contains(SubscriptionState.Reconnecting) && seen[^1] == SubscriptionState.Connected, Bound, "reconnecting, then connected");
    }

    [Fact]
    public async Task Keep_alive_comments_keep_a_quiet_connection_alive()
    {
        await using var server = await FaultySseServer.StartAsync();
        server.TotalEvents = 1;
        server.KeepAliveEvery = TimeSpan.FromMilliseconds(100);
        var gateway = Start(server.BaseAddress, e => e with { ReadTimeout = TimeSpan.FromMilliseconds(500) });

        await using var subscription = await gateway.SubscribeAsync("feed", "/events");
        await ReadAsync(subscription, 1);
        await Task.Delay(TimeSpan.FromSeconds(2));

        Assert.Single(server.Connections);
        Assert.Equal(SubscriptionState.Connected, subscription.State);
    }

    [Fact]
    public async Task Malformed_lines_are_skipped_and_the_events_around_them_arrive()
    {
        await using var server = await FaultySseServer.StartAsync();
        server.TotalEvents = 5;
        server.MalformedLines = true;
        var gateway = Start(server.BaseAddress);

        await using var subscription = await gateway.SubscribeAsync("feed", "/events", ["tick"]);
        var events = await ReadAsync(subscription, 5);

        Assert.Equal([1, 2, 3, 4, 5], events.Select(e => e.Json().GetProperty("n").GetInt32()));
        Assert.Single(server.Connections);
    }

    [Fact]
    public async Task A_10_MB_event_fails_the_subscription_with_too_large()
    {
        await using var server = await FaultySseServer.StartAsync();
        server.TotalEvents = 3;
        server.Huge = (2, 10 * 1024 * 1024);
        var gateway = Start(server.BaseAddress, e => e with { MaxEventBytes = 1024 * 1024 });

        var subscription = await gateway.SubscribeAsync("feed", "/events");
        var first = await subscription.ReadAsync(new CancellationTokenSource(Bound).Token);
        var error = await Assert.ThrowsAsync<SarkTooLargeException>(async () => await subscription.Completion.WaitAsync(Bound));

        Assert.Equal("1", first.EventId);
        Assert.Contains("1048576", error.Message);
        Assert.Equal(SubscriptionState.Failed, subscription.State);
    }

    [Fact]
    public async Task The_fifty_first_subscription_is_refused_at_once_and_a_closed_one_frees_its_slot()
    {
        await using var server = await FaultySseServer.StartAsync();
        server.TotalEvents = 1;
        var gateway = Start(server.BaseAddress);
        var subscriptions = new List<EventSubscriptionReader>();
        for (var i = 0; i < 50; i++)
            subscriptions.Add(await gateway.SubscribeAsync("feed", "/events"));

        var clock = Stopwatch.StartNew();
        var refused = await Assert.ThrowsAsync<SarkException>(() => gateway.SubscribeAsync("feed", "/events"));
        clock.Stop();
        Assert.Equal(SarkErrorCode.StreamLimitReached, refused.Code);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), $"refused after {clock.Elapsed.TotalMilliseconds:0} ms");

        await subscriptions[0].DisposeAsync();
        // Completion also needs the unread events read.
        await Eventually.UntilAsync(() => Task.FromResult(subscriptions[0].TryRead(out _) || subscriptions[0].Completion.IsCompleted),
            done => subscriptions[0].Completion.IsCompleted, Bound, "the closed subscription's reader completing");
        Assert.Equal(SubscriptionState.Closed, subscriptions[0].State);
        var again = await Eventually.UntilAsync(async () =>
        {
            try
            {
                return await gateway.SubscribeAsync("feed", "/events");
            }
            catch (SarkException ex) when (ex.Code == SarkErrorCode.StreamLimitReached)
            {
                return null;
            }
        }, s => s is not null, Bound, "a slot after closing one");
        subscriptions.Add(again!);
        foreach (var subscription in subscriptions.Skip(1))
            await subscription.DisposeAsync();
    }

    [Fact]
    public async Task A_path_to_another_origin_is_refused()
    {
        await using var server = await FaultySseServer.StartAsync();
        var gateway = Start(server.BaseAddress);

        await Assert.ThrowsAsync<SarkInvalidRequestException>(() => gateway.SubscribeAsync("feed", "//evil.example/events"));
        await Assert.ThrowsAsync<SarkInvalidRequestException>(() => gateway.SubscribeAsync("feed", "http://evil.example/events"));
        await Assert.ThrowsAsync<SarkNotFoundException>(() => gateway.SubscribeAsync("nope", "/events"));
        Assert.Empty(server.Connections);
    }
}
