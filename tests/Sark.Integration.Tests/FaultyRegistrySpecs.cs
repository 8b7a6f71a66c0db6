using System.Net;
using System.Text;
using System.Text.Json;
using Sark.Actors.Upstreams.Gateway;
using Sark.Integration.Tests.Fakes;
using Sark.Integration.Tests.Infrastructure;

namespace Sark.Integration.Tests;

/// <summary>The fault-injecting registry does what the gateway upstream's specs will rely on.</summary>
public sealed class FaultyRegistrySpecs
{
    private static HttpClient ClientOf(FaultyRegistry registry) => new() { BaseAddress = registry.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };

    /// <summary>Walks <c>GET /api/v1/servers</c> with <see cref="OffsetPager"/>; returns every server name and the final step.</summary>
    private static async Task<(List<string> Names, PagerStep Final)> WalkServersAsync(HttpClient http, OffsetPager pager)
    {
        var names = new List<string>();
        var request = pager.First;
        while (true)
        {
            var body = await http.GetByteArrayAsync($"/api/v1/servers?offset={request.Offset}&limit={request.Limit}");
            var page = RegistryContract.ParseServerPage(body, "registry");
            Assert.True(page.IsOk, page.Error);
            names.AddRange(page.Value!.Servers.Select(s => s.ServerName));
            var step = pager.Next(page.Value.Servers.Length, page.Value.Fingerprint, page.Value.NextOffset, page.Value.Total);
            if (step is not PagerStep.Fetch fetch)
                return (names, step);
            request = fetch.Request;
        }
    }

    [Theory]
    [InlineData(false, false, 11)]
    [InlineData(true, false, 10)]
    [InlineData(false, true, 11)]
    [InlineData(true, true, 10)]
    public async Task Paging_walks_all_10000_servers_at_page_size_1000_to_the_exact_count(bool sendTotal, bool sendNextOffset, int expectedRequests)
    {
        await using var registry = await FaultyRegistry.StartAsync(servers: 10_000, toolsPerServer: 1);
        registry.Faults.SendTotal = sendTotal;
        registry.Faults.SendNextOffset = sendNextOffset;
        using var http = ClientOf(registry);

        var (names, final) = await WalkServersAsync(http, new OffsetPager(pageSize: 1000));

        Assert.Equal(new PagerStep.Done(expectedRequests, 10_000), final);
        Assert.Equal(10_000, names.Count);
        Assert.Equal(Enumerable.Range(0, 10_000).Select(FaultyRegistry.ServerName), names);
        Assert.Equal(expectedRequests, registry.RequestsTo("/api/v1/servers"));
    }

    [Fact]
    public async Task The_ignore_offset_fault_makes_the_pager_fail_instead_of_looping()
    {
        await using var registry = await FaultyRegistry.StartAsync(servers: 50);
        registry.Faults.IgnoreOffset = true;
        using var http = ClientOf(registry);

        var (_, final) = await WalkServersAsync(http, new OffsetPager(pageSize: 10));

        var failed = Assert.IsType<PagerStep.Failed>(final);
        Assert.StartsWith("the registry ignored offset: page 2 repeated page 1", failed.Reason);
        Assert.Equal(2, registry.RequestsTo("/api/v1/servers"));
    }

    [Fact]
    public async Task The_repeat_page_fault_makes_the_pager_fail_at_the_repeated_page()
    {
        await using var registry = await FaultyRegistry.StartAsync(servers: 50);
        registry.Faults.RepeatPageAtOffset = 30;
        using var http = ClientOf(registry);

        var (names, final) = await WalkServersAsync(http, new OffsetPager(pageSize: 10));

        var failed = Assert.IsType<PagerStep.Failed>(final);
        Assert.Contains("page 4 repeated page 3", failed.Reason);
        Assert.Equal(40, names.Count);
    }

    [Fact]
    public async Task A_503_storm_answers_503_n_times_with_retry_after_then_recovers()
    {
        await using var registry = await FaultyRegistry.StartAsync();
        registry.StartStatusStorm(HttpStatusCode.ServiceUnavailable, count: 3, retryAfter: TimeSpan.FromSeconds(2));
        using var http = ClientOf(registry);

        for (var i = 0; i < 3; i++)
        {
            using var storm = await http.GetAsync("/health");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, storm.StatusCode);
            Assert.Equal(TimeSpan.FromSeconds(2), storm.Headers.RetryAfter?.Delta);
        }

