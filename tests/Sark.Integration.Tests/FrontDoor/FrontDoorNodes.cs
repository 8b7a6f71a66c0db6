using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Sark.Integration.Tests.Infrastructure;

namespace Sark.Integration.Tests.FrontDoor;

/// <summary>A node started from <see cref="Config"/> for one spec class, ready when its upstreams are.</summary>
public abstract class FrontDoorNodeFixture : IAsyncLifetime
{
    /// <summary>Two callers with their own API keys, allowed everything by the policy.</summary>
    public const string AliceKey = "fd-alice-key-3b9f0c7e51a2";
    public const string BobKey = "fd-bob-key-8d24e6a1f07c";

    private NodeProcess? _node;

    public NodeProcess Node => _node ?? throw new InvalidOperationException("The node has not started.");

    public Uri Mcp => new(Node.BaseAddress, "/mcp");

    public Uri Sse => new(Node.BaseAddress, "/sse");

    protected abstract string Config { get; }

    /// <summary>The two API-key callers, with anonymous callers off.</summary>
    protected static string TwoCallers => $$"""
        sark.auth {
          anonymous.enabled = false
          api-keys = [
            { sha256 = "{{Sha256(AliceKey)}}", subject = alice, roles = [developer] }
            { sha256 = "{{Sha256(BobKey)}}", subject = bob, roles = [developer] }
          ]
        }
        sark.policy.embedded.rules = [ { name = spec-callers, effect = allow, subjects = [alice, bob] } ]
        """;

    public async Task InitializeAsync()
    {
        _node = await NodeProcess.StartAsync(Config).ConfigureAwait(false);
        await DemoNodeFixture.WaitUntilReadyAsync(_node).ConfigureAwait(false);
    }

    public async Task DisposeAsync()
    {
        if (_node is not null)
            await _node.DisposeAsync().ConfigureAwait(false);
    }

    private static string Sha256(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));
}

/// <summary>Raw MCP over HTTP, for what an SDK client does not let a spec do (foreign session ids, bad headers).</summary>
internal static class RawMcp
{
    public const string ProtocolVersion = "2025-06-18";

    /// <summary>The revision whose streams carry event ids (resumable with <c>Last-Event-ID</c>).</summary>
    public const string ResumableProtocolVersion = "2025-11-25";

    public const string InitializeBody =
        """{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"sark-spec","version":"1"}}}""";

    public const string InitializedBody = """{"jsonrpc":"2.0","method":"notifications/initialized"}""";

    public const string ListToolsBody = """{"jsonrpc":"2.0","id":2,"method":"tools/list"}""";

    /// <summary>A Streamable HTTP POST as a client sends it.</summary>
    public static HttpRequestMessage Post(Uri endpoint, string body, string? apiKey, string? sessionId = null, string protocolVersion = ProtocolVersion)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, endpoint) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        return WithSession(request, apiKey, sessionId, protocolVersion);
    }

    public static HttpRequestMessage WithSession(HttpRequestMessage request, string? apiKey, string? sessionId, string protocolVersion = ProtocolVersion)
    {
        if (apiKey is not null)
            request.Headers.Add("X-API-Key", apiKey);
        if (sessionId is not null)
        {
            request.Headers.Add("Mcp-Session-Id", sessionId);
            request.Headers.Add("MCP-Protocol-Version", protocolVersion);
        }

        return request;
    }

    /// <summary>initialize + notifications/initialized; returns the new session's id.</summary>
    public static async Task<string> OpenSessionAsync(
        HttpClient http, Uri endpoint, string? apiKey, CancellationToken cancellationToken, string protocolVersion = ProtocolVersion)
    {
        var initialize = InitializeBody.Replace(ProtocolVersion, protocolVersion, StringComparison.Ordinal);
        using var response = await http.SendAsync(Post(endpoint, initialize, apiKey), cancellationToken);
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"initialize: {(int)response.StatusCode} {body}");
        var id = Assert.Single(response.Headers.GetValues("Mcp-Session-Id"));
        using var initialized = await http.SendAsync(Post(endpoint, InitializedBody, apiKey, id, protocolVersion), cancellationToken);
        Assert.Equal(HttpStatusCode.Accepted, initialized.StatusCode);
        return id;
    }

    public static async Task DeleteSessionAsync(HttpClient http, Uri endpoint, string? apiKey, string sessionId, CancellationToken cancellationToken)
    {
        using var request = WithSession(new HttpRequestMessage(HttpMethod.Delete, endpoint), apiKey, sessionId);
        using var response = await http.SendAsync(request, cancellationToken);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    /// <summary>The <c>error.code</c> of a body: our string code, or a JSON-RPC number as text.</summary>
    public static async Task<string> ErrorCodeAsync(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync();
        using var document = JsonDocument.Parse(body);
        var code = document.RootElement.GetProperty("error").GetProperty("code");
        return code.ValueKind == JsonValueKind.Number ? code.GetInt32().ToString(CultureInfo.InvariantCulture) : code.GetString()!;
    }

    /// <summary>The value of a gauge at <c>/metrics</c> (0 when it has no sample yet).</summary>
    public static async Task<double> GaugeAsync(HttpClient http, string name, string? label = null)
    {
        var text = await http.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        foreach (var line in text.Split('\n'))
        {
            if (label is not null && !line.Contains(label, StringComparison.Ordinal))
                continue;
            if (line.StartsWith(name + "{", StringComparison.Ordinal) || line.StartsWith(name + " ", StringComparison.Ordinal))
                return double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture);
        }

        return 0;
    }

    /// <summary>
    /// Polls a gauge until it has <paramref name="value"/>. The exporter caches a scrape for a
    /// moment, so a spec waits for a value it has not seen yet, or uses it only as a barrier.
    /// </summary>
    public static Task WaitForGaugeAsync(HttpClient http, string name, double value, TimeSpan timeout, string? label = null) =>
        Eventually.UntilAsync(() => GaugeAsync(http, name, label), v => v == value, timeout, $"{name}{(label is null ? "" : " " + label)} becoming {value}");
}

