using Sark.Actors.Configuration;
using Sark.Actors.Errors;
using Sark.Actors.Telemetry;

namespace Sark.Host.Api;

/// <summary>
/// Turns every failure into the JSON error body: <see cref="SarkException"/> by its code, an
/// oversized body as <c>too_large</c>, anything unexpected as a logged 500 <c>internal</c>.
/// A caller that went away gets nothing.
/// </summary>
internal sealed class ErrorHandlingMiddleware(RequestDelegate next, ILogger<ErrorHandlingMiddleware> logger, SarkOptions options)
{
    private readonly RequestDelegate _next = next;
    private readonly ILogger _logger = logger;
    private readonly long _maxBodyBytes = options.Node.MaxRequestBodyBytes;
    private readonly LogLimiter _limiter = LogLimiter.ForErrors(options.Telemetry.ErrorLogBurst);

    public async Task InvokeAsync(HttpContext context)
    {
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
    }

    private Task HandleAsync(HttpContext context, Exception ex)
    {
        switch (ex)
        {
            case SarkException sark:
                if (_limiter.TryLog(sark.Code.ToWire(), System.Diagnostics.Stopwatch.GetTimestamp(), out var suppressed))
                    Log.RequestFailed(_logger, context.Request.Method, context.Request.Path, sark.Code.ToWire(), sark.Message, suppressed);
                return ApiErrors.WriteAsync(context, sark);
            case BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge }:
                return ApiErrors.WriteAsync(context, InvokeRequest.TooLarge(_maxBodyBytes, context.TraceIdentifier));
            case BadHttpRequestException bad:
                return ApiErrors.WriteAsync(context, bad.StatusCode, SarkErrorCode.InvalidRequest.ToWire(), $"The request could not be read: {bad.Message}");
            default:
                if (_limiter.TryLog(ApiErrors.InternalCode, System.Diagnostics.Stopwatch.GetTimestamp(), out var lost))
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
}
