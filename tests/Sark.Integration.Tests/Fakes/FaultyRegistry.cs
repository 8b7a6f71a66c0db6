using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Sark.Actors.Upstreams.Gateway;

namespace Sark.Integration.Tests.Fakes;

/// <summary>
/// A gateway registry of our own that speaks the registry contract (original spec section 1.3) and
/// injects faults on demand: Kestrel on 127.0.0.1, a free port, <see cref="ServerCount"/> synthetic servers
/// (<c>server-0000</c>…) with <see cref="ToolsPerServer"/> tools each. Faults are switched by setting the
/// properties of <see cref="Faults"/> at any time; counters tell the specs what the client really sent.
/// </summary>
internal sealed class FaultyRegistry : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, int> _requests = new(StringComparer.Ordinal);
    private int _stormLeft;
    private int _resetsLeft;

    private FaultyRegistry(WebApplication app, int serverCount, int toolsPerServer)
    {
        _app = app;
        ServerCount = serverCount;
        ToolsPerServer = toolsPerServer;
    }

    /// <summary>How many servers the registry lists.</summary>
    public int ServerCount { get; }

    /// <summary>How many tools every server has.</summary>
    public int ToolsPerServer { get; }

    /// <summary>The registry's base address, <c>http://127.0.0.1:port</c>.</summary>
    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>The faults now in force; change them at any time.</summary>
    public RegistryFaults Faults { get; } = new();

    /// <summary>Requests received on every path (query left out), including those a fault answered.</summary>
    public int TotalRequests => _requests.Values.Sum();

    /// <summary>Starts a registry of <paramref name="servers"/> servers with <paramref name="toolsPerServer"/> tools each.</summary>
    public static async Task<FaultyRegistry> StartAsync(int servers = 10, int toolsPerServer = 3)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(servers);
        ArgumentOutOfRangeException.ThrowIfNegative(toolsPerServer);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var registry = new FaultyRegistry(app, servers, toolsPerServer);
        registry.Map(app);
        await app.StartAsync().ConfigureAwait(false);
        registry.BaseAddress = new Uri(app.Urls.Single());
        return registry;
    }

    /// <summary>Requests received on <paramref name="path"/> (for example <c>/api/v1/servers</c>).</summary>
    public int RequestsTo(string path) => _requests.TryGetValue(path, out var n) ? n : 0;

    /// <summary>The <c>X-Request-ID</c> and <c>X-API-Key</c> headers of every invoke request received, in order.</summary>
    public IReadOnlyList<(string? RequestId, string? ApiKey)> InvokeHeaders => [.. _invokeHeaders];

    private readonly System.Collections.Concurrent.ConcurrentQueue<(string? RequestId, string? ApiKey)> _invokeHeaders = new();

    private readonly ConcurrentQueue<ReceivedRequest> _received = new();

    /// <summary>Every request received, in order, with the headers the specs check.</summary>
    public IReadOnlyList<ReceivedRequest> Received => [.. _received];

    /// <summary>Answers the next <paramref name="count"/> requests with <paramref name="status"/> (and <c>Retry-After</c> when given).</summary>
    public void StartStatusStorm(HttpStatusCode status, int count, TimeSpan? retryAfter = null, string? path = null)
    {
        Faults.StormStatus = status;
        Faults.StormRetryAfter = retryAfter;
        Faults.StormPath = path;
        Volatile.Write(ref _stormLeft, count);
    }

    /// <summary>Aborts the connection of the next <paramref name="count"/> requests without an answer.</summary>
    public void ResetNext(int count) => Volatile.Write(ref _resetsLeft, count);

    /// <summary>The id of the synthetic server at <paramref name="index"/>.</summary>
    public static string ServerName(int index) => $"server-{index:D4}";

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }

    private void Map(WebApplication app)
    {
        app.Use(async (context, next) =>
        {
            _requests.AddOrUpdate(context.Request.Path.Value ?? "/", 1, (_, n) => n + 1);
            _received.Enqueue(new ReceivedRequest(
                context.Request.Method, context.Request.Path.Value ?? "/", context.Request.QueryString.Value ?? "",
                context.Request.Headers["X-Request-ID"].FirstOrDefault(), context.Request.Headers["traceparent"].FirstOrDefault(),
                context.Request.Headers.Authorization.FirstOrDefault()));
            if (context.Request.Path == "/api/v1/invoke")
                _invokeHeaders.Enqueue((context.Request.Headers["X-Request-ID"].FirstOrDefault(), context.Request.Headers["X-API-Key"].FirstOrDefault()));
            if (Faults.Latency is { } latency && latency > TimeSpan.Zero)
                await Task.Delay(latency, context.RequestAborted).ConfigureAwait(false);
            if (TakeOne(ref _resetsLeft))
            {
                context.Abort();
                return;
            }

            if ((Faults.StormPath is null || context.Request.Path == Faults.StormPath) && TakeOne(ref _stormLeft))
            {
                context.Response.StatusCode = (int)Faults.StormStatus;
                if (Faults.StormRetryAfter is { } retry)
                    context.Response.Headers.RetryAfter = ((int)Math.Ceiling(retry.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
                await WriteJsonAsync(context, """{"error":"storm"}""").ConfigureAwait(false);
                return;
            }

            if (Faults.MalformedJson)
            {
                await WriteJsonAsync(context, """{"servers": [{"server_id": "x", """).ConfigureAwait(false);
                return;
            }

            await next(context).ConfigureAwait(false);
        });

        app.MapGet("/health", context => WriteJsonAsync(context, Faults.Unhealthy ? """{"status":"unhealthy"}""" : """{"status":"healthy"}"""));
        app.MapGet("/api/v1/servers", ServersAsync);
        app.MapGet("/api/v1/servers/{name}", ServerAsync);
        app.MapGet("/api/v1/tools", ToolsAsync);
        app.MapPost("/api/v1/invoke", InvokeAsync);
    }

    private Task ServersAsync(HttpContext context)
    {
        var (offset, limit) = Window(context.Request, ServerCount);
        var servers = Enumerable.Range(offset, Math.Clamp(ServerCount - offset, 0, limit)).Select(Server).ToList();
        var page = new ServerPageDto(servers, NextOffset(offset, servers.Count, ServerCount), Faults.SendTotal ? ServerCount : null);
        return WriteAsync(context, JsonSerializer.SerializeToUtf8Bytes(page, RegistryJsonContext.Default.ServerPageDto));
    }

    private Task ServerAsync(HttpContext context)
    {
        var name = (string)context.Request.RouteValues["name"]!;
        if (!name.StartsWith("server-", StringComparison.Ordinal) || !int.TryParse(name.AsSpan("server-".Length), out var index)
            || index >= ServerCount || ServerName(index) != name)
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return WriteJsonAsync(context, """{"error":"no such server"}""");
        }

        return WriteAsync(context, JsonSerializer.SerializeToUtf8Bytes(Server(index), RegistryJsonContext.Default.ServerInfoDto));
    }

    private Task ToolsAsync(HttpContext context)
    {
        var filter = context.Request.Query["server"].ToString();
        var serverIndex = -1;
        if (filter.Length > 0 && (!filter.StartsWith("server-", StringComparison.Ordinal)
            || !int.TryParse(filter.AsSpan("server-".Length), out serverIndex) || serverIndex >= ServerCount || ServerName(serverIndex) != filter))
        {
            var empty = new ToolPageDto([], null, Faults.SendTotal ? 0 : null);
            return WriteAsync(context, JsonSerializer.SerializeToUtf8Bytes(empty, RegistryJsonContext.Default.ToolPageDto));
        }

        var count = serverIndex >= 0 ? ToolsPerServer : ServerCount * ToolsPerServer;
        var first = serverIndex >= 0 ? serverIndex * ToolsPerServer : 0;
        var (offset, limit) = Window(context.Request, count);
        var tools = Enumerable.Range(first + offset, Math.Clamp(count - offset, 0, limit)).Select(Tool).ToList();
        var page = new ToolPageDto(tools, NextOffset(offset, tools.Count, count), Faults.SendTotal ? count : null);
        return WriteAsync(context, JsonSerializer.SerializeToUtf8Bytes(page, RegistryJsonContext.Default.ToolPageDto));
    }

    private async Task InvokeAsync(HttpContext context)
    {
        InvokeRequestDto? request;
        try
        {
            request = await JsonSerializer.DeserializeAsync(context.Request.Body, RegistryJsonContext.Default.InvokeRequestDto, context.RequestAborted).ConfigureAwait(false);
        }
        catch (JsonException)
        {
            request = null;
        }

        if (request is null)
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            await WriteJsonAsync(context, """{"error":"body must be {server, tool, parameters}"}""").ConfigureAwait(false);
            return;
        }

        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("status", "success");
            writer.WritePropertyName("result");
            if (request.Parameters.ValueKind == JsonValueKind.Undefined)
                writer.WriteNullValue();
            else
                request.Parameters.WriteTo(writer);
            writer.WriteEndObject();
        }

        await WriteAsync(context, buffer.ToArray()).ConfigureAwait(false);
    }

    /// <summary>The (offset, limit) this page answers, after the paging faults.</summary>
    private (int Offset, int Limit) Window(HttpRequest request, int count)
    {
        var limit = int.TryParse(request.Query["limit"], out var l) ? Math.Clamp(l, 1, 1000) : 100;
        var offset = int.TryParse(request.Query["offset"], out var o) ? Math.Max(o, 0) : 0;
        if (Faults.IgnoreOffset)
            offset = 0;
        else if (Faults.RepeatPageAtOffset is { } repeatAt && offset == repeatAt)
            offset = Math.Max(0, offset - limit);
        return (Math.Min(offset, count), limit);
    }

    private int? NextOffset(int offset, int pageCount, int count) =>
        Faults.SendNextOffset && offset + pageCount < count ? offset + pageCount : null;

    private ServerInfoDto Server(int index) => new(
        ServerId: $"id-{index:D4}",
        ServerName: ServerName(index),
        ServerUrl: $"http://127.0.0.1:{9000 + (index % 1000)}/mcp",
        SensitivityLevel: (index % 4) switch { 0 => "low", 1 => "medium", 2 => "high", _ => "critical" },
        AuthorizedTeams: ["team-" + (index % 3)],
        AccessRestrictions: null,
        HealthStatus: "healthy",
        ToolsCount: ToolsPerServer,
        CreatedAt: null,
        UpdatedAt: null);

    private ToolInfoDto Tool(int globalIndex) => new(
        ToolName: $"tool-{globalIndex % ToolsPerServer:D2}",
        ServerName: ServerName(globalIndex / ToolsPerServer),
        Description: $"Synthetic tool {globalIndex % ToolsPerServer}",
        SensitivityLevel: "medium",
        Parameters: [new ToolParameterDto("text", "string", true, null)],
        SensitiveParams: [],
        RequiredCapabilities: []);

    private Task WriteAsync(HttpContext context, byte[] json)
    {
        if (Faults.OversizedBodyBytes is { } size && size > 0 && json.Length > 2)
        {
            // Valid JSON, just too big: {"padding":"xxx…", then the real members.
            using var padded = new MemoryStream(json.Length + size + 16);
            padded.Write("{\"padding\":\""u8);
            padded.Write(Enumerable.Repeat((byte)'x', size).ToArray());
            padded.Write("\","u8);
            padded.Write(json.AsSpan(1));
            json = padded.ToArray();
        }

        context.Response.ContentType = "application/json";
        context.Response.ContentLength = json.Length;
        return context.Response.Body.WriteAsync(json, context.RequestAborted).AsTask();
    }

    private static Task WriteJsonAsync(HttpContext context, string json)
    {
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync(json, context.RequestAborted);
    }

    private static bool TakeOne(ref int left)
    {
        while (true)
        {
            var now = Volatile.Read(ref left);
            if (now <= 0)
                return false;
            if (Interlocked.CompareExchange(ref left, now - 1, now) == now)
                return true;
        }
    }
}

