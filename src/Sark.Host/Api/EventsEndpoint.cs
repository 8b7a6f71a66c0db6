using System.Buffers;
using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Http.Features;
using Sark.Actors.Configuration;
using Sark.Actors.Errors;
using Sark.Actors.Events;
using Sark.Actors.Telemetry;

namespace Sark.Host.Api;

/// <summary>
/// <c>GET /api/v1/events</c>: the node's own events as server-sent events, from its
/// <see cref="EventJournal"/>. Each event has an <c>id:</c>; a client that reconnects with
/// <c>Last-Event-ID</c> (or <c>?last_event_id=</c>) gets every event after it that the journal
/// still holds, and a <c>gap</c> event first when some are gone. <c>?types=a,b</c> filters by
/// type. A comment (<c>: keep-alive</c>) goes out after <c>keep-alive</c> without an event, so
/// that proxies keep the stream open.
/// </summary>
internal static class EventsEndpoint
{
    private const int Batch = 256;
    private static readonly byte[] KeepAlive = ": keep-alive\n\n"u8.ToArray();
    private static readonly RenderedEntry?[] Rendered = new RenderedEntry?[1024];
    private static int _clients;

    public static IEndpointRouteBuilder MapEventsEndpoint(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/api/v1/events", ServeAsync);
        return endpoints;
    }

    private static async Task ServeAsync(HttpContext context, EventJournal journal, SarkOptions options, IHostApplicationLifetime lifetime)
    {
        var requestId = context.TraceIdentifier;
        var types = ParseTypes(context.Request.Query["types"]);
        var after = ParseLastEventId(context.Request, requestId);
        if (Interlocked.Increment(ref _clients) > options.Events.MaxClients)
        {
            Interlocked.Decrement(ref _clients);
            throw new SarkException(SarkErrorCode.StreamLimitReached,
                $"This node already serves {options.Events.MaxClients} event clients (sark.events.max-clients). Try again later.", requestId);
        }

        SarkTelemetry.SseClients.Add(1);
        try
        {
            var response = context.Response;
            response.ContentType = "text/event-stream";
            response.Headers.CacheControl = "no-cache";
            response.Headers["X-Accel-Buffering"] = "no";
            context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
            await response.StartAsync(context.RequestAborted).ConfigureAwait(false);
            // Kestrel's StartAsync only queues the headers: flush them, so that a client is connected
            // now and not at the first event or keep-alive comment (up to keep-alive later).
            await response.BodyWriter.FlushAsync(context.RequestAborted).ConfigureAwait(false);

            var cursor = after ?? journal.LastId;
            var buffer = new List<JournalEntry>(after is null ? 8 : Batch);
            // A stream ends when the client goes away or the node stops (so that it does not hold the shutdown).
            using var ending = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, lifetime.ApplicationStopping);
            var aborted = ending.Token;
            if (after is { } resumeFrom && resumeFrom + 1 < journal.FirstId)
                Write(response.BodyWriter, new JournalEntry(0, GatewayEventTypes.Gap,
                    $"{{\"first_id\":{journal.FirstId},\"last_event_id\":{resumeFrom}}}"));

            while (!aborted.IsCancellationRequested)
            {
                buffer.Clear();
                journal.Read(cursor, buffer, Batch, out _);
                if (buffer.Count > 0)
                {
                    foreach (var entry in buffer)
                    {
                        cursor = entry.Id;
                        if (types is null || types.Contains(entry.Type))
                            Write(response.BodyWriter, entry);
                    }

                    await response.BodyWriter.FlushAsync(aborted).ConfigureAwait(false);
                    continue;
                }

                try
                {
                    // Without a token the journal hands out its shared signal as is; the one WaitAsync
                    // below carries both the keep-alive timeout and the client's abort.
                    await journal.WaitAsync(cursor, CancellationToken.None).WaitAsync(options.Events.KeepAlive, aborted).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                    await response.BodyWriter.WriteAsync(KeepAlive, aborted).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested || lifetime.ApplicationStopping.IsCancellationRequested)
        {
            // The client went away, or the node is stopping.
        }
        finally
        {
            Interlocked.Decrement(ref _clients);
            SarkTelemetry.SseClients.Add(-1);
        }
    }

    /// <summary>Writes one event, rendered once for every client (see <see cref="Render"/>).</summary>
    private static void Write(IBufferWriter<byte> writer, JournalEntry entry) => writer.Write(Render(entry));

    /// <summary>
    /// The bytes of a journal entry, from a small cache keyed by id: every client writes the same
    /// event, so it is rendered once, not once per client. A slot holds the entry it was rendered
    /// from, and is used only for that very entry (same id, same type and data instances), so
    /// entries of other journals in the same process never share bytes.
    /// </summary>
    private static byte[] Render(JournalEntry entry)
    {
        if (entry.Id <= 0)
            return Format(entry);
        ref var slot = ref Rendered[(int)(entry.Id % Rendered.Length)];
        if (Volatile.Read(ref slot) is { } cached && cached.Entry.Id == entry.Id
            && ReferenceEquals(cached.Entry.Type, entry.Type) && ReferenceEquals(cached.Entry.Data, entry.Data))
        {
            return cached.Bytes;
        }

        var bytes = Format(entry);
        Volatile.Write(ref slot, new RenderedEntry(entry, bytes));
        return bytes;
    }

    /// <summary>One event: <c>id:</c> (except for a gap), <c>event:</c>, one <c>data:</c> line per line of data.</summary>
    private static byte[] Format(JournalEntry entry)
    {
        var text = new StringBuilder(entry.Data.Length + 48);
        if (entry.Id > 0)
            text.Append("id: ").Append(entry.Id.ToString(CultureInfo.InvariantCulture)).Append('\n');
        text.Append("event: ").Append(entry.Type).Append('\n');
        foreach (var line in entry.Data.Split('\n'))
            text.Append("data: ").Append(line.TrimEnd('\r')).Append('\n');
        text.Append('\n');
        return Encoding.UTF8.GetBytes(text.ToString());
    }

    private sealed record RenderedEntry(JournalEntry Entry, byte[] Bytes);

    private static HashSet<string>? ParseTypes(Microsoft.Extensions.Primitives.StringValues values)
    {
        if (values.Count == 0)
            return null;
        var types = new HashSet<string>(StringComparer.Ordinal);
        foreach (var value in values)
        {
            foreach (var type in (value ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                types.Add(type);
        }

        return types.Count == 0 ? null : types;
    }

    private static long? ParseLastEventId(HttpRequest request, string requestId)
    {
        var text = request.Headers["Last-Event-ID"].ToString();
        if (text.Length == 0)
            text = request.Query["last_event_id"].ToString();
        if (text.Length == 0)
            return null;
        return long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var id)
            ? id
            : throw new SarkInvalidRequestException($"Last-Event-ID '{(text.Length > 32 ? text[..32] + "…" : text)}' is not an event id of this node (a whole number).", requestId);
    }
}
