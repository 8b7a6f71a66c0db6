using System.Net;
using System.Net.Http.Headers;
using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using Sark.Actors.Errors;

namespace Sark.Actors.Events;

/// <summary>What one connection of a subscription produces, in order.</summary>
internal abstract record SseSignal
{
    private SseSignal()
    {
    }

    /// <summary>The server accepted the stream (2xx, <c>text/event-stream</c>).</summary>
    public sealed record Connected : SseSignal
    {
        public static readonly Connected Instance = new();
    }

    public sealed record Event(GatewayEvent Value) : SseSignal;

    /// <summary>The server ended the stream cleanly: reconnect after the backoff.</summary>
    public sealed record Ended : SseSignal
    {
        public static readonly Ended Instance = new();
    }

    /// <summary>An open stream broke (a reset, a read timeout): reconnect after the backoff.</summary>
    public sealed record Dropped(string Reason) : SseSignal;

    /// <summary>The subscription cannot go on (a 4xx, an oversized event, not an event stream).</summary>
    public sealed record Fatal(SarkError Error) : SseSignal;
}

/// <summary>
/// What survives from one connection of a subscription to the next: the last event id (sent as
/// <c>Last-Event-ID</c>), the server's <c>retry:</c>, and when the last connection ended.
/// Written by the stream, read by the next connection; one connection at a time.
/// </summary>
internal sealed class SseCursor
{
    private long _disconnectedAt;

    public string? LastEventId { get; set; }

    /// <summary>The reconnection time the server asked for with <c>retry:</c>, if it did.</summary>
    public TimeSpan? ServerRetry { get; set; }

    public int Connections { get; set; }

    public void Disconnected() => Volatile.Write(ref _disconnectedAt, Environment.TickCount64);

    /// <summary>How much longer to wait so that the server's <c>retry:</c> has passed since the last connection ended.</summary>
    public TimeSpan RemainingRetry()
    {
        if (ServerRetry is not { } retry || Connections == 0)
            return TimeSpan.Zero;
        var waited = TimeSpan.FromMilliseconds(Environment.TickCount64 - Volatile.Read(ref _disconnectedAt));
        return retry > waited ? retry - waited : TimeSpan.Zero;
    }
}

/// <summary>The settings of one subscription's connections.</summary>
internal sealed record SseSettings(TimeSpan ReadTimeout, long MaxEventBytes, IReadOnlySet<string>? Types);

/// <summary>
/// One connection of a subscription as an async sequence of <see cref="SseSignal"/>: it waits
/// out the server's <c>retry:</c>, connects with <c>Last-Event-ID</c>, and parses with
/// <see cref="SseParser"/> under a <see cref="SseReadGuard"/>. Transient failures (connection
/// refused or reset, 5xx, 408, 429, a read timeout) are thrown, so that the enclosing
/// RestartSource reconnects after its backoff; fatal ones end the sequence with
/// <see cref="SseSignal.Fatal"/>.
/// </summary>
internal static class SseConnection
{
    public static async IAsyncEnumerable<SseSignal> ReadAsync(
        HttpClient http, Uri uri, SseCursor cursor, SseSettings settings, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var wait = cursor.RemainingRetry();
        if (wait > TimeSpan.Zero)
            await Task.Delay(wait, cancellationToken).ConfigureAwait(false);
        cursor.Connections++;

        using var request = new HttpRequestMessage(HttpMethod.Get, uri);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        request.Headers.CacheControl = new CacheControlHeaderValue { NoCache = true };
        if (cursor.LastEventId is { Length: > 0 } lastId)
            request.Headers.TryAddWithoutValidation("Last-Event-ID", lastId);

        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException ex)
        {
            cursor.Disconnected();
            throw new SseStreamException($"{uri.GetLeftPart(UriPartial.Authority)} could not be reached ({ex.Message}{(ex.InnerException is { } inner ? " " + inner.Message : "")})", fatal: false);
        }

        SseParser<string>? parser = null;
        try
        {
            var status = (int)response.StatusCode;
            if (status is >= 400 and < 500 and not 408 and not 429)
            {
                yield return new SseSignal.Fatal(new SarkError(SarkErrorCode.UpstreamError,
                    $"GET {uri.AbsolutePath} answered {status} {response.ReasonPhrase}; the subscription is not retried"
                    + (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden ? " (check the upstream's api-key)" : "") + ".",
                    UpstreamStatus: status));
                yield break;
            }

            if (!response.IsSuccessStatusCode)
                throw new SseStreamException($"GET {uri.AbsolutePath} answered {status} {response.ReasonPhrase}", fatal: false, status: status);
            if (response.Content.Headers.ContentType?.MediaType != "text/event-stream")
            {
                yield return new SseSignal.Fatal(new SarkError(SarkErrorCode.UpstreamError,
                    $"GET {uri.AbsolutePath} answered {response.Content.Headers.ContentType?.MediaType ?? "no content type"}, not text/event-stream."));
                yield break;
            }

            yield return SseSignal.Connected.Instance;
            var body = new SseReadGuard(await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false), settings.ReadTimeout, settings.MaxEventBytes);
            await using var _ = body.ConfigureAwait(false);
            parser = SseParser.Create(body);
            var items = parser.EnumerateAsync(cancellationToken).GetAsyncEnumerator(cancellationToken);
            await using var __ = items.ConfigureAwait(false);
            while (true)
            {
                SseStreamException? fatal = null;
                Exception? broken = null;
                bool more;
                try
                {
                    more = await items.MoveNextAsync().ConfigureAwait(false);
                }
                catch (SseStreamException ex) when (ex.Fatal)
                {
                    fatal = ex;
                    more = false;
                }
                catch (Exception ex) when (ex is IOException or HttpRequestException or SseStreamException && !cancellationToken.IsCancellationRequested)
                {
                    broken = ex;
                    more = false;
                }

                if (fatal is not null)
                {
                    yield return new SseSignal.Fatal(new SarkError(fatal.Code, $"The subscription to {uri.AbsolutePath} failed: {fatal.Message}."));
                    yield break;
                }

                if (broken is not null)
                {
                    // Told before the failure, so that the subscription shows reconnecting; the
                    // failure then makes the RestartSource reconnect after its backoff.
                    yield return new SseSignal.Dropped(broken.Message);
                    System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(broken).Throw();
                }

                if (!more)
                    break;
                var item = items.Current;
                if (item.ReconnectionInterval is { } retry)
                    cursor.ServerRetry = retry;
                if (item.EventId is { } id)
                    cursor.LastEventId = id;
                if (settings.Types is null || settings.Types.Contains(item.EventType))
                    yield return new SseSignal.Event(new GatewayEvent(item.EventType, item.Data, item.EventId ?? cursor.LastEventId));
            }

            yield return SseSignal.Ended.Instance;
        }
        finally
        {
            // retry: may come in a block without data, which dispatches no item: the parser keeps it.
            if (parser is { ReconnectionInterval: var interval } && interval != Timeout.InfiniteTimeSpan && interval > TimeSpan.Zero)
                cursor.ServerRetry = interval;
            response.Dispose();
            cursor.Disconnected();
        }
    }
}
