using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http.Features;
using Sark.Actors.Audit;
using Sark.Actors.Configuration;
using Sark.Actors.Errors;

namespace Sark.Host.Api;

/// <summary>
/// <c>GET /api/v1/audit?since&amp;after_id&amp;subject&amp;server&amp;decision&amp;limit</c> queries the audit
/// store (ascending by id; <c>next_after_id</c> pages on), and <c>GET /api/v1/audit/stream</c>
/// follows it live over SSE (<c>id:</c> the event's id, <c>event: audit</c>), resuming after
/// <c>Last-Event-ID</c> from the store before going live.
/// </summary>
internal static class AuditEndpoints
{
    private static readonly byte[] KeepAlive = ": keep-alive\n\n"u8.ToArray();

    public static IEndpointRouteBuilder MapAuditEndpoints(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/api/v1/audit", QueryAsync);
        endpoints.MapGet("/api/v1/audit/stream", StreamAsync);
        return endpoints;
    }

    private static async Task<IResult> QueryAsync(HttpContext context, AuditAccess access)
    {
        var log = Require(access, context.TraceIdentifier);
        var query = Parse(context.Request.Query, context.TraceIdentifier);
        var events = await log.QueryAsync(query, context.RequestAborted).ConfigureAwait(false);
        return Results.Json(AuditPage.From(events, query.Limit), AuditJsonContext.Default.AuditPage);
    }

    private static async Task StreamAsync(HttpContext context, AuditAccess access, SarkOptions options, IHostApplicationLifetime lifetime)
    {
        var log = Require(access, context.TraceIdentifier);
        var lastId = context.Request.Headers["Last-Event-ID"].ToString() is { Length: > 0 } header
            ? long.TryParse(header, NumberStyles.None, CultureInfo.InvariantCulture, out var id) ? id
                : throw new SarkInvalidRequestException("Last-Event-ID must be an audit event id (a whole number).", context.TraceIdentifier)
            : (long?)null;
        // Subscribe first, then catch up from the store: nothing written in between is missed.
        using var subscription = log.Subscribe();
        var response = context.Response;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        // A stream ends when the client goes away or the node stops (so that it does not hold the shutdown).
        using var ending = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, lifetime.ApplicationStopping);
        var aborted = ending.Token;
        try
        {
            await response.StartAsync(aborted).ConfigureAwait(false);
            // Kestrel sends the headers with the first flush: a client waits for them.
            await response.Body.FlushAsync(aborted).ConfigureAwait(false);
            var sent = lastId ?? long.MaxValue;
            if (lastId is { } after)
            {
                while (true)
                {
                    var page = await log.QueryAsync(new AuditQuery { AfterId = sent, Limit = AuditQuery.MaxLimit }, aborted).ConfigureAwait(false);
                    foreach (var e in page)
                    {
                        await WriteAsync(response, e, aborted).ConfigureAwait(false);
                        sent = e.Id;
                    }

                    if (page.Count < AuditQuery.MaxLimit)
                        break;
                }
            }

            var reader = subscription.Reader;
            while (!aborted.IsCancellationRequested)
            {
                bool ready;
                try
                {
                    ready = await reader.WaitToReadAsync(aborted).AsTask().WaitAsync(options.Events.KeepAlive, aborted).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                    await response.Body.WriteAsync(KeepAlive, aborted).ConfigureAwait(false);
                    await response.Body.FlushAsync(aborted).ConfigureAwait(false);
                    continue;
                }

                if (!ready)
                    break;
                while (reader.TryRead(out var e))
                {
                    if (lastId is not null && e.Id <= sent)
                        continue;
                    await WriteAsync(response, e, aborted).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            // The client went away, or the node is stopping.
        }
    }

    private static async Task WriteAsync(HttpResponse response, AuditEvent e, CancellationToken cancellationToken)
    {
        var json = JsonSerializer.Serialize(e, AuditJsonContext.Default.AuditEvent);
        var text = $"id: {e.Id.ToString(CultureInfo.InvariantCulture)}\nevent: audit\ndata: {json}\n\n";
        await response.Body.WriteAsync(Encoding.UTF8.GetBytes(text), cancellationToken).ConfigureAwait(false);
        await response.Body.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    private static AuditLog Require(AuditAccess access, string requestId) =>
        access.Log ?? throw new SarkNotFoundException("Audit is off on this node (sark.audit.enabled = false).", requestId);

    private static AuditQuery Parse(IQueryCollection query, string requestId)
    {
        string? One(string name)
        {
            var values = query[name];
            if (values.Count > 1)
                throw new SarkInvalidRequestException($"{name}: given more than once.", requestId);
            return values.Count == 0 || string.IsNullOrEmpty(values[0]) ? null : values[0];
        }

        DateTimeOffset? since = One("since") is { } s
            ? DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at) ? at
                : throw new SarkInvalidRequestException($"since: '{s}' is not a date and time (ISO 8601, for example 2026-11-24T06:00:00Z).", requestId)
            : null;
        long? afterId = One("after_id") is { } a
            ? long.TryParse(a, NumberStyles.None, CultureInfo.InvariantCulture, out var after) ? after
                : throw new SarkInvalidRequestException($"after_id: '{a}' is not a whole number.", requestId)
            : null;
        var limit = One("limit") is { } l
            ? int.TryParse(l, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n
                : throw new SarkInvalidRequestException($"limit: '{l}' is not a whole number.", requestId)
            : AuditQuery.DefaultLimit;
        try
        {
            return new AuditQuery
            {
                Since = since,
                AfterId = afterId,
                Subject = One("subject"),
                Server = One("server"),
                Decision = One("decision"),
                Limit = limit,
            }.Validate();
        }
        catch (SarkInvalidRequestException ex)
        {
            throw new SarkInvalidRequestException(ex.Message, requestId);
        }
    }
}
