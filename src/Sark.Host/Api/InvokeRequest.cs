using System.Text.Json;
using Sark.Actors.Configuration;
using Sark.Actors.Errors;

namespace Sark.Host.Api;

/// <summary>
/// The body of <c>POST /api/v1/invoke</c>: <c>{"server": str, "tool": str, "parameters": object?, "route": str?}</c>;
/// <c>route</c> is a routing mode (auto, http-only, sse-only, stdio-only) for this call.
/// </summary>
internal sealed record InvokeRequest(string Server, string Tool, JsonElement? Parameters, RouteMode? Route = null)
{
    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = 64 };

    /// <summary>
    /// Reads and checks the body. A malformed body is a <see cref="SarkInvalidRequestException"/>
    /// that names the field; one over <paramref name="maxBytes"/> is a <see cref="SarkTooLargeException"/>
    /// (or Kestrel's 413 when the length was not announced).
    /// </summary>
    public static async Task<InvokeRequest> ReadAsync(HttpRequest request, long maxBytes, string requestId, CancellationToken cancellationToken)
    {
        if (request.ContentLength > maxBytes)
            throw TooLarge(maxBytes, requestId);

        JsonDocument document;
        try
        {
            document = await JsonDocument.ParseAsync(request.Body, DocumentOptions, cancellationToken).ConfigureAwait(false);
        }
        catch (JsonException ex)
        {
            throw new SarkInvalidRequestException(
                $"The request body is not valid JSON ({ex.Message}); send {{\"server\": ..., \"tool\": ..., \"parameters\": {{...}}}}.", requestId);
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new SarkInvalidRequestException($"The request body must be a JSON object, not {Describe(root.ValueKind)}.", requestId);

            var server = RequiredName(root, "server", requestId);
            var tool = RequiredName(root, "tool", requestId);
            JsonElement? parameters = null;
            if (root.TryGetProperty("parameters", out var p) && p.ValueKind != JsonValueKind.Null)
            {
                if (p.ValueKind != JsonValueKind.Object)
                    throw new SarkInvalidRequestException($"Field 'parameters' must be a JSON object, not {Describe(p.ValueKind)}.", requestId);

                // The document is returned to its pool when this method ends; the call outlives it.
                parameters = p.Clone();
            }

            RouteMode? route = null;
            if (root.TryGetProperty("route", out var r) && r.ValueKind != JsonValueKind.Null)
            {
                route = r.ValueKind == JsonValueKind.String ? RouteModes.FromConfigName(r.GetString()) : null;
                if (route is null)
                    throw new SarkInvalidRequestException("Field 'route' must be one of auto, http-only, sse-only, stdio-only.", requestId);
            }

            return new InvokeRequest(server, tool, parameters, route);
        }
    }

    public static SarkTooLargeException TooLarge(long maxBytes, string requestId) =>
        new($"The request body is larger than the {maxBytes}-byte limit (sark.node.http.max-request-body).", requestId);

    private static string RequiredName(JsonElement root, string field, string requestId)
    {
        if (!root.TryGetProperty(field, out var value) || value.ValueKind == JsonValueKind.Null)
            throw new SarkInvalidRequestException($"Field '{field}' is required: the name of the {field} to call.", requestId);
        if (value.ValueKind != JsonValueKind.String)
            throw new SarkInvalidRequestException($"Field '{field}' must be a string, not {Describe(value.ValueKind)}.", requestId);
        var text = value.GetString();
        return string.IsNullOrWhiteSpace(text)
            ? throw new SarkInvalidRequestException($"Field '{field}' must not be empty.", requestId)
            : text;
    }

    private static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        _ => "null",
    };
}
