using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using Sark.Integration.Tests.FrontDoor;
using Sark.Integration.Tests.Infrastructure;

namespace Sark.Integration.Tests;

/// <summary>
/// Policy at the MCP front door: two API keys with different roles see different tool lists,
/// and a denied call is an <c>isError</c> result with <c>policy_denied</c> in <c>_meta.sark</c>;
/// an upstream killed mid-call is an error result and the session goes on.
/// </summary>
public sealed class FrontDoorPolicySpecs
{
    private const string AdminKey = "fd-admin-key-0001";
    private const string ReaderKey = "fd-reader-key-0002";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private static string Hash(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    private static string Config => $$"""
        sark {
          node.shutdown-drain = 2s
          auth {
            anonymous.enabled = false
            api-keys = [
              { sha256 = "{{Hash(AdminKey)}}", subject = "root", roles = [admin] }
              { sha256 = "{{Hash(ReaderKey)}}", subject = "reader", roles = [reader] }
            ]
          }
          policy.embedded.rules = [
            { name = admin-all, effect = allow, roles = [admin] }
            { name = reader-echo, effect = allow, roles = [reader], servers = [demo], tools = [echo, stats] }
          ]
          {{NodeConfigs.DemoUpstream("backoff { min = 200ms, max = 1s }")}}
        }
        """;

    [Fact]
    public async Task Two_roles_see_different_tools_and_a_denied_call_is_a_policy_denied_error_result()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        await using var node = await NodeProcess.StartAsync(Config);
        await DemoNodeFixture.WaitUntilReadyAsync(node);
        await using var admin = await FrontDoorClients.ConnectAsync(node, timeout.Token, apiKey: AdminKey);
        await using var reader = await FrontDoorClients.ConnectAsync(node, timeout.Token, apiKey: ReaderKey);

        var adminTools = (await admin.ListToolsAsync(cancellationToken: timeout.Token)).Select(t => t.Name).ToHashSet();
        var readerTools = (await reader.ListToolsAsync(cancellationToken: timeout.Token)).Select(t => t.Name).Order(StringComparer.Ordinal).ToArray();

        Assert.Equal(["demo__echo", "demo__stats"], readerTools);
        Assert.Contains("demo__add", adminTools);
        Assert.Contains("demo__slow", adminTools);

        var denied = await reader.CallToolAsync("demo__add", new Dictionary<string, object?> { ["a"] = 1, ["b"] = 2 }, cancellationToken: timeout.Token);
        Assert.True(denied.IsError);
        Assert.Equal("policy_denied", denied.Meta?["sark"]?["code"]?.GetValue<string>());
        Assert.StartsWith("policy_denied: ", Assert.IsType<TextContentBlock>(denied.Content[0]).Text);

        var allowed = await admin.CallToolAsync("demo__add", new Dictionary<string, object?> { ["a"] = 1, ["b"] = 2 }, cancellationToken: timeout.Token);
        Assert.NotEqual(true, allowed.IsError);
        Assert.Equal("3", Assert.IsType<TextContentBlock>(allowed.Content[0]).Text);
    }

    [Theory]
    [InlineData(HttpTransportMode.StreamableHttp)]
    [InlineData(HttpTransportMode.Sse)]
    public async Task A_policy_reload_sends_list_changed_and_the_next_listing_shows_the_new_rules(HttpTransportMode mode)
    {
        using var timeout = new CancellationTokenSource(Timeout);
        await using var node = await NodeProcess.StartAsync(Config);
        await DemoNodeFixture.WaitUntilReadyAsync(node);
        var tools = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var prompts = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var reader = await FrontDoorClients.ConnectAsync(node, timeout.Token, new McpClientOptions
        {
            Handlers = new McpClientHandlers
            {
                NotificationHandlers =
                [
                    new(NotificationMethods.ToolListChangedNotification, (_, _) => Completed(tools)),
                    new(NotificationMethods.PromptListChangedNotification, (_, _) => Completed(prompts)),
                ],
            },
        }, apiKey: ReaderKey, path: mode == HttpTransportMode.Sse ? "/sse" : "/mcp", mode: mode);
        Assert.Equal(["demo__echo", "demo__stats"], (await reader.ListToolsAsync(cancellationToken: timeout.Token)).Select(t => t.Name).Order(StringComparer.Ordinal));

        var text = await File.ReadAllTextAsync(node.ConfigPath!, timeout.Token);
        await File.WriteAllTextAsync(node.ConfigPath!, text.Replace("tools = [echo, stats]", "tools = [echo, stats, add]", StringComparison.Ordinal), timeout.Token);
        // No catalog change comes with it: only the reload can send list_changed here.
        await ProcessTools.SignalAsync(node.ProcessId, "HUP");
        try
        {
            await Task.WhenAll(tools.Task, prompts.Task).WaitAsync(TimeSpan.FromSeconds(20), timeout.Token);
        }
        catch (TimeoutException ex)
        {
            throw new InvalidOperationException($"no list_changed after SIGHUP (tools: {tools.Task.IsCompleted}, prompts: {prompts.Task.IsCompleted})\nnode log:\n{node.Stdout}\n{node.Stderr}", ex);
        }

        Assert.Equal(["demo__add", "demo__echo", "demo__stats"], (await reader.ListToolsAsync(cancellationToken: timeout.Token)).Select(t => t.Name).Order(StringComparer.Ordinal));
    }

    private static ValueTask Completed(TaskCompletionSource signal)
    {
        signal.TrySetResult();
        return ValueTask.CompletedTask;
    }

