using System.Collections.Concurrent;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using Sark.Integration.Tests.Infrastructure;

namespace Sark.Integration.Tests;

/// <summary>One upstream, unprefixed: <c>/servers/{name}/mcp</c> (issue 7, item 5), through the official C# SDK client.</summary>
public sealed class FrontDoorServerSpecs(RelayNodeFixture fixture) : IClassFixture<RelayNodeFixture>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task One_server_is_served_with_its_own_tool_names_and_nothing_of_the_others()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        await using var everything = await FrontDoorClients.ConnectAsync(fixture.Node, timeout.Token, path: "/servers/everything/mcp");
        await using var demo = await FrontDoorClients.ConnectAsync(fixture.Node, timeout.Token, path: "/servers/demo/mcp");

        var everythingTools = (await everything.ListToolsAsync(cancellationToken: timeout.Token)).Select(t => t.Name).ToHashSet();
        var demoTools = (await demo.ListToolsAsync(cancellationToken: timeout.Token)).Select(t => t.Name).ToHashSet();

        Assert.Contains("trigger-long-running-operation", everythingTools);
        Assert.DoesNotContain("slow", everythingTools);
        Assert.Contains("slow", demoTools);
        Assert.DoesNotContain(demoTools, n => n.Contains("__", StringComparison.Ordinal));
        var echo = await demo.CallToolAsync("echo", new Dictionary<string, object?> { ["message"] = "one" }, cancellationToken: timeout.Token);
        Assert.Equal("Echo: one", Assert.IsType<TextContentBlock>(echo.Content[0]).Text);
    }

    [Fact]
    public async Task Progress_resources_and_prompts_keep_the_upstreams_own_names()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        await using var client = await FrontDoorClients.ConnectAsync(fixture.Node, timeout.Token, path: "/servers/everything/mcp");
        var updates = new ConcurrentQueue<ProgressNotificationValue>();

        var result = await client.CallToolAsync("trigger-long-running-operation", new Dictionary<string, object?> { ["duration"] = 1, ["steps"] = 2 },
            new Progress(updates.Enqueue), cancellationToken: timeout.Token);
        var resources = await client.ListResourcesAsync(cancellationToken: timeout.Token);
        var read = await client.ReadResourceAsync("demo://resource/dynamic/text/3", cancellationToken: timeout.Token);
        var prompt = await client.GetPromptAsync("simple-prompt", cancellationToken: timeout.Token);

        Assert.NotEqual(true, result.IsError);
        Assert.Equal([1f, 2f], updates.Select(u => u.Progress));
        Assert.All(resources, r => Assert.StartsWith("demo://resource/", r.Uri));
        Assert.Equal("demo://resource/dynamic/text/3", Assert.Single(read.Contents).Uri);
        Assert.Single(prompt.Messages);
    }

    [Fact]
    public async Task An_unknown_server_is_an_invalid_params_error()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        await using var client = await FrontDoorClients.ConnectAsync(fixture.Node, timeout.Token, path: "/servers/nobody/mcp");

        var ex = await Assert.ThrowsAsync<McpProtocolException>(() => client.ListToolsAsync(cancellationToken: timeout.Token).AsTask());

        Assert.Equal(McpErrorCode.InvalidParams, ex.ErrorCode);
    }

    private sealed class Progress(Action<ProgressNotificationValue> report) : IProgress<ProgressNotificationValue>
    {
        public void Report(ProgressNotificationValue value) => report(value);
    }
}
