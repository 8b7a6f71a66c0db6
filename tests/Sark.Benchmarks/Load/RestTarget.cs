using System.Net;
using System.Net.Http.Headers;
using System.Text;

namespace Sark.Benchmarks.Load;

/// <summary>The node path: <c>POST /api/v1/invoke</c> to a Sark node process, with one pooled HttpClient.</summary>
internal sealed class RestTarget : IEchoTarget
{
    private static readonly byte[] Body = Encoding.UTF8.GetBytes(
        """{"server":"everything","tool":"echo","parameters":{"message":"hi"}}""");

    private readonly NodeProcess _node;
    private readonly HttpClient _http;
    private readonly Uri _invoke;
    private byte[][] _buffers = [];

    private RestTarget(string name, NodeProcess node, HttpClient http, int? peerPid)
    {
        Name = name;
        _node = node;
        _http = http;
        _invoke = new Uri(node.BaseAddress, "/api/v1/invoke");
        PeerPid = peerPid;
    }

    /// <summary><c>rest</c> for the node, <c>kestrel</c> for the bare Kestrel endpoint.</summary>
    public string Name { get; }

    public int? PeerPid { get; }

    public int? GatewayPid => _node.Pid;

    public int NodePid => _node.Pid;

    public static HttpClient NewClient() => new(new SocketsHttpHandler
    {
        UseProxy = false,
        AllowAutoRedirect = false,
        PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
        PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
        MaxConnectionsPerServer = 256,
        AutomaticDecompression = DecompressionMethods.None,
    })
    {
        Timeout = TimeSpan.FromSeconds(30),
    };

    /// <summary>Starts the node with <paramref name="config"/> and waits until <c>everything</c> is ready.</summary>
    public static async Task<RestTarget> StartAsync(string hostDll, string config) =>
        await ConnectAsync("rest", await NodeProcess.StartAsync(hostDll, config, TimeSpan.FromSeconds(60)).ConfigureAwait(false)).ConfigureAwait(false);

    /// <summary>
    /// Starts this harness's own bare Kestrel endpoint (<see cref="KestrelFloorServer"/>) as a
    /// child process, with server GC like the node, and waits until <c>everything</c> is ready.
    /// </summary>
    public static async Task<RestTarget> StartKestrelAsync(string config)
    {
        var self = Path.Combine(AppContext.BaseDirectory, "Sark.Benchmarks.dll");
        var node = await NodeProcess.StartAsync(
            self, [KestrelFloorServer.Command], config, TimeSpan.FromSeconds(60), new Dictionary<string, string> { ["DOTNET_gcServer"] = "1" }).ConfigureAwait(false);
        return await ConnectAsync("kestrel", node).ConfigureAwait(false);
    }

    private static async Task<RestTarget> ConnectAsync(string name, NodeProcess node)
    {
        var http = NewClient();
        try
        {
            var ready = await node.WaitUpstreamsReadyAsync(http, ["everything"], TimeSpan.FromSeconds(60)).ConfigureAwait(false);
            return new RestTarget(name, node, http, ready["everything"]);
        }
        catch
        {
            http.Dispose();
            await node.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public void Prepare(int workers)
    {
        if (_buffers.Length >= workers)
            return;
        _buffers = new byte[workers][];
        for (var i = 0; i < workers; i++)
            _buffers[i] = new byte[64 * 1024];
    }

    public ValueTask<bool> CallAsync(int worker, CancellationToken cancellationToken) =>
        InvokeEchoAsync(_http, _invoke, Body, _buffers[worker], cancellationToken);

    /// <summary>One <c>POST /api/v1/invoke</c> of <paramref name="body"/>; true when the answer is 200 and carries the echo.</summary>
    internal static async ValueTask<bool> InvokeEchoAsync(HttpClient http, Uri invoke, byte[] body, byte[] buffer, CancellationToken cancellationToken)
    {
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var response = await http.PostAsync(invoke, content, cancellationToken).ConfigureAwait(false);
        var length = 0;
        var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            int read;
            while (length < buffer.Length && (read = await stream.ReadAsync(buffer.AsMemory(length), cancellationToken).ConfigureAwait(false)) > 0)
                length += read;
        }

        return response.StatusCode == HttpStatusCode.OK && EchoReply.BodyHasEcho(buffer.AsSpan(0, length));
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        await _node.DisposeAsync().ConfigureAwait(false);
    }
}
