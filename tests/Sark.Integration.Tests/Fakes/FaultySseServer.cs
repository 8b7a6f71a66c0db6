using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Sark.Integration.Tests.Fakes;

/// <summary>
/// An SSE server of our own that misbehaves on demand (Kestrel on 127.0.0.1, a free port):
/// <c>GET /events</c> serves events 1..<see cref="TotalEvents"/> (<c>id: n</c>, <c>event: tick</c>,
/// <c>data: {"n":n}</c>), resuming after the <c>Last-Event-ID</c> it is sent. Faults: drop the
/// connection after every K events, announce <c>retry:</c>, answer a status for the next
/// connections, go silent (a half-open connection) with or without keep-alive comments, mix
/// malformed lines in, or send one huge event. It records every connection.
/// </summary>
internal sealed class FaultySseServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<SseConnectionRecord> _connections = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private int _statusLeft;

    private FaultySseServer(WebApplication app)
    {
        _app = app;
    }

    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>Events in all; after the last one the server keeps the stream open (or ends it, with <see cref="EndAfterLast"/>).</summary>
    public int TotalEvents { get; set; } = 10;

    /// <summary>Abort the connection after this many events on it (0: never).</summary>
    public int DropEvery { get; set; }

    /// <summary>How long a dropped connection's last events get to reach the socket before the reset.</summary>
    public TimeSpan DropDelay { get; set; } = TimeSpan.FromMilliseconds(30);

    /// <summary>Sent as <c>retry:</c> at the start of every connection, when set.</summary>
    public int? RetryMs { get; set; }

    /// <summary>The status of connections answered with <see cref="StatusFor"/>.</summary>
    public HttpStatusCode Status { get; set; } = HttpStatusCode.ServiceUnavailable;

    /// <summary>After this many events on a connection, send nothing more (a half-open connection).</summary>
    public int? SilentAfter { get; set; }

    /// <summary>While silent, send a comment this often.</summary>
    public TimeSpan? KeepAliveEvery { get; set; }

    /// <summary>Write malformed lines before every event.</summary>
    public bool MalformedLines { get; set; }

    /// <summary>Event number that carries this many bytes of data.</summary>
    public (int Event, int Bytes)? Huge { get; set; }

    /// <summary>End the stream cleanly after the last event.</summary>
    public bool EndAfterLast { get; set; }

    public IReadOnlyList<SseConnectionRecord> Connections => [.. _connections];

    public static async Task<FaultySseServer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var server = new FaultySseServer(app);
        app.MapGet("/events", server.ServeAsync);
        await app.StartAsync().ConfigureAwait(false);
        server.BaseAddress = new Uri(app.Urls.Single());
        return server;
    }

    /// <summary>Answers the next <paramref name="count"/> connections with <see cref="Status"/>.</summary>
    public void StatusFor(int count) => Volatile.Write(ref _statusLeft, count);

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }

    private async Task ServeAsync(HttpContext context)
    {
        var lastId = context.Request.Headers["Last-Event-ID"].ToString();
        _connections.Enqueue(new SseConnectionRecord(_clock.Elapsed, lastId.Length == 0 ? null : lastId));
        if (Interlocked.Decrement(ref _statusLeft) >= 0)
        {
            context.Response.StatusCode = (int)Status;
            await context.Response.WriteAsync("refused", context.RequestAborted).ConfigureAwait(false);
            return;
        }

        var aborted = context.RequestAborted;
        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
        await context.Response.StartAsync(aborted).ConfigureAwait(false);
        if (RetryMs is { } retry)
            await WriteAsync(context, $"retry: {retry.ToString(CultureInfo.InvariantCulture)}\n\n").ConfigureAwait(false);

        var next = int.TryParse(lastId, out var resumed) ? resumed + 1 : 1;
        var sent = 0;
        try
        {
            for (var n = next; n <= TotalEvents; n++)
            {
                if (SilentAfter is { } silent && sent >= silent)
                {
                    await StaySilentAsync(context).ConfigureAwait(false);
                    return;
                }

                if (MalformedLines)
                    await WriteAsync(context, "this line has no colon\n:\n: a comment\nunknownfield: 1\ndata\n").ConfigureAwait(false);
                var data = Huge is { } huge && huge.Event == n ? new string('x', huge.Bytes) : $"{{\"n\":{n}}}";
                await WriteAsync(context, $"id: {n}\nevent: tick\ndata: {data}\n\n").ConfigureAwait(false);
                sent++;
                if (DropEvery > 0 && sent >= DropEvery && n < TotalEvents)
                {
                    // Kestrel's Abort discards what the transport has not sent yet: let the events
                    // reach the socket first, then reset the connection (no clean end of the stream).
                    await context.Response.Body.FlushAsync(aborted).ConfigureAwait(false);
                    await Task.Delay(DropDelay, aborted).ConfigureAwait(false);
                    context.Abort();
                    return;
                }
            }

            if (!EndAfterLast)
                await StaySilentAsync(context).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
        }
    }

    private async Task StaySilentAsync(HttpContext context)
    {
        var aborted = context.RequestAborted;
        while (!aborted.IsCancellationRequested)
        {
            if (KeepAliveEvery is { } every)
            {
                await Task.Delay(every, aborted).ConfigureAwait(false);
                await WriteAsync(context, ": keep-alive\n\n").ConfigureAwait(false);
            }
            else
            {
                await Task.Delay(Timeout.Infinite, aborted).ConfigureAwait(false);
            }
        }
    }

    private static async Task WriteAsync(HttpContext context, string text)
    {
        await context.Response.Body.WriteAsync(Encoding.UTF8.GetBytes(text), context.RequestAborted).ConfigureAwait(false);
        await context.Response.Body.FlushAsync(context.RequestAborted).ConfigureAwait(false);
    }
}

/// <summary>One connection a <see cref="FaultySseServer"/> received: when, and with which Last-Event-ID.</summary>
internal sealed record SseConnectionRecord(TimeSpan At, string? LastEventId);
