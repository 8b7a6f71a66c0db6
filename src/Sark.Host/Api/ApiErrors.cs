using System.Globalization;
using Sark.Actors.Errors;

namespace Sark.Host.Api;

/// <summary>Writes failures as <c>{"error":{"code","message","request_id"}}</c> with the code's HTTP status.</summary>
internal static class ApiErrors
{
    public const string InternalCode = "internal";

    /// <summary>A <see cref="SarkException"/>: its code decides the status; <c>upstream_unavailable</c> adds <c>Retry-After</c>.</summary>
    public static Task WriteAsync(HttpContext context, SarkException ex)
    {
        if (ex is UpstreamUnavailableException { RetryAfter: { } retryAfter })
        {
            var seconds = Math.Max(1, (long)Math.Ceiling(retryAfter.TotalSeconds));
            context.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        }

        return WriteAsync(context, ex.Code.ToHttpStatus(), ex.Code.ToWire(), ex.Message, ex.RequestId);
    }

    public static Task WriteAsync(HttpContext context, int status, string code, string message, string? requestId = null)
    {
        var body = new ErrorResponse(new ErrorDetail(code, message, requestId ?? context.TraceIdentifier));
        context.Response.StatusCode = status;
        return context.Response.WriteAsJsonAsync(body, NodeJsonContext.Default.ErrorResponse, contentType: null, context.RequestAborted);
    }
}
