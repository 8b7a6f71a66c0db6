using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using Sark.Integration.Tests.Infrastructure;

namespace Sark.Integration.Tests;

/// <summary>
/// Server-to-client requests relayed both ways at <c>/servers/{name}/mcp</c> (issue 7, item 5):
/// server-everything over stdio with <c>relay-client-requests = true</c> asks the front-door
/// client for a sampling and for an elicitation in the middle of a tool call; over Streamable HTTP
/// and over the legacy pair <c>/servers/{name}/sse</c> + <c>/messages</c>.
/// </summary>
public sealed class FrontDoorClientRelaySpecs
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private static string Config => $$"""
        sark {
          node.shutdown-drain = 2s
          {{NodeConfigs.EverythingUpstream("relay-client-requests = true")}}
        }
        """;

    [Theory]
    [InlineData(HttpTransportMode.StreamableHttp)]
    [InlineData(HttpTransportMode.Sse)]
    public async Task Sampling_and_elicitation_requests_of_the_upstream_are_answered_by_the_callers_client(HttpTransportMode mode)
    {
        using var timeout = new CancellationTokenSource(Timeout);
        await using var node = await NodeProcess.StartAsync(Config);
        await DemoNodeFixture.WaitUntilReadyAsync(node);
        var sampled = 0;
#pragma warning disable MCP9005 // Sampling is deprecated as of 2026-07-28; server-everything still asks for it.
        var handlers = new McpClientHandlers
        {
            SamplingHandler = (request, _, _) =>
            {
                Interlocked.Increment(ref sampled);
                return ValueTask.FromResult(new CreateMessageResult
                {
                    Role = Role.Assistant,
                    Model = "spec-model",
                    Content = [new TextContentBlock { Text = "sampled by the spec" }],
                });
            },
            ElicitationHandler = (_, _) => ValueTask.FromResult(new ElicitResult { Action = "decline" }),
        };
#pragma warning restore MCP9005
        await using var client = await FrontDoorClients.ConnectAsync(node, timeout.Token, new McpClientOptions { Handlers = handlers },
            path: FrontDoorServerSpecs.PathOf("everything", mode), mode: mode);

        var sampling = await client.CallToolAsync("trigger-sampling-request", new Dictionary<string, object?> { ["prompt"] = "hello" }, cancellationToken: timeout.Token);
        var elicitation = await client.CallToolAsync("trigger-elicitation-request", new Dictionary<string, object?>(), cancellationToken: timeout.Token);

        Assert.NotEqual(true, sampling.IsError);
        Assert.Contains("sampled by the spec", Assert.IsType<TextContentBlock>(sampling.Content[0]).Text, StringComparison.Ordinal);
        Assert.Equal(1, sampled);
        Assert.Contains(elicitation.Content, c => c is TextContentBlock t && t.Text.Contains("declined", StringComparison.Ordinal));
    }
}
