using Microsoft.AspNetCore.Diagnostics;
using Sark.Actors.Errors;

namespace Sark.Host.Api;

/// <summary>Gives empty error responses (no route, wrong method) the JSON error body.</summary>
internal static class StatusCodeResponses
{
    public static Task WriteAsync(StatusCodeContext status) => WriteAsync(status.HttpContext);

    public static Task WriteAsync(HttpContext context)
    {
        var request = context.Request;
        var (code, message) = context.Response.StatusCode switch
        {
            StatusCodes.Status404NotFound => (SarkErrorCode.NotFound.ToWire(),
                $"Nothing is served at {request.Method} {request.Path}. The REST API is under /api/v1 (servers, tools, invoke, upstreams); health is at /health."),
            StatusCodes.Status405MethodNotAllowed => (SarkErrorCode.InvalidRequest.ToWire(),
                $"{request.Method} is not allowed on {request.Path}."),
            StatusCodes.Status413PayloadTooLarge => (SarkErrorCode.TooLarge.ToWire(), "The request body is too large."),
            < 500 => (SarkErrorCode.InvalidRequest.ToWire(), "The request was refused."),
            _ => (ApiErrors.InternalCode, "The node failed to handle the request."),
        };
        return ApiErrors.WriteAsync(context, context.Response.StatusCode, code, message);
    }
}
