using Microsoft.AspNetCore.Mvc;

namespace Sark.Host.Health;

/// <summary>
/// <c>/health</c> (the gateway contract), <c>/health/live</c> (the actor system runs) and
/// <c>/health/ready</c> (the required upstreams serve calls), each with a JSON detail.
/// </summary>
internal static class HealthEndpoints
{
    public static IServiceCollection AddHealthEndpoints(this IServiceCollection services) =>
        services.AddSingleton<Readiness>();

    public static IEndpointRouteBuilder MapHealthEndpoints(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/health", HealthAsync);
        endpoints.MapGet("/health/live", Live);
        endpoints.MapGet("/health/ready", ReadyAsync);
        return endpoints;
    }

    private static async Task<IResult> HealthAsync(HttpContext context, [FromServices] Readiness readiness)
    {
        var report = await readiness.CheckAsync(context.RequestAborted).ConfigureAwait(false);
        var ready = report.Status == "ready";
        return Results.Json(new HealthResponse(ready ? "healthy" : "unhealthy"), NodeJsonContext.Default.HealthResponse,
            statusCode: ready ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
    }

    private static IResult Live([FromServices] Readiness readiness) => readiness.ActorSystemRunning
        ? Results.Json(new LivenessResponse("live", "up"), NodeJsonContext.Default.LivenessResponse)
        : Results.Json(new LivenessResponse("down", "terminated"), NodeJsonContext.Default.LivenessResponse,
            statusCode: StatusCodes.Status503ServiceUnavailable);

    private static async Task<IResult> ReadyAsync(HttpContext context, [FromServices] Readiness readiness)
    {
        var report = await readiness.CheckAsync(context.RequestAborted).ConfigureAwait(false);
        return Results.Json(report, NodeJsonContext.Default.ReadinessResponse,
            statusCode: report.Status == "ready" ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
    }
}
