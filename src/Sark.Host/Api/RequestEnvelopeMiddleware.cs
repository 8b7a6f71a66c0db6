using System.Diagnostics;
using Sark.Actors.Configuration;
using Sark.Actors.Errors;
using Sark.Actors.Telemetry;

namespace Sark.Host.Api;

/// <summary>
/// What every request gets, in one async frame (one state machine per request instead of four):
/// <list type="bullet">
/// <item><b>An id</b>: the caller's <c>X-Request-ID</c> when it is valid, else a new one. It becomes
/// <see cref="HttpContext.TraceIdentifier"/>, is echoed on the response and scopes the logs. An
/// invalid header (CR/LF, other characters, too long) is refused with <c>invalid_request</c>.</item>
/// <item><b>The server span</b> (<c>sark.http</c>): it continues the caller's W3C
/// <c>traceparent</c> when the request has a valid one, so that the facade's <c>sark.invoke</c>
/// and everything under it join the caller's trace. Health and metrics scrapes make no span.</item>
/// <item><b>Errors</b> as the JSON error body: <see cref="SarkException"/> by its code, an oversized
/// body as <c>too_large</c>, anything unexpected as a logged 500 <c>internal</c>. A caller that went
/// away gets nothing.</item>
/// <item><b>Status pages</b>: an error status with no body (no route, wrong method) gets the JSON
/// error body (<see cref="StatusCodeResponses"/>).</item>
/// </list>
/// </summary>
internal sealed class RequestEnvelopeMiddleware(RequestDelegate next, ILogger<RequestEnvelopeMiddleware> logger, SarkOptions options, TooLargeBodies tooLarge)
{
    private readonly RequestDelegate _next = next;
    private readonly ILogger _logger = logger;
    private readonly LogLimiter _limiter = LogLimiter.ForErrors(options.Telemetry.ErrorLogBurst);

