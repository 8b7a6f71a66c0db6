using System.Diagnostics;
using Sark.Actors.Telemetry;

namespace Sark.Host.Api;

/// <summary>
/// The front door's server span (<c>sark.http</c>): it continues the caller's W3C
/// <c>traceparent</c> when the request has a valid one, so that the facade's <c>sark.invoke</c>
/// and everything under it join the caller's trace. Health and metrics scrapes make no span.
/// </summary>
internal sealed class TraceContextMiddleware(RequestDelegate next)
{
    private readonly RequestDelegate _next = next;

    public async Task InvokeAsync(HttpContext context)
    {
        var path = context.Request.Path;
        if (!SarkTelemetry.ActivitySource.HasListeners()
            || path.StartsWithSegments("/health", StringComparison.Ordinal)
            || path.StartsWithSegments(NodeMetrics.Path, StringComparison.Ordinal))
        {
            await _next(context).ConfigureAwait(false);
            return;
        }

        // ASP.NET Core's own request activity is not recorded unless someone listens to it; a
        // parent that is not recorded would make the parent-based sampler drop the whole trace.
        var parent = Activity.Current is { Recorded: true } current ? current.Context : default;
        if (context.Request.Headers.TryGetValue("traceparent", out var header) && header.Count == 1
            && ActivityContext.TryParse(header[0], context.Request.Headers.TryGetValue("tracestate", out var state) ? state.ToString() : null, isRemote: true, out var remote))
            parent = remote;

        // A default parent means "Activity.Current": cleared, so that the span is a root then.
        if (parent == default)
            Activity.Current = null;
        using var activity = SarkTelemetry.ActivitySource.StartActivity(SpanName(context.Request.Method), ActivityKind.Server, parent);
        if (activity is not { IsAllDataRequested: true })
        {
            // Sampled out: the span still carries the trace id (audit, traceparent upstream), nothing more.
            await _next(context).ConfigureAwait(false);
            return;
        }

        activity.SetTag("http.request.method", context.Request.Method);
        activity.SetTag("url.path", path.Value);
        activity.SetTag("sark.request_id", context.TraceIdentifier);
        await _next(context).ConfigureAwait(false);
        activity.SetTag("http.response.status_code", context.Response.StatusCode);
        if (context.Response.StatusCode >= 500)
            activity.SetStatus(ActivityStatusCode.Error);
    }

    private static string SpanName(string method) => method switch
    {
        "POST" => "sark.http POST",
        "GET" => "sark.http GET",
        "DELETE" => "sark.http DELETE",
        _ => "sark.http " + method,
    };
}
