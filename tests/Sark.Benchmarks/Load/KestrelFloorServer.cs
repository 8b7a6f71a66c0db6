using System.Buffers;
using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Sark.Actors;
using Sark.Actors.Configuration;

namespace Sark.Benchmarks.Load;

/// <summary>
/// The bare Kestrel endpoint the node is compared with (DESIGN.md section 14): the same
/// <c>POST /api/v1/invoke</c> contract over the same in-process facade, but a minimal API with no
/// middleware, no metrics and a Release build. Run as a child process by the <c>stdio</c> command
/// (<c>serve-kestrel --config FILE --bind 127.0.0.1:0</c>); it stops on SIGTERM.
/// </summary>
internal static class KestrelFloorServer
{
    public const string Command = "serve-kestrel";

    public static async Task<int> RunAsync(Args args)
    {
        var configPath = args.String("--config") ?? throw new ArgumentException("--config is required.");
        var bind = args.String("--bind") ?? "127.0.0.1:0";
        var colon = bind.LastIndexOf(':');
        var address = IPAddress.Parse(bind[..colon]);
        var port = int.Parse(bind[(colon + 1)..], System.Globalization.CultureInfo.InvariantCulture);
        var options = SarkConfigLoader.LoadFile(configPath);

        using var setup = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await Console.Error.WriteLineAsync("serve-kestrel: starting the facade and its upstream…").ConfigureAwait(false);
        var facade = await FacadeTarget.StartAsync(options, "everything", setup.Token).ConfigureAwait(false);
        await Console.Error.WriteLineAsync("serve-kestrel: upstream ready; starting Kestrel…").ConfigureAwait(false);
        await using (facade.ConfigureAwait(false))
        {
            var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });
            builder.Logging.ClearProviders();
            builder.Logging.AddConsole();
            builder.Logging.SetMinimumLevel(LogLevel.Warning);
            builder.Logging.AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Information);
            builder.WebHost.ConfigureKestrel(kestrel =>
            {
                kestrel.AddServerHeader = false;
                kestrel.Listen(address, port);
            });

            var app = builder.Build();
            await using (app.ConfigureAwait(false))
            {
                var gateway = facade.Gateway;
                app.MapPost("/api/v1/invoke", (HttpContext context) => InvokeAsync(gateway, context));
                app.MapGet("/api/v1/upstreams", (HttpContext context) => UpstreamsAsync(gateway, context));
                app.MapGet("/api/v1/events", IdleEventsAsync);
                await app.RunAsync().ConfigureAwait(false);
            }
        }

        return 0;
    }

    private static async Task InvokeAsync(ISarkGateway gateway, HttpContext context)
    {
        using var request = await JsonDocument.ParseAsync(context.Request.Body, default, context.RequestAborted).ConfigureAwait(false);
        var root = request.RootElement;
        JsonElement? parameters = root.TryGetProperty("parameters", out var p) ? p : null;
        var result = await gateway.InvokeToolAsync(
            root.GetProperty("server").GetString()!, root.GetProperty("tool").GetString()!, parameters, null, context.RequestAborted).ConfigureAwait(false);

        context.Response.ContentType = "application/json";
        await using (var writer = new Utf8JsonWriter(context.Response.BodyWriter))
        {
            writer.WriteStartObject();
            writer.WriteString("status"u8, result.IsError ? "error" : "success");
            writer.WritePropertyName("result"u8);
            result.Result.WriteTo(writer);
            writer.WriteString("request_id"u8, result.RequestId);
            writer.WriteEndObject();
        }

        await context.Response.BodyWriter.FlushAsync(context.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>
    /// The floor of an SSE client (the <c>streams</c> command): headers flushed, then nothing until
    /// the client goes; with <c>?tick=N</c>, one pre-rendered event of the node's size N times a
    /// second, written to every client at the same tick (as the node broadcasts an invocation).
    /// </summary>
    private static async Task IdleEventsAsync(HttpContext context)
    {
        var aborted = context.RequestAborted;
        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
        await context.Response.StartAsync(aborted).ConfigureAwait(false);
        await context.Response.BodyWriter.FlushAsync(aborted).ConfigureAwait(false);
        try
        {
            if (!int.TryParse(context.Request.Query["tick"], System.Globalization.CultureInfo.InvariantCulture, out var tick) || tick <= 0)
            {
                await Task.Delay(Timeout.Infinite, aborted).ConfigureAwait(false);
                return;
            }

            var ticker = Ticker.For(tick);
            while (!aborted.IsCancellationRequested)
            {
                await ticker.NextAsync().WaitAsync(aborted).ConfigureAwait(false);
                context.Response.BodyWriter.Write(Ticker.Event);
                await context.Response.BodyWriter.FlushAsync(aborted).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            // The client went away.
        }
    }

    /// <summary>One shared tick for every client of a rate: a signal replaced at each tick.</summary>
    private sealed class Ticker
    {
        public static readonly byte[] Event = System.Text.Encoding.UTF8.GetBytes(
            "id: 12345\nevent: invocation\ndata: {\"request_id\":\"0123456789abcdef0123456789abcdef\",\"server\":\"everything\",\"tool\":\"echo\",\"outcome\":\"ok\",\"duration_ms\":0.412}\n\n");

        private static readonly System.Collections.Concurrent.ConcurrentDictionary<int, Ticker> Tickers = new();
        private TaskCompletionSource _next = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public static Ticker For(int rate) => Tickers.GetOrAdd(rate, r =>
        {
            var ticker = new Ticker();
            _ = Task.Run(async () =>
            {
                using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1.0 / r));
                while (await timer.WaitForNextTickAsync().ConfigureAwait(false))
                    Interlocked.Exchange(ref ticker._next, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
            });
            return ticker;
        });

        public Task NextAsync() => Volatile.Read(ref _next).Task;
    }

    private static async Task UpstreamsAsync(ISarkGateway gateway, HttpContext context)
    {
        var upstreams = await gateway.GetUpstreamsAsync(context.RequestAborted).ConfigureAwait(false);
        context.Response.ContentType = "application/json";
        await using (var writer = new Utf8JsonWriter(context.Response.BodyWriter))
        {
            writer.WriteStartObject();
            writer.WriteStartArray("upstreams"u8);
            foreach (var upstream in upstreams)
            {
                writer.WriteStartObject();
                writer.WriteString("name"u8, upstream.Name);
                writer.WriteString("state"u8, upstream.State.ToString().ToLowerInvariant());
                if (upstream.ProcessId is { } pid)
                    writer.WriteNumber("process_id"u8, pid);
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        await context.Response.BodyWriter.FlushAsync(context.RequestAborted).ConfigureAwait(false);
    }
}
