using System.Collections.Immutable;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Sark.Actors.Catalog;
using Sark.Actors.Configuration;
using Sark.Actors.Errors;
using Sark.Actors.Protocol;

namespace Sark.Actors.Upstreams.Gateway;

/// <summary>The outcome of one <c>POST /api/v1/invoke</c>: a result, or an error and whether it counts against the circuit.</summary>
internal sealed record InvokeOutcome(JsonElement? Result, bool IsError, SarkError? Error, bool CountsAsFailure);

/// <summary>
/// The HTTP side of a <c>gateway</c> upstream: one pooled <see cref="HttpClient"/> to the
/// registry (no redirects, bounded connections and response size), discovery over the paged
/// REST contract, and invoke. No actor state; the connection actor pipes its tasks back to itself.
/// </summary>
internal sealed class RegistryClient : IDisposable
{
    private readonly HttpClient _http;
    private readonly UpstreamOptions _options;

    public RegistryClient(UpstreamOptions options)
    {
        _options = options;
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            MaxConnectionsPerServer = options.MaxConnections,
            ConnectTimeout = TimeSpan.FromSeconds(5),
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(90),
        };
        _http = new HttpClient(handler)
        {
            BaseAddress = new Uri(options.Url!.TrimEnd('/') + "/"),
            Timeout = Timeout.InfiniteTimeSpan,
            MaxResponseContentBufferSize = options.MaxMessageBytes,
        };
        _http.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        if (options.ApiKey is { } apiKey)
            _http.DefaultRequestHeaders.Add("X-API-Key", apiKey);
    }

    /// <summary>
    /// Walks every page of servers and of tools and groups the tools by server. Throws
    /// <see cref="RegistryException"/> with a sentence when the registry cannot be read.
    /// </summary>
    public async Task<ImmutableArray<CatalogEntry>> DiscoverAsync(CancellationToken cancellationToken)
    {
        var servers = ImmutableArray.CreateBuilder<ServerInfo>();
        await WalkAsync("api/v1/servers", json =>
        {
            var page = RegistryContract.ParseServerPage(json, _options.Name);
            if (!page.IsOk)
                throw new RegistryException($"the registry's server list is not valid: {page.Error}");
            servers.AddRange(page.Value!.Servers);
            return (page.Value.Servers.Length, page.Value.Fingerprint, page.Value.NextOffset, page.Value.Total);
        }, cancellationToken).ConfigureAwait(false);

        var tools = new Dictionary<string, ImmutableArray<ToolInfo>.Builder>(StringComparer.Ordinal);
        await WalkAsync("api/v1/tools", json =>
        {
            var page = RegistryContract.ParseToolPage(json);
            if (!page.IsOk)
                throw new RegistryException($"the registry's tool list is not valid: {page.Error}");
            foreach (var tool in page.Value!.Tools)
            {
                if (!tools.TryGetValue(tool.ServerName, out var list))
                    tools[tool.ServerName] = list = ImmutableArray.CreateBuilder<ToolInfo>();
                list.Add(tool);
            }

            return (page.Value.Tools.Length, page.Value.Fingerprint, page.Value.NextOffset, page.Value.Total);
        }, cancellationToken).ConfigureAwait(false);

        var entries = ImmutableArray.CreateBuilder<CatalogEntry>(servers.Count);
        foreach (var server in servers)
        {
            var serverTools = tools.TryGetValue(server.ServerName, out var list) ? list.ToImmutable() : [];
            entries.Add(new CatalogEntry(server with { ToolsCount = serverTools.Length }, serverTools));
        }

        return entries.ToImmutable();
    }

    private async Task WalkAsync(
        string path, Func<byte[], (int Count, string Fingerprint, int? NextOffset, int? Total)> readPage, CancellationToken cancellationToken)
    {
        var pager = new OffsetPager(_options.PageSize, _options.MaxListPages);
        var request = pager.First;
        while (true)
        {
            var body = await GetAsync($"{path}?offset={request.Offset}&limit={request.Limit}", cancellationToken).ConfigureAwait(false);
            var page = readPage(body);
            switch (pager.Next(page.Count, page.Fingerprint, page.NextOffset, page.Total))
            {
                case PagerStep.Fetch fetch:
                    request = fetch.Request;
                    break;
                case PagerStep.Done:
                    return;
                case PagerStep.Failed failed:
                    throw new RegistryException(failed.Reason);
            }
        }
    }

    private async Task<byte[]> GetAsync(string path, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await _http.GetAsync(path, cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
                throw new RegistryException($"GET /{path} answered {(int)response.StatusCode} {response.ReasonPhrase}");
            return await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException ex)
        {
            throw new RegistryException($"the registry at {_options.Url} could not be reached ({ex.Message})");
        }
    }

    /// <summary>
    /// <c>POST /api/v1/invoke</c>, never retried (a tool call may not be idempotent). The body's
    /// <c>result</c>, or the whole body when it has none, is the tool's result.
    /// </summary>
    public async Task<InvokeOutcome> InvokeAsync(
        string requestId, string server, string tool, JsonElement? arguments, CancellationToken cancellationToken)
    {
        var payload = new InvokeRequestDto(server, tool, arguments is { ValueKind: JsonValueKind.Object } a ? a : EmptyObject);
        using var request = new HttpRequestMessage(HttpMethod.Post, "api/v1/invoke")
        {
            Content = JsonContent(payload),
        };
        request.Headers.Add("X-Request-ID", requestId);
        try
        {
            using var response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
            var status = (int)response.StatusCode;
            if (response.IsSuccessStatusCode)
            {
                var body = JsonElement.Parse(await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false));
                var result = body.ValueKind == JsonValueKind.Object && body.TryGetProperty("result", out var r) ? r : body;
                return new InvokeOutcome(result, McpMessages.IsToolError(result), null, false);
            }

            var error = response.StatusCode switch
            {
                HttpStatusCode.NotFound => new SarkError(SarkErrorCode.NotFound, $"The registry of upstream '{_options.Name}' does not know tool '{tool}' of server '{server}'."),
                HttpStatusCode.TooManyRequests or HttpStatusCode.ServiceUnavailable => new SarkError(SarkErrorCode.UpstreamUnavailable,
                    $"The registry of upstream '{_options.Name}' answered {status}; try again later.", RetryAfter: response.Headers.RetryAfter?.Delta, UpstreamStatus: status),
                _ => new SarkError(SarkErrorCode.UpstreamError, $"The registry of upstream '{_options.Name}' answered {status} {response.ReasonPhrase} to '{tool}' on '{server}'.", UpstreamStatus: status),
            };
            return new InvokeOutcome(null, false, error, status >= 500);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (HttpRequestException ex) when (ex.HttpRequestError == HttpRequestError.ConnectionError)
        {
            return new InvokeOutcome(null, false, new SarkError(SarkErrorCode.UpstreamUnavailable,
                $"The registry of upstream '{_options.Name}' could not be reached ({ex.Message}); the call was not sent."), true);
        }
        catch (HttpRequestException ex)
        {
            return new InvokeOutcome(null, false, new SarkError(SarkErrorCode.UpstreamError,
                $"The call to '{tool}' on '{server}' through upstream '{_options.Name}' failed: {ex.Message}."), true);
        }
        catch (JsonException ex)
        {
            return new InvokeOutcome(null, false, new SarkError(SarkErrorCode.UpstreamError,
                $"The registry of upstream '{_options.Name}' answered with invalid JSON: {ex.Message}"), false);
        }
    }

    public void Dispose() => _http.Dispose();

    private static readonly JsonElement EmptyObject = JsonElement.Parse("{}");

    private static ByteArrayContent JsonContent(InvokeRequestDto payload)
    {
        var content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(payload, RegistryJsonContext.Default.InvokeRequestDto));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return content;
    }
}

/// <summary>The registry could not be read; the message says why.</summary>
internal sealed class RegistryException(string message) : Exception(message);
