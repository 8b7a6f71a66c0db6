using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace Sark.Benchmarks.Load;

/// <summary>The mcp-http baseline: the official MCP C# SDK client over streamable HTTP, straight to server-everything.</summary>
internal sealed class McpHttpDirectTarget : IEchoTarget
{
    private static readonly IReadOnlyDictionary<string, object?> Arguments = new Dictionary<string, object?> { ["message"] = EchoReply.Message };

    private readonly McpClient _client;

    private McpHttpDirectTarget(McpClient client, int peerPid)
    {
        _client = client;
        PeerPid = peerPid;
    }

    public string Name => "direct";

    public int? PeerPid { get; }

    public int? GatewayPid => null;

    public static async Task<McpHttpDirectTarget> StartAsync(EverythingHttp server, CancellationToken cancellationToken)
    {
        var transport = new HttpClientTransport(new HttpClientTransportOptions
        {
            Endpoint = new Uri(server.Url),
            Name = "everything",
            TransportMode = HttpTransportMode.StreamableHttp,
        });
        var client = await McpClient.CreateAsync(transport, cancellationToken: cancellationToken).ConfigureAwait(false);
        return new McpHttpDirectTarget(client, server.Pid);
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
