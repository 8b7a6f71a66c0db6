using System.Globalization;
using System.Net;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace Sark.Benchmarks.Load;

/// <summary>
/// MCP client sessions (the official C# SDK client) against an MCP endpoint over Streamable HTTP
/// or legacy HTTP+SSE. A run of S sessions × C calls in flight per session uses S × C workers:
/// worker w calls through session w / C. Every call sends a message of its own
/// (<c>w{worker}-{n}</c>) and its reply must be <c>Echo: </c> and that message: a reply that
/// carries another call's message is counted as crossed.
/// </summary>
internal sealed class McpSessionsTarget : IEchoTarget
{
    private readonly HttpClient _http;
    private readonly List<McpClient> _sessions = [];
    private readonly Uri _endpoint;
    private readonly HttpTransportMode _mode;
    private readonly string _tool;
    private long[] _sequence = [];
    private long _crossed;
    private string? _firstBadReply;

    private McpSessionsTarget(string name, Uri endpoint, HttpTransportMode mode, string tool, int? gatewayPid, int? peerPid)
    {
        Name = name;
        _endpoint = endpoint;
        _mode = mode;
        _tool = tool;
        GatewayPid = gatewayPid;
        PeerPid = peerPid;
        _http = new HttpClient(new SocketsHttpHandler
        {
            MaxConnectionsPerServer = int.MaxValue,
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(10),
            UseProxy = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
        })
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };
    }

    public string Name { get; }

    public int? PeerPid { get; }

    public int? GatewayPid { get; }

    /// <summary>The server's garbage probe; set by the command that knows what server it is.</summary>
    public ServerGc? ServerGc { get; set; }

    /// <summary>Calls per session in flight (the C of S × C); set before a run.</summary>
    public int PerSession { get; set; } = 1;

    /// <summary>Sessions open now.</summary>
    public int Sessions => _sessions.Count;

    /// <summary>The text of the first reply that was an error or had no text, for the report.</summary>
    public string? FirstBadReply => Volatile.Read(ref _firstBadReply);

    /// <summary>Replies so far that carried another call's message.</summary>
    public long Crossed => Interlocked.Read(ref _crossed);

    public static McpSessionsTarget Create(string name, Uri endpoint, HttpTransportMode mode, string tool, int? gatewayPid, int? peerPid) =>
        new(name, endpoint, mode, tool, gatewayPid, peerPid);

    /// <summary>Opens sessions (initialize, at most <paramref name="parallel"/> at once) until <paramref name="count"/> are open.</summary>
    public async Task OpenAsync(int count, int parallel, CancellationToken cancellationToken)
    {
        using var gate = new SemaphoreSlim(parallel);
        var opening = new List<Task<McpClient>>();
        for (var i = _sessions.Count; i < count; i++)
        {
            await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            opening.Add(OpenOneAsync(i, gate, cancellationToken));
        }

        foreach (var client in await Task.WhenAll(opening).ConfigureAwait(false))
            _sessions.Add(client);
    }

    private async Task<McpClient> OpenOneAsync(int index, SemaphoreSlim gate, CancellationToken cancellationToken)
    {
        try
        {
            var transport = new HttpClientTransport(
                new HttpClientTransportOptions
                {
                    Endpoint = _endpoint,
                    TransportMode = _mode,
                    Name = string.Create(CultureInfo.InvariantCulture, $"bench-{index}"),
                    ConnectionTimeout = TimeSpan.FromSeconds(30),
                },
                _http,
                loggerFactory: null,
                ownsHttpClient: false);
            return await McpClient.CreateAsync(transport, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            gate.Release();
        }
    }

    public void Prepare(int workers) => _sequence = new long[workers];

    public async ValueTask<bool> CallAsync(int worker, CancellationToken cancellationToken)
    {
        var session = _sessions[worker / PerSession % _sessions.Count];
        var message = string.Create(CultureInfo.InvariantCulture, $"w{worker}-{++_sequence[worker]}");
        var result = await session.CallToolAsync(_tool, new Dictionary<string, object?> { ["message"] = message }, cancellationToken: cancellationToken).ConfigureAwait(false);
        if (result.IsError == true || result.Content.Count == 0 || result.Content[0] is not TextContentBlock { Text: { } text })
        {
            Interlocked.CompareExchange(ref _firstBadReply, result.Content.Count > 0 && result.Content[0] is TextContentBlock { Text: { } bad } ? bad : "(no text content)", null);
            return false;
        }
        if (text.Length == message.Length + 6 && text.StartsWith("Echo: ", StringComparison.Ordinal) && text.AsSpan(6).SequenceEqual(message))
            return true;
        Interlocked.Increment(ref _crossed);
        return false;
    }

    /// <summary>Closes every session (DELETE in session mode, the SSE GET ends for legacy).</summary>
    public async Task CloseSessionsAsync()
    {
        foreach (var session in _sessions)
        {
            try
            {
                await session.DisposeAsync().ConfigureAwait(false);
            }
#pragma warning disable CA1031 // Closing is best effort: the server may be gone already.
            catch (Exception)
#pragma warning restore CA1031
            {
            }
        }

        _sessions.Clear();
    }

    public async ValueTask DisposeAsync()
    {
        await CloseSessionsAsync().ConfigureAwait(false);
        _http.Dispose();
    }
}
