using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Sark.Integration.Tests.Fakes;

/// <summary>
/// A small MCP server of our own for the faults server-everything cannot make: Streamable HTTP on
/// <c>/mcp</c> (JSON answers, or an SSE answer that carries a notification first), a legacy
/// HTTP+SSE <c>/sse</c> whose <c>endpoint</c> event names <see cref="SseEndpoint"/>, sessions that it
/// expires on demand, protocol revisions it refuses, and a tool that never answers. Kestrel on
/// 127.0.0.1, a free port. Counters say what the client really sent.
/// </summary>
internal sealed class FakeMcpHttpServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, bool> _sessions = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _initializeVersions = new();
    private readonly ConcurrentQueue<string> _methods = new();
    private volatile bool _toolAdded;
    private int _expireLeft;
    private int _posts;

    private FakeMcpHttpServer(WebApplication app) => _app = app;

    public Uri BaseAddress { get; private set; } = null!;

    public string StreamableUrl => new Uri(BaseAddress, "/mcp").ToString();

    public string SseUrl => new Uri(BaseAddress, "/sse").ToString();

    /// <summary>What the <c>endpoint</c> event of <c>/sse</c> names (relative or absolute).</summary>
    public string SseEndpoint { get; set; } = "/messages";

    /// <summary>Revisions <c>initialize</c> accepts; any other is refused with a JSON-RPC error. Null: any.</summary>
    public IReadOnlySet<string>? AcceptedVersions { get; set; }

    /// <summary>The next this-many <c>tools/call</c>s on a session are answered with HTTP 404 and end the session.</summary>
    public int ExpireNextCalls
    {
        get => Volatile.Read(ref _expireLeft);
        set => Volatile.Write(ref _expireLeft, value);
    }

    /// <summary>The <c>protocolVersion</c> of every <c>initialize</c> received, in order.</summary>
    public IReadOnlyList<string> InitializeVersions => [.. _initializeVersions];

    /// <summary>Sessions created (one per accepted <c>initialize</c>).</summary>
    public int SessionsCreated => _initializeVersions.Count(v => AcceptedVersions is null || AcceptedVersions.Contains(v));

    /// <summary>Every JSON-RPC method received, in order (notifications too).</summary>
    public IReadOnlyList<string> Methods => [.. _methods];

    /// <summary>POSTs received on the legacy message endpoint <c>/messages</c>.</summary>
    public int LegacyPosts => Volatile.Read(ref _posts);

    /// <summary>The value of <c>X-Fake-Token</c> on the last request to <c>/mcp</c>.</summary>
    public string? LastToken { get; private set; }

    public static async Task<FakeMcpHttpServer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var server = new FakeMcpHttpServer(app);
        app.MapPost("/mcp", server.PostAsync);
        app.MapGet("/mcp", (HttpContext c) => c.Response.StatusCode = StatusCodes.Status405MethodNotAllowed);
        app.MapDelete("/mcp", (HttpContext c) => c.Response.StatusCode = StatusCodes.Status200OK);
        app.MapGet("/sse", server.SseAsync);
        app.MapPost("/messages", (HttpContext c) =>
        {
            Interlocked.Increment(ref server._posts);
            c.Response.StatusCode = StatusCodes.Status202Accepted;
        });
        await app.StartAsync().ConfigureAwait(false);
        server.BaseAddress = new Uri(app.Urls.Single());
        return server;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }

    private async Task SseAsync(HttpContext context)
    {
        context.Response.ContentType = "text/event-stream";
        await context.Response.WriteAsync($"event: endpoint\ndata: {SseEndpoint}\n\n", context.RequestAborted).ConfigureAwait(false);
        await context.Response.Body.FlushAsync(context.RequestAborted).ConfigureAwait(false);
        try
        {
            await Task.Delay(Timeout.Infinite, context.RequestAborted).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // The client went away.
        }
    }

    private async Task PostAsync(HttpContext context)
    {
        LastToken = context.Request.Headers["X-Fake-Token"].FirstOrDefault();
        using var body = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted).ConfigureAwait(false);
        var message = body.RootElement;
        var method = message.TryGetProperty("method", out var m) ? m.GetString()! : "";
        _methods.Enqueue(method);
        if (!message.TryGetProperty("id", out var idElement))
        {
            context.Response.StatusCode = StatusCodes.Status202Accepted; // a notification
            return;
        }

        var id = JsonNode.Parse(idElement.GetRawText());
        var session = context.Request.Headers["Mcp-Session-Id"].FirstOrDefault();
        var parameters = message.TryGetProperty("params", out var p) ? p : default;
        switch (method)
        {
            case "initialize":
                await InitializeAsync(context, id, parameters).ConfigureAwait(false);
                return;
            case "server/discover":
                await WriteJsonAsync(context, Error(id, -32601, "Method not found: server/discover")).ConfigureAwait(false);
                return;
        }

        if (session is null || !_sessions.ContainsKey(session))
        {
            context.Response.StatusCode = session is null ? StatusCodes.Status400BadRequest : StatusCodes.Status404NotFound;
            return;
        }

        switch (method)
        {
            case "tools/list":
                await WriteJsonAsync(context, Result(id, ToolList())).ConfigureAwait(false);
                return;
            case "tools/call":
                await CallAsync(context, id, session, parameters).ConfigureAwait(false);
                return;
            default:
                await WriteJsonAsync(context, Result(id, new JsonObject())).ConfigureAwait(false);
                return;
        }
    }

    private async Task InitializeAsync(HttpContext context, JsonNode? id, JsonElement parameters)
    {
        var version = parameters.GetProperty("protocolVersion").GetString()!;
        _initializeVersions.Enqueue(version);
        if (AcceptedVersions is { } accepted && !accepted.Contains(version))
        {
            await WriteJsonAsync(context, Error(id, -32602, $"Unsupported protocol version: {version}")).ConfigureAwait(false);
            return;
        }

        var session = Guid.NewGuid().ToString("N");
        _sessions[session] = true;
        context.Response.Headers["Mcp-Session-Id"] = session;
        await WriteJsonAsync(context, Result(id, new JsonObject
        {
            ["protocolVersion"] = version,
            ["capabilities"] = new JsonObject { ["tools"] = new JsonObject { ["listChanged"] = true } },
            ["serverInfo"] = new JsonObject { ["name"] = "fake-mcp", ["version"] = "1.0.0" },
        })).ConfigureAwait(false);
    }

    private async Task CallAsync(HttpContext context, JsonNode? id, string session, JsonElement parameters)
    {
        if (Interlocked.Decrement(ref _expireLeft) >= 0)
        {
            _sessions.TryRemove(session, out _);
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }

        Interlocked.Exchange(ref _expireLeft, 0);
        var tool = parameters.GetProperty("name").GetString();
        switch (tool)
        {
            case "hang":
                try
                {
                    await Task.Delay(Timeout.Infinite, context.RequestAborted).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    // The client gave up.
                }

                return;
            case "add-tool":
                // An SSE answer: the list_changed notification first, then the result.
                _toolAdded = true;
                context.Response.ContentType = "text/event-stream";
                var notification = new JsonObject { ["jsonrpc"] = "2.0", ["method"] = "notifications/tools/list_changed" };
                await context.Response.WriteAsync($"event: message\ndata: {notification.ToJsonString()}\n\n").ConfigureAwait(false);
                await context.Response.WriteAsync($"event: message\ndata: {Result(id, Text("added")).ToJsonString()}\n\n").ConfigureAwait(false);
                return;
            default:
                var text = parameters.TryGetProperty("arguments", out var args) && args.TryGetProperty("message", out var msg) ? msg.GetString() : "";
                await WriteJsonAsync(context, Result(id, Text($"Echo: {text}"))).ConfigureAwait(false);
                return;
        }
    }

    private JsonObject ToolList()
    {
        var tools = new JsonArray();
        foreach (var name in _toolAdded ? new[] { "echo", "hang", "add-tool", "added" } : ["echo", "hang", "add-tool"])
            tools.Add(new JsonObject { ["name"] = name, ["description"] = $"The {name} tool.", ["inputSchema"] = new JsonObject { ["type"] = "object" } });
        return new JsonObject { ["tools"] = tools };
    }

    private static JsonObject Text(string text) => new()
    {
        ["content"] = new JsonArray(new JsonObject { ["type"] = "text", ["text"] = text }),
    };

    private static JsonObject Result(JsonNode? id, JsonObject result) => new() { ["jsonrpc"] = "2.0", ["id"] = id, ["result"] = result };

    private static JsonObject Error(JsonNode? id, int code, string message) =>
        new() { ["jsonrpc"] = "2.0", ["id"] = id, ["error"] = new JsonObject { ["code"] = code, ["message"] = message } };

    private static Task WriteJsonAsync(HttpContext context, JsonObject body)
    {
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync(body.ToJsonString(), Encoding.UTF8);
    }
}