/// <summary>An open SSE response read line by line (the legacy <c>/sse</c> stream or a GET stream).</summary>
internal sealed class SseReader : IAsyncDisposable
{
    private readonly HttpResponseMessage _response;
    private readonly StreamReader _reader;

    private SseReader(HttpResponseMessage response, StreamReader reader)
    {
        _response = response;
        _reader = reader;
    }

    public HttpResponseMessage Response => _response;

    /// <summary>Sends <paramref name="request"/> and returns once the headers are in.</summary>
    public static async Task<SseReader> OpenAsync(HttpClient http, HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
        return new SseReader(response, new StreamReader(stream));
    }

    /// <summary>A legacy stream: <c>GET /sse</c> as <paramref name="apiKey"/>.</summary>
    public static Task<SseReader> OpenLegacyAsync(HttpClient http, Uri sse, string? apiKey, CancellationToken cancellationToken, string? userAgent = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, sse);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        if (apiKey is not null)
            request.Headers.Add("X-API-Key", apiKey);
        if (userAgent is not null)
            request.Headers.UserAgent.ParseAdd(userAgent);
        return OpenAsync(http, request, cancellationToken);
    }

    /// <summary>The next line; null at the end of the stream.</summary>
    public async Task<string?> ReadLineAsync(CancellationToken cancellationToken) => await _reader.ReadLineAsync(cancellationToken);

    /// <summary>Reads until a line starts with <paramref name="prefix"/> and returns it; fails at the end of the stream.</summary>
    public async Task<string> ReadUntilAsync(string prefix, CancellationToken cancellationToken)
    {
        for (var i = 0; i < 10_000; i++)
        {
            var line = await ReadLineAsync(cancellationToken) ?? throw new InvalidOperationException($"The stream ended before a line starting with '{prefix}'.");
            if (line.StartsWith(prefix, StringComparison.Ordinal))
                return line;
        }

        throw new InvalidOperationException($"No line starting with '{prefix}' in 10000 lines.");
    }

    /// <summary>The <c>error.code</c> of a refusal's JSON body (the rest of the response).</summary>
    public async Task<string> ErrorCodeAsync(CancellationToken cancellationToken)
    {
        using var document = JsonDocument.Parse(await _reader.ReadToEndAsync(cancellationToken));
        return document.RootElement.GetProperty("error").GetProperty("code").GetString()!;
    }

    /// <summary>The <c>/messages?sessionId=…</c> URL of the legacy endpoint event.</summary>
    public async Task<string> ReadEndpointAsync(CancellationToken cancellationToken)
    {
        await ReadUntilAsync("event: endpoint", cancellationToken);
        var data = await ReadUntilAsync("data: ", cancellationToken);
        return data["data: ".Length..];
    }

    public ValueTask DisposeAsync()
    {
        _reader.Dispose();
        _response.Dispose();
        return ValueTask.CompletedTask;
    }
}

/// <summary>A request body whose length is not known up front, so that it goes out chunked.</summary>
internal sealed class UnannouncedStream(byte[] bytes) : MemoryStream(bytes)
{
    public override bool CanSeek => false;
}
