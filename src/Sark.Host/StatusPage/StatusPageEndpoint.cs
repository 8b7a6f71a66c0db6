namespace Sark.Host.StatusPage;

/// <summary>
/// The read-only status page at <c>GET /</c>: one static HTML file (embedded, no build step,
/// no external assets). Its script reads <c>/api/v1/upstreams</c>, <c>/api/v1/servers</c> and
/// <c>/api/v1/tools</c>, then follows <c>/api/v1/events</c> to update live. See docs/observability.md.
/// </summary>
internal static class StatusPageEndpoint
{
    private static readonly Lazy<byte[]> Page = new(Load);

    public static IEndpointRouteBuilder MapStatusPage(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/", static (HttpContext context) =>
        {
            context.Response.Headers.CacheControl = "no-store";
            // Everything is inline: forbid loading anything from elsewhere.
            context.Response.Headers.ContentSecurityPolicy =
                "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:";
            return Results.Bytes(Page.Value, "text/html; charset=utf-8");
        });
        return endpoints;
    }

    private static byte[] Load()
    {
        using var stream = typeof(StatusPageEndpoint).Assembly.GetManifestResourceStream("Sark.Host.status.html")
            ?? throw new InvalidOperationException("The status page is not embedded in Sark.Host.");
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        return buffer.ToArray();
    }
}