    [Theory]
    [InlineData(HttpTransportMode.StreamableHttp)]
    [InlineData(HttpTransportMode.Sse)]
    public async Task The_single_server_endpoint_is_authorized_as_the_aggregated_one(HttpTransportMode mode)
    {
        using var timeout = new CancellationTokenSource(Timeout);
        await using var node = await NodeProcess.StartAsync(Config);
        await DemoNodeFixture.WaitUntilReadyAsync(node);
        var path = FrontDoorServerSpecs.PathOf("demo", mode);
        await using var reader = await FrontDoorClients.ConnectAsync(node, timeout.Token, apiKey: ReaderKey, path: path, mode: mode);

        var tools = (await reader.ListToolsAsync(cancellationToken: timeout.Token)).Select(t => t.Name).Order(StringComparer.Ordinal).ToArray();
        var denied = await reader.CallToolAsync("add", new Dictionary<string, object?> { ["a"] = 1, ["b"] = 2 }, cancellationToken: timeout.Token);

        Assert.Equal(["echo", "stats"], tools);
        Assert.True(denied.IsError);
        Assert.Equal("policy_denied", denied.Meta?["sark"]?["code"]?.GetValue<string>());
        await Assert.ThrowsAnyAsync<Exception>(() => FrontDoorClients.ConnectAsync(node, timeout.Token, path: path, mode: mode));
    }

    [Fact]
    public async Task A_server_the_policy_hides_from_the_caller_is_404_not_found_at_its_single_server_endpoints()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        // A second demo process, "other", which the reader's rule does not name.
        var config = Config + "\nsark {\n" + NodeConfigs.DemoUpstream().Replace("upstreams.demo", "upstreams.other", StringComparison.Ordinal) + "\n}\n";
        await using var node = await NodeProcess.StartAsync(config);
        await DemoNodeFixture.WaitUntilReadyAsync(node);
        var other = new Uri(node.BaseAddress, "/servers/other/mcp");

        using var readerInitialize = await node.Http.SendAsync(RawMcp.Post(other, RawMcp.InitializeBody, ReaderKey), timeout.Token);
        await using var readerSse = await SseReader.OpenLegacyAsync(node.Http, new Uri(node.BaseAddress, "/servers/other/sse"), ReaderKey, timeout.Token);
        await using var admin = await FrontDoorClients.ConnectAsync(node, timeout.Token, apiKey: AdminKey, path: "/servers/other/mcp");
        await using var reader = await FrontDoorClients.ConnectAsync(node, timeout.Token, apiKey: ReaderKey, path: "/servers/demo/mcp");

        Assert.Equal(HttpStatusCode.NotFound, readerInitialize.StatusCode);
        Assert.Equal("not_found", await RawMcp.ErrorCodeAsync(readerInitialize));
        Assert.Equal(HttpStatusCode.NotFound, readerSse.Response.StatusCode);
        Assert.Equal("not_found", await readerSse.ErrorCodeAsync(timeout.Token));
        Assert.Contains(await admin.ListToolsAsync(cancellationToken: timeout.Token), t => t.Name == "echo");
        Assert.Contains(await reader.ListToolsAsync(cancellationToken: timeout.Token), t => t.Name == "echo");
    }

    [Fact]
    public async Task A_client_without_a_key_is_refused_before_the_mcp_handshake()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        await using var node = await NodeProcess.StartAsync(Config);

        await Assert.ThrowsAnyAsync<Exception>(() => FrontDoorClients.ConnectAsync(node, timeout.Token));
    }

    [Fact]
    public async Task An_upstream_killed_mid_call_is_an_error_result_and_the_session_goes_on()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        await using var node = await NodeProcess.StartAsync(Config);
        await DemoNodeFixture.WaitUntilReadyAsync(node);
        await using var client = await FrontDoorClients.ConnectAsync(node, timeout.Token, apiKey: AdminKey);
        var pid = (await StatsAsync(client, timeout.Token)).GetProperty("pid").GetInt32();

        var call = client.CallToolAsync("demo__slow", new Dictionary<string, object?> { ["ms"] = 30_000 }, cancellationToken: timeout.Token).AsTask();
        await Eventually.UntilAsync(async () => (await StatsAsync(client, timeout.Token)).GetProperty("calls").TryGetProperty("slow", out _), started => started,
            Timeout, "the slow call reaching the demo server");
        ProcessTools.KillQuietly(pid);

        var result = await call;
        Assert.True(result.IsError);
        Assert.Equal("upstream_unavailable", result.Meta?["sark"]?["code"]?.GetValue<string>());

        // The same session lists and, once the supervisor has started a fresh process, calls again.
        Assert.Contains(await client.ListToolsAsync(cancellationToken: timeout.Token), t => t.Name == "demo__echo");
        var echo = await Eventually.UntilAsync(
            () => client.CallToolAsync("demo__echo", new Dictionary<string, object?> { ["message"] = "back" }, cancellationToken: timeout.Token).AsTask(),
            r => r.IsError != true, Timeout, "the demo upstream answering again");
        Assert.Equal("Echo: back", Assert.IsType<TextContentBlock>(echo.Content[0]).Text);
        Assert.NotEqual(pid, (await StatsAsync(client, timeout.Token)).GetProperty("pid").GetInt32());
    }

    private static async Task<JsonElement> StatsAsync(McpClient client, CancellationToken cancellationToken)
    {
        var result = await client.CallToolAsync("demo__stats", new Dictionary<string, object?>(), cancellationToken: cancellationToken);
        Assert.NotEqual(true, result.IsError);
        return JsonDocument.Parse(Assert.IsType<TextContentBlock>(result.Content[0]).Text).RootElement.Clone();
    }
}