    public async Task InvokeAsync(HttpContext context)
    {
        var values = context.Request.Headers[RequestIds.Header];
        var id = RequestIds.NewId();
        var valid = true;
        if (values.Count > 0)
        {
            valid = values.Count == 1 && RequestIds.IsValid(values[0]);
            if (valid)
                id = values[0]!;
        }

        context.TraceIdentifier = id;
        context.Response.Headers[RequestIds.Header] = id;
        using var scope = _logger.BeginScope(new RequestScope(id, context.Request.Path.Value));
        if (!valid)
        {
            await ApiErrors.WriteAsync(context, new SarkInvalidRequestException(
                $"Header {RequestIds.Header} must be 1 to {RequestIds.MaxLength} characters of letters, digits, '.', '_', ':' or '-'.", id)).ConfigureAwait(false);
            return;
        }

        using var activity = StartSpan(context);
        try
        {
            await _next(context).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            Log.RequestAborted(_logger, context.Request.Method, context.Request.Path);
        }
        catch (Exception ex) when (!context.Response.HasStarted)
        {
            Reset(context);
            await HandleAsync(context, ex).ConfigureAwait(false);
        }

        var response = context.Response;
        if (!response.HasStarted && response.StatusCode is >= 400 and < 600 && response.ContentLength is null && string.IsNullOrEmpty(response.ContentType))
            await StatusCodeResponses.WriteAsync(context).ConfigureAwait(false);

        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag("http.response.status_code", response.StatusCode);
            if (response.StatusCode >= 500)
                activity.SetStatus(ActivityStatusCode.Error);
        }
    }

    /// <summary>The request's server span; null when nobody listens, for health and metrics, and (the span object kept) when sampled out.</summary>
    private static Activity? StartSpan(HttpContext context)
    {
        var path = context.Request.Path;
        if (!SarkTelemetry.ActivitySource.HasListeners()
            || path.StartsWithSegments("/health", StringComparison.Ordinal)
            || path.StartsWithSegments(NodeMetrics.Path, StringComparison.Ordinal))
            return null;

        // ASP.NET Core's own request activity is not recorded unless someone listens to it; a
        // parent that is not recorded would make the parent-based sampler drop the whole trace.
        var parent = Activity.Current is { Recorded: true } current ? current.Context : default;
        if (context.Request.Headers.TryGetValue("traceparent", out var header) && header.Count == 1
            && ActivityContext.TryParse(header[0], context.Request.Headers.TryGetValue("tracestate", out var state) ? state.ToString() : null, isRemote: true, out var remote))
            parent = remote;

        // A default parent means "Activity.Current": cleared, so that the span is a root then.
        if (parent == default && Activity.Current is not null)
            Activity.Current = null;
        var activity = SarkTelemetry.ActivitySource.StartActivity(SpanName(context.Request.Method), ActivityKind.Server, parent);
        if (activity is { IsAllDataRequested: true })
        {
            // Sampled out, the span still carries the trace id (audit, traceparent upstream), nothing more.
            activity.SetTag("http.request.method", context.Request.Method);
            activity.SetTag("url.path", path.Value);
            activity.SetTag("sark.request_id", context.TraceIdentifier);
        }

        return activity;
    }

    private static string SpanName(string method) => method switch
    {
        "POST" => "sark.http POST",
        "GET" => "sark.http GET",
        "DELETE" => "sark.http DELETE",
        _ => "sark.http " + method,
    };

    private Task HandleAsync(HttpContext context, Exception ex)
    {
        switch (ex)
        {
            case SarkException sark:
                if (_limiter.TryLog(sark.Code.ToWire(), Stopwatch.GetTimestamp(), out var suppressed))
                    Log.RequestFailed(_logger, context.Request.Method, context.Request.Path, sark.Code.ToWire(), sark.Message, suppressed);
                return ApiErrors.WriteAsync(context, sark);
            case BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge }:
                return ApiErrors.WriteAsync(context, tooLarge.Of(context));
            case BadHttpRequestException bad:
                return ApiErrors.WriteAsync(context, bad.StatusCode, SarkErrorCode.InvalidRequest.ToWire(), $"The request could not be read: {bad.Message}");
            default:
                if (_limiter.TryLog(ApiErrors.InternalCode, Stopwatch.GetTimestamp(), out var lost))
                    Log.Unhandled(_logger, ex, context.Request.Method, context.Request.Path, lost);
                return ApiErrors.WriteAsync(context, StatusCodes.Status500InternalServerError, ApiErrors.InternalCode,
                    $"The node failed to handle the request; its log has the details under request id {context.TraceIdentifier}.");
        }
    }

    private static void Reset(HttpContext context)
    {
        var id = context.TraceIdentifier;
        context.Response.Clear();
        context.Response.Headers[RequestIds.Header] = id;
    }

    /// <summary>The log scope of one request: <c>RequestId</c> and <c>RequestPath</c>.</summary>
    private sealed class RequestScope(string requestId, string? path) : IReadOnlyList<KeyValuePair<string, object?>>
    {
        public int Count => 2;

        public KeyValuePair<string, object?> this[int index] => index switch
        {
            0 => new("RequestId", requestId),
            1 => new("RequestPath", path),
            _ => throw new ArgumentOutOfRangeException(nameof(index)),
        };

        public IEnumerator<KeyValuePair<string, object?>> GetEnumerator()
        {
            yield return this[0];
            yield return this[1];
        }

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

        public override string ToString() => $"RequestId:{requestId} RequestPath:{path}";
    }
}

/// <summary>
/// The <c>too_large</c> error of a body over its limit: the front door's limit on its MCP paths
/// (<c>sark.front-door.max-request-body</c>), the node's elsewhere (<c>sark.node.http.max-request-body</c>).
/// </summary>
internal sealed class TooLargeBodies(SarkOptions options, IServiceProvider services)
{
    private readonly long _nodeMax = options.Node.MaxRequestBodyBytes;
    private readonly FrontDoor.FrontDoorRuntime? _frontDoor = services.GetService<FrontDoor.FrontDoorRuntime>();

    public SarkTooLargeException Of(HttpContext context) =>
        _frontDoor is { } door && door.Serves(context.Request.Path)
            ? FrontDoor.FrontDoorGuardMiddleware.TooLarge(door.Options.MaxRequestBodyBytes, context)
            : InvokeRequest.TooLarge(_nodeMax, context.TraceIdentifier);
}
