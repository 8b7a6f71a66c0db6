using System.Text.Json;
using System.Text.Json.Nodes;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;
using Sark.Actors;
using Sark.Actors.Errors;
using Sark.Host.Security;

namespace Sark.Host.FrontDoor;

/// <summary>
/// <c>resources/*</c> and <c>prompts/*</c> of the MCP front door: the union over every server the
/// caller may see, resource URIs as <see cref="ResourceUris"/> and prompt names as
/// <see cref="ToolNames"/> (<c>&lt;server&gt;__&lt;prompt&gt;</c>), each read or get sent through
/// <see cref="ISarkGateway.SendRequestAsync"/> as the caller (policy, audit, circuit, timeout).
/// A server without resources or prompts (the upstream answers method-not-found), one behind a
/// gateway upstream (tools only) or one that fails is left out of a listing, not an error.
/// </summary>
internal sealed partial class FrontDoorCatalogHandlers(
    ISarkGateway gateway, ToolNames names, HiddenTools hidden, FrontDoorRuntime runtime, IHttpContextAccessor http, ILogger<FrontDoorCatalogHandlers> log)
{
    /// <summary>Pages read from one upstream for one listing, at most.</summary>
    internal const int MaxUpstreamPages = 20;

    public async ValueTask<ListResourcesResult> ListResourcesAsync(RequestContext<ListResourcesRequestParams> request, CancellationToken cancellationToken) =>
        await ListPageAsync<ListResourcesResult>(ListKind.Resources, "resources/list", "resources", "uri", RewriteUri("uri"), request.Params?.Cursor, cancellationToken).ConfigureAwait(false);

    public async ValueTask<ListResourceTemplatesResult> ListResourceTemplatesAsync(RequestContext<ListResourceTemplatesRequestParams> request, CancellationToken cancellationToken) =>
        await ListPageAsync<ListResourceTemplatesResult>(
            ListKind.ResourceTemplates, "resources/templates/list", "resourceTemplates", "uriTemplate", RewriteUri("uriTemplate"), request.Params?.Cursor, cancellationToken).ConfigureAwait(false);

    public async ValueTask<ListPromptsResult> ListPromptsAsync(RequestContext<ListPromptsRequestParams> request, CancellationToken cancellationToken) =>
        await ListPageAsync<ListPromptsResult>(ListKind.Prompts, "prompts/list", "prompts", "name", RewritePromptName, request.Params?.Cursor, cancellationToken).ConfigureAwait(false);

    public async ValueTask<ReadResourceResult> ReadResourceAsync(RequestContext<ReadResourceRequestParams> request, CancellationToken cancellationToken)
    {
        var requestId = RequestId();
        var uri = request.Params?.Uri;
        var single = FrontDoorScope.SingleServer(CurrentHttpContext());
        string? server = single, original = uri;
        if (single is null && !ResourceUris.TryParse(uri, out server, out original))
            throw FrontDoorErrors.Protocol($"Unknown resource: '{uri}'. Front-door resource URIs start with sark://<server>/.", McpErrorCode.InvalidParams, SarkErrorCode.NotFound, requestId);
        if (server is null || string.IsNullOrEmpty(original))
            throw FrontDoorErrors.Protocol("resources/read needs a 'uri'.", McpErrorCode.InvalidParams, SarkErrorCode.InvalidRequest, requestId);
        var result = await SendAsync(server, "resources/read", new JsonObject { ["uri"] = original }, $"resource: '{uri}'", requestId, cancellationToken).ConfigureAwait(false);
        if (single is null && result["contents"] is JsonArray contents)
        {
            foreach (var content in contents)
                RewriteUri("uri")(server, content as JsonObject);
        }

        return Deserialize<ReadResourceResult>(result);
    }

    public async ValueTask<GetPromptResult> GetPromptAsync(RequestContext<GetPromptRequestParams> request, CancellationToken cancellationToken)
    {
        var requestId = RequestId();
        var name = request.Params?.Name;
        string? server = FrontDoorScope.SingleServer(CurrentHttpContext()), prompt = name;
        if ((server is null && !names.TryParse(name, out server, out prompt)) || string.IsNullOrEmpty(prompt))
            throw FrontDoorErrors.Protocol($"Unknown prompt: '{name}'.", McpErrorCode.InvalidParams, SarkErrorCode.NotFound, requestId);
        var parameters = new JsonObject { ["name"] = prompt };
        if (request.Params?.Arguments is { } arguments)
            parameters["arguments"] = JsonSerializer.SerializeToNode(arguments, McpJsonUtilities.DefaultOptions);
        return Deserialize<GetPromptResult>(await SendAsync(server, "prompts/get", parameters, $"prompt: '{name}'", requestId, cancellationToken).ConfigureAwait(false));
    }

    /// <summary>
    /// One page of <paramref name="method"/>: the cursor is read first (a bad one costs no upstream
    /// request), then every item is listed, sorted by <paramref name="sortKey"/> and cut at the cursor.
    /// </summary>
    private async Task<T> ListPageAsync<T>(
        ListKind kind, string method, string key, string sortKey, Func<string, JsonObject?, bool> rewrite, string? cursor, CancellationToken cancellationToken)
    {
        var after = ListCursor.Read(kind, cursor, method, RequestId());
        var all = await ListAsync(method, key, sortKey, rewrite, cancellationToken).ConfigureAwait(false);
        string? next;
        var page = new JsonArray();
        foreach (var item in ListCursor.Page(all, static i => i.Key, after, runtime.Options.PageSize, kind, out next))
            page.Add(item.Item.DeepClone());
        var body = new JsonObject { [key] = page };
        if (next is not null)
            body["nextCursor"] = next;
        return Deserialize<T>(body);
    }

    /// <summary>
    /// Every item of <paramref name="method"/> on every server the caller sees, rewritten, in
    /// ordinal order of <paramref name="sortKey"/> (the front-door name or URI); an item without
    /// the key, or whose key repeats one listed before it, is left out.
    /// </summary>
    private async Task<List<(string Key, JsonObject Item)>> ListAsync(
        string method, string key, string sortKey, Func<string, JsonObject?, bool> rewrite, CancellationToken cancellationToken)
    {
        var context = CurrentHttpContext();
        var caller = context.GetCaller();
        var single = FrontDoorScope.SingleServer(context);
        var ordered = single is not null
            ? [single]
            : (await gateway.ListServersAsync(caller, cancellationToken).ConfigureAwait(false)).Select(s => s.ServerName).Order(StringComparer.Ordinal).ToArray();
        if (single is not null)
            rewrite = Unchanged;
        var pages = await Task.WhenAll(ordered.Select(server => ListServerAsync(server, method, key, caller, FrontDoorRequestIds.Of(context), cancellationToken))).ConfigureAwait(false);
        var all = new List<(string Key, JsonObject Item)>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < ordered.Length; i++)
        {
            foreach (var item in pages[i])
            {
                if (rewrite(ordered[i], item) && item[sortKey] is JsonValue value && value.TryGetValue<string>(out var itemKey) && seen.Add(itemKey))
                    all.Add((itemKey, item));
            }
        }

        all.Sort(static (a, b) => string.CompareOrdinal(a.Key, b.Key));
        return all;
    }

    private async Task<List<JsonObject>> ListServerAsync(string server, string method, string key, Caller caller, string requestId, CancellationToken cancellationToken)
    {
        var items = new List<JsonObject>();
        string? cursor = null;
        try
        {
            for (var page = 0; page < MaxUpstreamPages; page++)
            {
                var parameters = cursor is null ? (JsonElement?)null : JsonSerializer.SerializeToElement(new JsonObject { ["cursor"] = cursor }, McpJsonUtilities.DefaultOptions);
                var result = await gateway.SendRequestAsync(server, method, parameters,
                    new InvokeOptions { Caller = caller, RequestId = $"{requestId}-{server}-{page}" }, cancellationToken).ConfigureAwait(false);
                if (result.ValueKind != JsonValueKind.Object || JsonNode.Parse(result.GetRawText()) is not JsonObject body)
                    break;
                if (body[key] is JsonArray array)
                {
                    foreach (var item in array)
                    {
                        if (item is JsonObject o)
                            items.Add(o);
                    }
                }

                var next = body["nextCursor"] is JsonValue v && v.TryGetValue<string>(out var n) ? n : null;
                if (next is null || next == cursor)
                    break;
                cursor = next;
            }
        }
        catch (SarkException ex)
        {
            // No such capability (method not found), tools only (gateway), or down: left out.
            LogServerLeftOut(log, server, method, ex.Code.ToWire(), ex.Message);
        }

        return items;
    }

    /// <summary>The single-server endpoint keeps the upstream's own URIs and names.</summary>
    private static bool Unchanged(string server, JsonObject? item) => item is not null;

    private static Func<string, JsonObject?, bool> RewriteUri(string key) => (server, item) =>
    {
        if (item?[key] is not JsonValue value || !value.TryGetValue<string>(out var uri) || !ResourceUris.TryQualify(server, uri, out var qualified))
            return false;
        item[key] = qualified;
        return true;
    };

    /// <summary>A prompt under its front-door name; one whose name does not fit is left out, and reported once (<see cref="HiddenTools"/>).</summary>
    private bool RewritePromptName(string server, JsonObject? item)
    {
        if (item?["name"] is not JsonValue value || !value.TryGetValue<string>(out var name))
            return false;
        if (!names.TryQualify(server, name, out var qualified))
        {
            hidden.Report(HiddenKind.Prompt, server, name, qualified: true);
            return false;
        }

        item["name"] = qualified;
        return true;
    }

    private async Task<JsonObject> SendAsync(string server, string method, JsonObject parameters, string what, string requestId, CancellationToken cancellationToken)
    {
        try
        {
            var result = await gateway.SendRequestAsync(server, method, JsonSerializer.SerializeToElement(parameters, McpJsonUtilities.DefaultOptions),
                new InvokeOptions { Caller = CurrentHttpContext().GetCaller(), RequestId = requestId }, cancellationToken).ConfigureAwait(false);
            return JsonNode.Parse(result.GetRawText()) as JsonObject
                ?? throw new McpProtocolException($"The upstream of {what} answered with a result that is not an object.", McpErrorCode.InternalError);
        }
        catch (SarkException ex)
        {
            throw FrontDoorErrors.RequestError(ex, what, requestId);
        }
    }

    private static T Deserialize<T>(JsonObject body) =>
        (T)(body.Deserialize(McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(T)))
            ?? throw new McpProtocolException($"An upstream answered with a result that is not a {typeof(T).Name}.", McpErrorCode.InternalError));

    private string RequestId() => FrontDoorRequestIds.Of(CurrentHttpContext());

    private HttpContext CurrentHttpContext() =>
        http.HttpContext ?? throw new McpProtocolException("The front door has no HTTP request for this message.", McpErrorCode.InternalError);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Front door: server {Server} left out of {Method}: {Code}: {Reason}")]
    private static partial void LogServerLeftOut(ILogger logger, string server, string method, string code, string reason);
}