/// <summary>The switchable faults of a <see cref="FaultyRegistry"/>. Every property may change while requests run.</summary>
internal sealed class RegistryFaults
{
    /// <summary>Added before every answer.</summary>
    public TimeSpan? Latency { get; set; }

    /// <summary>The status of a storm started with <see cref="FaultyRegistry.StartStatusStorm"/>.</summary>
    public HttpStatusCode StormStatus { get; set; } = HttpStatusCode.ServiceUnavailable;

    /// <summary>Only requests to this path are answered by the storm (all paths when null).</summary>
    public string? StormPath { get; set; }

    /// <summary>The <c>Retry-After</c> of storm answers, if any.</summary>
    public TimeSpan? StormRetryAfter { get; set; }

    /// <summary>Every answer is truncated JSON (status 200).</summary>
    public bool MalformedJson { get; set; }

    /// <summary>When set, every JSON answer of the contract routes carries a padding field of this many bytes.</summary>
    public int? OversizedBodyBytes { get; set; }

    /// <summary>Every page is the first page, whatever <c>offset</c> says.</summary>
    public bool IgnoreOffset { get; set; }

    /// <summary>The page asked for at this offset is answered with the page before it.</summary>
    public int? RepeatPageAtOffset { get; set; }

    /// <summary>Pages carry <c>next_offset</c> (absent on the last page).</summary>
    public bool SendNextOffset { get; set; }

    /// <summary>Pages carry <c>total</c>.</summary>
    public bool SendTotal { get; set; }

    /// <summary><c>GET /health</c> answers <c>{"status":"unhealthy"}</c>.</summary>
    public bool Unhealthy { get; set; }
}

/// <summary>One request a <see cref="FaultyRegistry"/> received.</summary>
internal sealed record ReceivedRequest(string Method, string Path, string Query, string? RequestId, string? TraceParent, string? Authorization);
