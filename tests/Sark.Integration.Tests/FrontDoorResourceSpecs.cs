using System.Security.Cryptography;
using System.Text;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using Sark.Integration.Tests.Infrastructure;

namespace Sark.Integration.Tests;

/// <summary>
/// Resources and prompts at the MCP front door, aggregated and namespaced: server-everything's
/// (the demo server has none, and is left out), through the official C# SDK client.
/// </summary>
public sealed class FrontDoorResourceSpecs(RelayNodeFixture fixture) : IClassFixture<RelayNodeFixture>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Resources_are_listed_under_sark_uris_and_read_back_through_them()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        await using var client = await FrontDoorClients.ConnectAsync(fixture.Node, timeout.Token);

        var resources = await client.ListResourcesAsync(cancellationToken: timeout.Token);

        Assert.NotEmpty(resources);
        Assert.All(resources, r => Assert.StartsWith("sark://everything/demo://resource/", r.Uri));
        var first = resources[0];
        var read = await client.ReadResourceAsync(first.Uri, cancellationToken: timeout.Token);
        var content = Assert.Single(read.Contents);
        Assert.Equal(first.Uri, content.Uri);
    }

    [Fact]
    public async Task A_template_stays_expandable_and_its_expansion_reads_the_upstream_resource()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        await using var client = await FrontDoorClients.ConnectAsync(fixture.Node, timeout.Token);

        var templates = await client.ListResourceTemplatesAsync(cancellationToken: timeout.Token);
        Assert.Contains(templates, t => t.UriTemplate == "sark://everything/demo://resource/dynamic/text/{resourceId}");

        var read = await client.ReadResourceAsync("sark://everything/demo://resource/dynamic/text/7", cancellationToken: timeout.Token);
        var text = Assert.IsType<TextResourceContents>(Assert.Single(read.Contents));
        Assert.Equal("sark://everything/demo://resource/dynamic/text/7", text.Uri);
        Assert.Contains("7", text.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Prompts_are_listed_namespaced_and_got_through_their_name()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        await using var client = await FrontDoorClients.ConnectAsync(fixture.Node, timeout.Token);

        var prompts = await client.ListPromptsAsync(cancellationToken: timeout.Token);
        Assert.Contains(prompts, p => p.Name == "everything__simple-prompt");
        Assert.DoesNotContain(prompts, p => !p.Name.StartsWith("everything__", StringComparison.Ordinal));

        var prompt = await client.GetPromptAsync("everything__simple-prompt", cancellationToken: timeout.Token);
        var message = Assert.Single(prompt.Messages);
        Assert.Equal("This is a simple prompt without arguments.", Assert.IsType<TextContentBlock>(message.Content).Text);
    }

    [Theory]
    [InlineData("demo://resource/static/document/x")]
    [InlineData("sark://nobody/demo://x")]
    public async Task An_unknown_resource_is_an_invalid_params_error(string uri)
    {
        using var timeout = new CancellationTokenSource(Timeout);
        await using var client = await FrontDoorClients.ConnectAsync(fixture.Node, timeout.Token);

        var ex = await Assert.ThrowsAsync<McpProtocolException>(() => client.ReadResourceAsync(uri, cancellationToken: timeout.Token).AsTask());

        Assert.Equal(McpErrorCode.InvalidParams, ex.ErrorCode);
    }

    [Fact]
    public async Task An_upstream_refusal_of_a_read_is_relayed_as_its_json_rpc_error()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        await using var client = await FrontDoorClients.ConnectAsync(fixture.Node, timeout.Token);

        var ex = await Assert.ThrowsAsync<McpProtocolException>(() =>
            client.ReadResourceAsync("sark://everything/demo://resource/no-such-thing", cancellationToken: timeout.Token).AsTask());

        Assert.Contains("upstream_error", ex.Data["code"]?.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_read_the_policy_denies_is_an_invalid_request_error_with_policy_denied()
    {
        const string key = "fd-resource-reader-0001";
        var config = $$"""
            sark {
              node.shutdown-drain = 2s
              auth {
                anonymous.enabled = false
                api-keys = [ { sha256 = "{{Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)))}}", subject = "reader", roles = [reader] } ]
              }
              policy.embedded.rules = [
                { name = reader-servers, effect = allow, roles = [reader], actions = ["server:list"] }
                { name = reader-docs, effect = allow, roles = [reader], actions = ["resource:read"], tools = ["demo://resource/static/*"] }
              ]
              {{NodeConfigs.EverythingUpstream()}}
            }
            """;
        using var timeout = new CancellationTokenSource(Timeout);
        await using var node = await NodeProcess.StartAsync(config);
        await DemoNodeFixture.WaitUntilReadyAsync(node);
        await using var client = await FrontDoorClients.ConnectAsync(node, timeout.Token, apiKey: key);

        var document = (await client.ListResourcesAsync(cancellationToken: timeout.Token)).First(r => r.Uri.Contains("/static/", StringComparison.Ordinal));
        var allowed = await client.ReadResourceAsync(document.Uri, cancellationToken: timeout.Token);
        var denied = await Assert.ThrowsAsync<McpProtocolException>(() =>
            client.ReadResourceAsync("sark://everything/demo://resource/dynamic/text/1", cancellationToken: timeout.Token).AsTask());

        Assert.Equal(document.Uri, Assert.Single(allowed.Contents).Uri);
        Assert.Equal(McpErrorCode.InvalidRequest, denied.ErrorCode);
        Assert.Equal("policy_denied", denied.Data["code"]?.ToString());
        Assert.Empty(await client.ListToolsAsync(cancellationToken: timeout.Token));
    }
}
