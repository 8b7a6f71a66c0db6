using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;

namespace Sark.Benchmarks.Load;

/// <summary>
/// The SSE servers of the <c>streams</c> command: Kestrel on 127.0.0.1 in this process.
/// <list type="bullet">
/// <item><c>GET /fast</c>: small events as fast as the client reads them, written as pre-rendered
/// batches (<see cref="EventsPerBatch"/> events of <see cref="FastEvent"/>); Kestrel's output
/// back-pressure paces the writer to the reader.</item>
/// <item><c>GET /paced?rate=N</c>: N events per second, each with its send time (Stopwatch ticks) as
/// its data. Every millisecond or so the writer sends every event that is due, stamped when it is
/// written, and flushes.</item>
/// <item><c>GET /health</c> and empty <c>GET /api/v1/servers</c> and <c>GET /api/v1/tools</c>, so that the gateway upstream
/// the subscriptions hang off is ready.</item>
/// </list>
/// Every stream ends when its client goes away or the server stops.
/// </summary>
internal sealed class SseBenchServer : IAsyncDisposable
{
    /// <summary>One small event: 35 bytes on the wire.</summary>
    public const string FastEvent = "event: tick\ndata: {\"n\":1234567}\n\n";

    public const int EventsPerBatch = 1024;

    private static readonly byte[] FastBatch = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat(FastEvent, EventsPerBatch)));
    private readonly WebApplication _app;
    private long _fastBatches;
    private long _pacedEvents;

    private SseBenchServer(WebApplication app) => _app = app;

    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>Events written by every <c>/fast</c> stream (whole batches handed to Kestrel).</summary>
    public long FastEventsWritten => Interlocked.Read(ref _fastBatches) * EventsPerBatch;

    public long PacedEventsWritten => Interlocked.Read(ref _pacedEvents);

    public static async Task<SseBenchServer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var server = new SseBenchServer(app);
        app.MapGet("/fast", server.FastAsync);
        app.MapGet("/paced", server.PacedAsync);
        app.MapGet("/health", () => Results.Json(new Dictionary<string, string> { ["status"] = "healthy" }));
        app.MapGet("/api/v1/servers", () => Results.Text("""{"servers":[]}""", "application/json"));
        app.MapGet("/api/v1/tools", () => Results.Text("""{"tools":[]}""", "application/json"));
        await app.StartAsync().ConfigureAwait(false);
        server.BaseAddress = new Uri(app.Urls.Single());
        return server;
    }

    public async ValueTask DisposeAsync()
    {
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await _app.StopAsync(stop.Token).ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }

    private static async Task<bool> BeginAsync(HttpContext context)
    {
        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        await context.Response.StartAsync(context.RequestAborted).ConfigureAwait(false);
        return true;
    }

    private async Task FastAsync(HttpContext context)
    {
        var aborted = context.RequestAborted;
        try
        {
            await BeginAsync(context).ConfigureAwait(false);
            while (!aborted.IsCancellationRequested)
            {
                await context.Response.Body.WriteAsync(FastBatch, aborted).ConfigureAwait(false);
                Interlocked.Increment(ref _fastBatches);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException)
        {
            // The client went away.
        }
    }

    private async Task PacedAsync(HttpContext context)
    {
        var aborted = context.RequestAborted;
        var rate = int.TryParse(context.Request.Query["rate"], NumberStyles.None, CultureInfo.InvariantCulture, out var r) && r > 0 ? r : 1000;
        var line = new byte[64];
        try
        {
            await BeginAsync(context).ConfigureAwait(false);
            var body = context.Response.BodyWriter;
            var start = Stopwatch.GetTimestamp();
            long sent = 0;
            while (!aborted.IsCancellationRequested)
            {
                var due = (long)(Stopwatch.GetElapsedTime(start).TotalSeconds * rate);
                if (due > sent)
                {
                    var first = sent;
                    for (; sent < due; sent++)
                    {
                        // "data: <ticks>\n\n", stamped as it is written.
                        var stamp = Stopwatch.GetTimestamp();
                        "data: "u8.CopyTo(line);
                        stamp.TryFormat(line.AsSpan(6), out var digits, provider: CultureInfo.InvariantCulture);
                        line[6 + digits] = (byte)'\n';
                        line[7 + digits] = (byte)'\n';
                        body.Write(line.AsSpan(0, 8 + digits));
                    }

                    await body.FlushAsync(aborted).ConfigureAwait(false);
                    Interlocked.Add(ref _pacedEvents, sent - first);
                }

                await Task.Delay(1, aborted).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException)
        {
            // The client went away.
        }
    }
}
