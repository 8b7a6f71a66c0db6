using System.Net;

namespace Sark.Integration.Tests.Infrastructure;

/// <summary>
/// One node with the demo upstream, shared by the read-mostly specs (CI has two cores).
/// Its request body limit is 64 KiB so that the size limit can be tested cheaply.
/// </summary>
public sealed class DemoNodeFixture : IAsyncLifetime
{
    public static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(30);

    private NodeProcess? _node;

    public NodeProcess Node => _node ?? throw new InvalidOperationException("The node has not started.");

    public HttpClient Http => Node.Http;

    public async Task InitializeAsync()
    {
        _node = await NodeProcess.StartAsync(NodeConfigs.Demo(maxRequestBody: "64KiB")).ConfigureAwait(false);
        await WaitUntilReadyAsync(_node).ConfigureAwait(false);
    }

    public async Task DisposeAsync()
    {
        if (_node is not null)
            await _node.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Polls <c>/health/ready</c> until it answers 200, for at most <see cref="ReadyTimeout"/>.</summary>
    public static async Task WaitUntilReadyAsync(NodeProcess node)
    {
        try
        {
            await Eventually.UntilAsync(() => ProbeReadyAsync(node), r => r.Status == HttpStatusCode.OK, ReadyTimeout, "the node becoming ready")
                .ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not InvalidOperationException)
        {
            throw new InvalidOperationException($"{ex.Message}\n{node.Describe()}", ex);
        }
    }

    /// <summary>One bounded readiness probe; no answer in time counts as not ready.</summary>
    private static async Task<(HttpStatusCode? Status, string Body)> ProbeReadyAsync(NodeProcess node)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            using var response = await node.Http.GetAsync("/health/ready", timeout.Token).ConfigureAwait(false);
            return (response.StatusCode, await response.Content.ReadAsStringAsync(timeout.Token).ConfigureAwait(false));
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException)
        {
            return (null, $"no answer: {ex.Message}");
        }
    }
}

/// <summary>The specs that share <see cref="DemoNodeFixture"/>'s node.</summary>
[CollectionDefinition(Name)]
public sealed class DemoNodeCollection : ICollectionFixture<DemoNodeFixture>
{
    public const string Name = "demo node";
}