        using var recovered = await http.GetAsync("/health");
        var body = await recovered.JsonAsync();
        Assert.Equal("healthy", body.GetProperty("status").GetString());
        Assert.Equal(4, registry.RequestsTo("/health"));
    }

    [Fact]
    public async Task A_429_storm_carries_its_status()
    {
        await using var registry = await FaultyRegistry.StartAsync();
        registry.StartStatusStorm(HttpStatusCode.TooManyRequests, count: 1);
        using var http = ClientOf(registry);

        using var first = await http.GetAsync("/api/v1/servers");
        using var second = await http.GetAsync("/api/v1/servers");

        Assert.Equal(HttpStatusCode.TooManyRequests, first.StatusCode);
        Assert.Null(first.Headers.RetryAfter);
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
    }

    [Fact]
    public async Task A_reset_produces_an_HttpRequestException_and_the_next_request_is_answered()
    {
        await using var registry = await FaultyRegistry.StartAsync();
        registry.ResetNext(1);
        using var http = ClientOf(registry);

        await Assert.ThrowsAsync<HttpRequestException>(() => http.GetAsync("/api/v1/servers"));
        using var after = await http.GetAsync("/api/v1/servers");

        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
        Assert.Equal(2, registry.RequestsTo("/api/v1/servers"));
    }

    [Fact]
    public async Task Malformed_json_is_refused_by_the_contract_parser_with_a_message()
    {
        await using var registry = await FaultyRegistry.StartAsync();
        registry.Faults.MalformedJson = true;
        using var http = ClientOf(registry);

        var page = RegistryContract.ParseServerPage(await http.GetByteArrayAsync("/api/v1/servers"), "registry");

        Assert.False(page.IsOk);
        Assert.Contains("not the expected JSON", page.Error);
    }

    [Fact]
    public async Task An_oversized_body_is_still_a_valid_page_of_the_requested_size()
    {
        await using var registry = await FaultyRegistry.StartAsync(servers: 3);
        registry.Faults.OversizedBodyBytes = 5_000_000;
        using var http = ClientOf(registry);

        var body = await http.GetByteArrayAsync("/api/v1/servers");
        var page = RegistryContract.ParseServerPage(body, "registry");

        Assert.True(body.Length > 5_000_000, $"body was {body.Length} bytes");
        Assert.True(page.IsOk, page.Error);
        Assert.Equal(3, page.Value!.Servers.Length);
    }

    [Fact]
    public async Task Tools_are_listed_for_all_servers_or_for_one_with_the_server_filter()
    {
        await using var registry = await FaultyRegistry.StartAsync(servers: 4, toolsPerServer: 3);
        registry.Faults.SendTotal = true;
        using var http = ClientOf(registry);

        var all = RegistryContract.ParseToolPage(await http.GetByteArrayAsync("/api/v1/tools?offset=0&limit=100"));
        var one = RegistryContract.ParseToolPage(await http.GetByteArrayAsync("/api/v1/tools?server=server-0002&offset=1&limit=100"));
        var none = RegistryContract.ParseToolPage(await http.GetByteArrayAsync("/api/v1/tools?server=nope"));

        Assert.True(all.IsOk, all.Error);
        Assert.Equal(12, all.Value!.Tools.Length);
        Assert.Equal(12, all.Value.Total);
        Assert.True(one.IsOk, one.Error);
        Assert.Equal(["tool-01", "tool-02"], one.Value!.Tools.Select(t => t.ToolName));
        Assert.All(one.Value.Tools, t => Assert.Equal("server-0002", t.ServerName));
        Assert.Equal(3, one.Value.Total);
        Assert.Empty(none.Value!.Tools);
    }

    [Fact]
    public async Task Invoke_echoes_the_parameters_back_as_the_result()
    {
        await using var registry = await FaultyRegistry.StartAsync();
        using var http = ClientOf(registry);
        using var parameters = JsonDocument.Parse("""{"text":"hello","n":3}""");
        var request = JsonSerializer.Serialize(new InvokeRequestDto("server-0001", "tool-00", parameters.RootElement), RegistryJsonContext.Default.InvokeRequestDto);

        using var response = await http.PostAsync("/api/v1/invoke", new StringContent(request, Encoding.UTF8, "application/json"));
        var body = await response.JsonAsync();

        Assert.Equal("success", body.GetProperty("status").GetString());
        Assert.Equal("hello", body.GetProperty("result").GetProperty("text").GetString());
        Assert.Equal(3, body.GetProperty("result").GetProperty("n").GetInt32());
        Assert.Equal(1, registry.RequestsTo("/api/v1/invoke"));
    }

    [Fact]
    public async Task Latency_delays_every_answer_by_at_least_the_configured_time()
    {
        await using var registry = await FaultyRegistry.StartAsync();
        registry.Faults.Latency = TimeSpan.FromMilliseconds(300);
        using var http = ClientOf(registry);

        var clock = System.Diagnostics.Stopwatch.StartNew();
        using var response = await http.GetAsync("/health");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(290), $"answered after {clock.Elapsed.TotalMilliseconds:0} ms");
    }
}
