using Sark.Integration.Tests.Infrastructure;

namespace Sark.Integration.Tests.FrontDoor;

/// <summary>server-everything under the name <c>every__thing</c>, which contains the separator: none of its prompts has a front-door name.</summary>
public sealed class FrontDoorHiddenPromptNodeFixture : FrontDoorNodeFixture
{
    public const string Server = "every__thing";

    protected override string Config => $$"""
        sark {
          node.shutdown-drain = 2s
          {{NodeConfigs.DemoUpstream()}}
          {{NodeConfigs.EverythingUpstream().Replace("upstreams.everything {", $"upstreams.{Server} {{", StringComparison.Ordinal)}}
        }
        """;
}

/// <summary>
/// A prompt whose front-door name does not fit is left out of <c>prompts/list</c> at <c>/mcp</c>,
/// logged at Warning and counted (<c>sark.frontdoor.prompts.hidden</c>) once per server and
/// prompt however often it is listed, and still listed at <c>/servers/{name}/mcp</c>.
/// </summary>
public sealed class FrontDoorHiddenPromptSpecs(FrontDoorHiddenPromptNodeFixture fixture) : IClassFixture<FrontDoorHiddenPromptNodeFixture>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Prompts_without_a_front_door_name_are_left_out_logged_once_and_counted_by_server()
    {
        const string server = FrontDoorHiddenPromptNodeFixture.Server;
        using var timeout = new CancellationTokenSource(Timeout);
        await using var all = await FrontDoorClients.ConnectAsync(fixture.Node, timeout.Token);
        await using var own = await FrontDoorClients.ConnectAsync(fixture.Node, timeout.Token, path: $"/servers/{server}/mcp");

        var ownPrompts = (await own.ListPromptsAsync(cancellationToken: timeout.Token)).Select(p => p.Name).ToArray();
        var aggregated = new List<string>();
        for (var i = 0; i < 3; i++)
            aggregated.AddRange((await all.ListPromptsAsync(cancellationToken: timeout.Token)).Select(p => p.Name));

        Assert.Contains("simple-prompt", ownPrompts);
        Assert.DoesNotContain(aggregated, n => n.StartsWith(server, StringComparison.Ordinal));
        await RawMcp.WaitForGaugeAsync(fixture.Node.Http, "sark_frontdoor_prompts_hidden_total", ownPrompts.Length, Timeout, label: $"server=\"{server}\"");
        var logged = await Eventually.UntilAsync(
            () => Task.FromResult(fixture.Node.Stdout.Lines.Where(l => l.Contains("is left out of prompts/list", StringComparison.Ordinal)).ToArray()),
            lines => lines.Length >= ownPrompts.Length, Timeout, "a warning for each prompt");
        Assert.Equal(ownPrompts.Length, logged.Length);
        var simple = Assert.Single(logged, l => l.Contains("prompt simple-prompt ", StringComparison.Ordinal));
        Assert.Contains($"its prompts are listed at /servers/{server}/mcp", simple, StringComparison.Ordinal);
    }
}
