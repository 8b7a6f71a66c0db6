namespace Sark.Actors.Upstreams.McpHttp;

/// <summary>
/// The SSRF guard of an <c>mcp-http</c> upstream (DESIGN.md section 11): every request the SDK's
/// transport sends must go to the origin (scheme, host, port) of the configured url. The legacy
/// HTTP+SSE transport POSTs to whatever URL the server's <c>endpoint</c> event names, and the SDK
/// resolves that URL without checking it, so the check sits on the HttpClient the transport uses.
/// </summary>
internal sealed class OriginGuard(Uri configured, HttpMessageHandler inner) : DelegatingHandler(inner)
{
    /// <summary>True when <paramref name="requested"/> has the origin of <paramref name="configured"/>.</summary>
    public static bool SameOrigin(Uri configured, Uri requested) =>
        requested.IsAbsoluteUri
        && string.Equals(configured.Scheme, requested.Scheme, StringComparison.OrdinalIgnoreCase)
        && string.Equals(configured.IdnHost, requested.IdnHost, StringComparison.OrdinalIgnoreCase)
        && configured.Port == requested.Port;

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (request.RequestUri is not { } uri || !SameOrigin(configured, uri))
            throw new EndpointOriginException(configured, request.RequestUri);
        return base.SendAsync(request, cancellationToken);
    }

    protected override HttpResponseMessage Send(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (request.RequestUri is not { } uri || !SameOrigin(configured, uri))
            throw new EndpointOriginException(configured, request.RequestUri);
        return base.Send(request, cancellationToken);
    }
}

/// <summary>A request to another origin than the configured url's was refused before it was sent.</summary>
internal sealed class EndpointOriginException(Uri configured, Uri? requested)
    : HttpRequestException($"the server asked for requests to '{requested?.GetLeftPart(UriPartial.Authority)}', another origin than the configured url's '{configured.GetLeftPart(UriPartial.Authority)}'; refused (no requests to other origins)");
