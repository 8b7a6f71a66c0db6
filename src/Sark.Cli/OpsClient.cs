using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;

namespace Sark.Cli;

/// <summary>The node could not be reached, or the connection ended: exit code 3.</summary>
internal sealed class UnreachableException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>The node refused the session (a wrong or missing token, too many sessions): exit code 1.</summary>
internal sealed class RefusedException(string code, string message) : Exception(message)
{
    public string Code { get; } = code;
}

/// <summary>
/// A connection to a node's command host: reads <c>hello</c>, sends the token when asked, downloads
/// the catalogue, then runs commands one at a time (docs/operations.md describes the frames).
/// </summary>
internal sealed class OpsClient : IAsyncDisposable
{
    private readonly TcpClient _tcp;
    private readonly StreamReader _reader;
    private readonly Stream _stream;
    private long _ids;

    private OpsClient(string address, TcpClient tcp, JsonObject hello, Catalogue catalogue, StreamReader reader)
    {
        Address = address;
        _tcp = tcp;
        _stream = tcp.GetStream();
        _reader = reader;
        Hello = hello;
        Catalogue = catalogue;
    }

    public string Address { get; }

    public JsonObject Hello { get; }

    public Catalogue Catalogue { get; }

    public string Node => Hello["node"]?.GetValue<string>() ?? "node";

    /// <summary>HOST:PORT, or HOST (port 9110).</summary>
    public static (string Host, int Port) ParseAddress(string address)
    {
        var colon = address.LastIndexOf(':');
        if (colon < 0)
            return (address, 9110);
        if (!int.TryParse(address.AsSpan(colon + 1), out var port) || port is < 1 or > 65535)
            throw new ArgumentException($"'{address}' is not HOST:PORT (for example 127.0.0.1:9110).");
        return (address[..colon].Trim('[', ']'), port);
    }

    public static async Task<OpsClient> ConnectAsync(string address, string? token, TimeSpan timeout, CancellationToken ct)
    {
        var (host, port) = ParseAddress(address);
        var tcp = new TcpClient { NoDelay = true };
        try
        {
            using var connect = CancellationTokenSource.CreateLinkedTokenSource(ct);
            connect.CancelAfter(timeout);
            try
            {
                await tcp.ConnectAsync(host, port, connect.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is SocketException or OperationCanceledException)
            {
                throw new UnreachableException(ex is OperationCanceledException
                    ? $"no answer within {timeout.TotalSeconds:0}s"
                    : ex.Message, ex);
            }

            var reader = new StreamReader(tcp.GetStream(), new UTF8Encoding(false));
            var hello = await ReadFrameAsync(reader, connect.Token).ConfigureAwait(false);
            ThrowIfRefused(hello);
            if (hello.Text("type") != "hello")
                throw new UnreachableException($"the node at {address} did not greet as a Sark command host");
            if (hello["auth_required"]?.GetValue<bool>() == true)
            {
                if (string.IsNullOrEmpty(token))
                    throw new RefusedException("unauthenticated", "this node requires a token: pass --token or set SARK_OPS_TOKEN");
                await WriteAsync(tcp.GetStream(), new JsonObject { ["type"] = "auth", ["token"] = token }, connect.Token).ConfigureAwait(false);
            }

            var catalogue = await ReadFrameAsync(reader, connect.Token).ConfigureAwait(false);
            ThrowIfRefused(catalogue);
            return new OpsClient(address, tcp, hello, Catalogue.Parse(catalogue), reader);
        }
        catch
        {
            tcp.Dispose();
            throw;
        }
    }

    /// <summary>Runs one command; <paramref name="onFrame"/> sees every table, row and line frame. Returns the final frame.</summary>
    public async Task<JsonObject> RunAsync(IReadOnlyList<string> argv, TimeSpan? timeout, Action<JsonObject> onFrame, CancellationToken ct)
    {
        var id = (++_ids).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var run = new JsonObject { ["type"] = "run", ["id"] = id, ["argv"] = new JsonArray([.. argv.Select(a => (JsonNode?)a)]) };
        if (timeout is { } t)
            run["timeout_ms"] = (long)t.TotalMilliseconds;
        await WriteAsync(_stream, run, ct).ConfigureAwait(false);
        using var cancelling = ct.Register(() => _ = WriteAsync(_stream, new JsonObject { ["type"] = "cancel", ["id"] = id }, CancellationToken.None));
        while (true)
        {
            var frame = await ReadFrameAsync(_reader, CancellationToken.None).ConfigureAwait(false);
            var frameId = frame.Text("id");
            if (frame.Text("type") == "final" && (frameId == id || frameId is null))
                return frame;
            if (frameId == id)
                onFrame(frame);
        }
    }

    public ValueTask DisposeAsync()
    {
        _reader.Dispose();
        _tcp.Dispose();
        return ValueTask.CompletedTask;
    }

    private static void ThrowIfRefused(JsonObject frame)
    {
        if (frame.Text("type") == "final" && frame["ok"]?.GetValue<bool>() == false)
            throw new RefusedException(frame.Text("code") ?? "error", frame.Text("message") ?? "refused");
    }

    private static async Task WriteAsync(Stream stream, JsonObject frame, CancellationToken ct)
    {
        try
        {
            await stream.WriteAsync(Encoding.UTF8.GetBytes(frame.ToJsonString() + "\n"), ct).ConfigureAwait(false);
            await stream.FlushAsync(ct).ConfigureAwait(false);
        }
        catch (IOException ex)
        {
            throw new UnreachableException("the connection to the node was lost", ex);
        }
    }

    private static async Task<JsonObject> ReadFrameAsync(StreamReader reader, CancellationToken ct)
    {
        string? line;
        try
        {
            line = await reader.ReadLineAsync(ct).ConfigureAwait(false);
        }
        catch (IOException ex)
        {
            throw new UnreachableException("the connection to the node was lost", ex);
        }

        if (line is null)
            throw new UnreachableException("the node closed the connection");
        return JsonNode.Parse(line) as JsonObject ?? throw new UnreachableException("the node sent something that is not a frame");
    }
}

internal static class FrameExtensions
{
    public static string? Text(this JsonObject frame, string name) =>
        frame[name] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
}
