using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace Sark.Benchmarks.Load;

/// <summary>The baseline: the official MCP C# SDK client straight to one server-everything process.</summary>
internal sealed class DirectTarget : IEchoTarget
{
    private static readonly IReadOnlyDictionary<string, object?> Arguments = new Dictionary<string, object?> { ["message"] = EchoReply.Message };

    private readonly McpClient _client;

    private DirectTarget(McpClient client, int? peerPid)
    {
        _client = client;
        PeerPid = peerPid;
    }

    public string Name => "direct";

    public int? PeerPid { get; }

    public int? GatewayPid => null;

    public static async Task<DirectTarget> StartAsync(RepoLayout layout, CancellationToken cancellationToken)
    {
        var before = ProcStat.Children(Environment.ProcessId);
        var transport = new StdioClientTransport(new StdioClientTransportOptions
        {
            Command = "node",
            Arguments = [layout.EverythingScript, "stdio"],
            Name = "everything",
            WorkingDirectory = layout.Root,
        });
        var client = await McpClient.CreateAsync(transport, cancellationToken: cancellationToken).ConfigureAwait(false);
        var started = ProcStat.Children(Environment.ProcessId);
        started.ExceptWith(before);
        return new DirectTarget(client, started.Count == 1 ? started.First() : null);
    }

    public void Prepare(int workers)
    {
    }

    public async ValueTask<bool> CallAsync(int worker, CancellationToken cancellationToken)
    {
        var result = await _client.CallToolAsync("echo", Arguments, cancellationToken: cancellationToken).ConfigureAwait(false);
        return result.IsError != true
            && result.Content.Count > 0
            && result.Content[0] is TextContentBlock { Text: EchoReply.Expected };
    }

    public ValueTask DisposeAsync() => _client.DisposeAsync();
}
