using System.Collections.Immutable;
using System.Diagnostics;
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

/// <summary>What a discovery walk found, and what it took.</summary>
internal sealed record Discovery(ImmutableArray<CatalogEntry> Entries, PagingStats Paging);

/// <summary>Headers of one logical call: its request id (the same across retries), trace context and a forwarded token.</summary>
internal readonly record struct CallHeaders(string RequestId, string? TraceParent = null, string? BearerToken = null);

/// <summary>
/// The HTTP side of a <c>gateway</c> upstream: one pooled <see cref="HttpClient"/> to the
/// registry (no redirects, bounded connections and response size), reads retried under one
/// budget per logical call (<see cref="ReadRetry"/>), discovery over the paged REST contract,
/// and invoke, which is retried only when the connection could not be made. No actor state; the
/// connection actor pipes its tasks back to itself.
/// </summary>
internal sealed class RegistryClient : IDisposable
{
    private static readonly JsonElement EmptyObject = JsonElement.Parse("{}");

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
            // traceparent is set per request from the call's own context (the actor hop loses Activity.Current).
            ActivityHeadersPropagator = null,
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
    public async Task<Discovery> DiscoverAsync(CallHeaders headers, CancellationToken cancellationToken)
    {
        var start = Stopwatch.GetTimestamp();
        var retry = new ReadRetry(_options.ReadRetry);
        var servers = ImmutableArray.CreateBuilder<ServerInfo>();
        var (serverPages, _) = await WalkAsync("api/v1/servers", retry, headers, json =>
        {
            var page = RegistryContract.ParseServerPage(json, _options.Name);
            if (!page.IsOk)
                throw Invalid($"the registry's server list is not valid: {page.Error}");
            servers.AddRange(page.Value!.Servers);
            return (page.Value.Servers.Length, page.Value.Fingerprint, page.Value.NextOffset, page.Value.Total);
        }, cancellationToken).ConfigureAwait(false);

        var tools = new Dictionary<string, ImmutableArray<ToolInfo>.Builder>(StringComparer.Ordinal);
        var (toolPages, _) = await WalkAsync("api/v1/tools", retry, headers, json => GroupTools(json, tools), cancellationToken).ConfigureAwait(false);

        var entries = ImmutableArray.CreateBuilder<CatalogEntry>(servers.Count);
        var toolCount = 0;
        foreach (var server in servers)
        {
            var serverTools = tools.TryGetValue(server.ServerName, out var list) ? list.ToImmutable() : [];
            toolCount += serverTools.Length;
            entries.Add(new CatalogEntry(server with { ToolsCount = serverTools.Length }, serverTools));
        }

        var paging = new PagingStats(serverPages + toolPages, servers.Count, toolCount, retry.Attempts - (serverPages + toolPages), Stopwatch.GetElapsedTime(start));
        return new Discovery(entries.ToImmutable(), paging);
    }

    /// <summary>
    /// One server and its tools (<c>GET /api/v1/servers/{name}</c>, then its tools' pages), or
    /// null when the registry no longer knows it (404).
    /// </summary>
    public async Task<CatalogEntry?> ReadServerAsync(string server, CallHeaders headers, CancellationToken cancellationToken)
    {
        var retry = new ReadRetry(_options.ReadRetry);
        var body = await GetAsync($"api/v1/servers/{Uri.EscapeDataString(server)}", retry, headers, allowNotFound: true, cancellationToken).ConfigureAwait(false);
        if (body is null)
            return null;
        var parsed = RegistryContract.ParseServer(body, _options.Name);
        if (!parsed.IsOk)
            throw Invalid($"the registry's answer for server '{server}' is not valid: {parsed.Error}");

        var tools = new Dictionary<string, ImmutableArray<ToolInfo>.Builder>(StringComparer.Ordinal);
        await WalkAsync($"api/v1/tools?server={Uri.EscapeDataString(server)}&", retry, headers, json => GroupTools(json, tools), cancellationToken).ConfigureAwait(false);
        var serverTools = tools.TryGetValue(server, out var list) ? list.ToImmutable() : [];
        return new CatalogEntry(parsed.Value! with { ToolsCount = serverTools.Length }, serverTools);
    }

    /// <summary><c>GET /health</c>: returns when the registry says it is healthy, throws <see cref="RegistryException"/> when not.</summary>
    public async Task CheckHealthAsync(CallHeaders headers, CancellationToken cancellationToken)
    {
        var body = await GetAsync("health", new ReadRetry(_options.ReadRetry), headers, allowNotFound: false, cancellationToken).ConfigureAwait(false);
        string? status = null;
        try
        {
            using var json = JsonDocument.Parse(body);
            if (json.RootElement.ValueKind == JsonValueKind.Object && json.RootElement.TryGetProperty("status", out var s) && s.ValueKind == JsonValueKind.String)
                status = s.GetString();
        }
        catch (JsonException)
        {
        }

        if (status is not ("healthy" or "ok"))
            throw new RegistryException(new SarkError(SarkErrorCode.UpstreamUnavailable,
                $"the registry at {_options.Url} reports itself unhealthy (status '{status ?? "absent"}')"), countsAsFailure: true);
    }

    /// <summary>
    /// <c>POST /api/v1/invoke</c>. A tool call may not be idempotent, so it is tried again only
    /// when the connection could not be made (nothing was sent). The body's <c>result</c>, or the
    /// whole body when it has none, is the tool's result.
    /// </summary>
    public async Task<InvokeOutcome> InvokeAsync(
        string server, string tool, JsonElement? arguments, CallHeaders headers, CancellationToken cancellationToken)
    {
        var body = JsonSerializer.SerializeToUtf8Bytes(
            new InvokeRequestDto(server, tool, arguments is { ValueKind: JsonValueKind.Object } a ? a : EmptyObject), RegistryJsonContext.Default.InvokeRequestDto);
        var retry = new ReadRetry(_options.ReadRetry);
        while (true)
        {
            retry.Attempt();
            using var request = NewRequest(HttpMethod.Post, "api/v1/invoke", headers);
            request.Content = new ByteArrayContent(body) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") } };
            try
            {
                using var response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
                return await ReadInvokeAsync(response, server, tool, cancellationToken).ConfigureAwait(false);
            }
            catch (HttpRequestException ex) when (ex.HttpRequestError == HttpRequestError.ConnectionError)
            {
                if (retry.TryRetry(null, out var delay))
                {
                    await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
                    continue;
                }

                return new InvokeOutcome(null, false, new SarkError(SarkErrorCode.UpstreamUnavailable,
                    $"The registry of upstream '{_options.Name}' could not be reached after {retry.Attempts} attempts ({ex.Message}); the call was not sent.") { NotSent = true }, true);
            }
            catch (HttpRequestException ex) when (IsTooLarge(ex))
            {
                return new InvokeOutcome(null, false, new SarkError(SarkErrorCode.TooLarge,
                    $"The registry of upstream '{_options.Name}' answered '{tool}' with more than {_options.MaxMessageBytes} bytes (max-message-size)."), false);
            }
            catch (HttpRequestException ex)
            {
                return new InvokeOutcome(null, false, new SarkError(SarkErrorCode.UpstreamError,
                    $"The call to '{tool}' on '{server}' through upstream '{_options.Name}' failed: {ex.Message}."), true);
            }
        }
    }

    public void Dispose() => _http.Dispose();

    private async Task<InvokeOutcome> ReadInvokeAsync(HttpResponseMessage response, string server, string tool, CancellationToken cancellationToken)
    {
        var status = (int)response.StatusCode;
        if (response.IsSuccessStatusCode)
        {
            try
            {
                var body = JsonElement.Parse(await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false));
                var result = body.ValueKind == JsonValueKind.Object && body.TryGetProperty("result", out var r) ? r : body;
                return new InvokeOutcome(result, McpMessages.IsToolError(result), null, false);
            }
            catch (JsonException ex)
            {
                return new InvokeOutcome(null, false, new SarkError(SarkErrorCode.UpstreamError,
                    $"The registry of upstream '{_options.Name}' answered '{tool}' with invalid JSON: {ex.Message}"), false);
            }
        }

        var error = response.StatusCode switch
        {
            HttpStatusCode.NotFound => new SarkError(SarkErrorCode.NotFound, $"The registry of upstream '{_options.Name}' does not know tool '{tool}' of server '{server}'."),
            HttpStatusCode.TooManyRequests or HttpStatusCode.ServiceUnavailable => new SarkError(SarkErrorCode.UpstreamUnavailable,
                $"The registry of upstream '{_options.Name}' answered {status}; try again later.", RetryAfter: RetryAfter(response), UpstreamStatus: status),
            _ => new SarkError(SarkErrorCode.UpstreamError, $"The registry of upstream '{_options.Name}' answered {status} {response.ReasonPhrase} to '{tool}' on '{server}'.", UpstreamStatus: status),
        };
        return new InvokeOutcome(null, false, error, status >= 500);
    }

    private (int Count, string Fingerprint, int? NextOffset, int? Total) GroupTools(byte[] json, Dictionary<string, ImmutableArray<ToolInfo>.Builder> tools)
    {
        var page = RegistryContract.ParseToolPage(json);
        if (!page.IsOk)
            throw Invalid($"the registry's tool list is not valid: {page.Error}");
        foreach (var tool in page.Value!.Tools)
        {
            if (!tools.TryGetValue(tool.ServerName, out var list))
                tools[tool.ServerName] = list = ImmutableArray.CreateBuilder<ToolInfo>();
            list.Add(tool);
        }

        return (page.Value.Tools.Length, page.Value.Fingerprint, page.Value.NextOffset, page.Value.Total);
    }

    /// <summary>Follows every page of <paramref name="path"/> (which ends in '?' or '&amp;' when it has a query).</summary>
    private async Task<(int Pages, int Items)> WalkAsync(
        string path, ReadRetry retry, CallHeaders headers, Func<byte[], (int Count, string Fingerprint, int? NextOffset, int? Total)> readPage, CancellationToken cancellationToken)
    {
        var separator = path.EndsWith('&') ? "" : "?";
        var pager = new OffsetPager(_options.PageSize, _options.MaxListPages);
        var request = pager.First;
        while (true)
        {
            var body = await GetAsync($"{path}{separator}offset={request.Offset}&limit={request.Limit}", retry, headers, allowNotFound: false, cancellationToken).ConfigureAwait(false);
            var page = readPage(body!);
            switch (pager.Next(page.Count, page.Fingerprint, page.NextOffset, page.Total))
            {
                case PagerStep.Fetch fetch:
                    request = fetch.Request;
                    break;
                case PagerStep.Done done:
                    return (done.Pages, done.Items);
                case PagerStep.Failed failed:
                    throw Invalid(failed.Reason);
            }
        }
    }

    /// <summary>
    /// One GET under the read's retry budget: 5xx, 429, resets and per-attempt timeouts are tried
    /// again; 4xx is not (401/403 are <c>upstream_error</c> with the status, 404 is
    /// <c>not_found</c>, or null when <paramref name="allowNotFound"/>).
    /// </summary>
    private async Task<byte[]?> GetAsync(string path, ReadRetry retry, CallHeaders headers, bool allowNotFound, CancellationToken cancellationToken)
    {
        while (true)
        {
            retry.Attempt();
            RegistryException failure;
            TimeSpan? retryAfter = null;
            using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            attempt.CancelAfter(_options.CallTimeout);
            try
            {
                using var request = NewRequest(HttpMethod.Get, path, headers);
                using var response = await _http.SendAsync(request, attempt.Token).ConfigureAwait(false);
                var status = (int)response.StatusCode;
                if (response.IsSuccessStatusCode)
                    return await response.Content.ReadAsByteArrayAsync(attempt.Token).ConfigureAwait(false);
                if (response.StatusCode == HttpStatusCode.NotFound && allowNotFound)
                    return null;
                if (status is >= 400 and < 500 and not 429)
                {
                    throw new RegistryException(new SarkError(
                        response.StatusCode == HttpStatusCode.NotFound ? SarkErrorCode.NotFound : SarkErrorCode.UpstreamError,
                        $"GET /{path} answered {status} {response.ReasonPhrase}" + (status is 401 or 403 ? "; check the upstream's api-key" : ""),
                        UpstreamStatus: status), countsAsFailure: false);
                }

                retryAfter = RetryAfter(response);
                failure = new RegistryException(new SarkError(SarkErrorCode.UpstreamUnavailable,
                    $"GET /{path} answered {status} {response.ReasonPhrase}", RetryAfter: retryAfter, UpstreamStatus: status), countsAsFailure: status >= 500);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                failure = new RegistryException(new SarkError(SarkErrorCode.UpstreamTimeout,
                    $"GET /{path} did not answer within {_options.CallTimeout.TotalSeconds:0.###}s (call-timeout)"), countsAsFailure: true);
            }
            catch (HttpRequestException ex) when (IsTooLarge(ex))
            {
                throw new RegistryException(new SarkError(SarkErrorCode.TooLarge,
                    $"GET /{path} answered with more than {_options.MaxMessageBytes} bytes (max-message-size)"), countsAsFailure: false);
            }
            catch (HttpRequestException ex)
            {
                failure = new RegistryException(new SarkError(SarkErrorCode.UpstreamUnavailable,
                    $"the registry at {_options.Url} could not be reached ({ex.Message})"), countsAsFailure: true);
            }

            if (!retry.TryRetry(retryAfter, out var delay))
                throw failure.AfterAttempts(retry.Attempts);
            await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
        }
    }

    private HttpRequestMessage NewRequest(HttpMethod method, string path, CallHeaders headers)
    {
        var request = new HttpRequestMessage(method, path);
        request.Headers.TryAddWithoutValidation("X-Request-ID", headers.RequestId);
        if (headers.TraceParent is { } traceParent)
            request.Headers.TryAddWithoutValidation("traceparent", traceParent);
        if (_options.ForwardCallerToken && headers.BearerToken is { } token)
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return request;
    }

    private static TimeSpan? RetryAfter(HttpResponseMessage response) =>
        response.Headers.RetryAfter is { } r ? r.Delta ?? (r.Date is { } date ? date - DateTimeOffset.UtcNow : null) : null;

    private static bool IsTooLarge(HttpRequestException ex) =>
        ex.Message.Contains("maximum buffer size", StringComparison.OrdinalIgnoreCase)
        || ex.InnerException?.Message.Contains("maximum buffer size", StringComparison.OrdinalIgnoreCase) == true;

    private static RegistryException Invalid(string message) =>
        new(new SarkError(SarkErrorCode.UpstreamError, message), countsAsFailure: false);
}

/// <summary>A read of the registry failed; <see cref="Error"/> says how, and whether it counts against the circuit.</summary>
internal sealed class RegistryException(SarkError error, bool countsAsFailure) : Exception(error.Message)
{
    public SarkError Error { get; } = error;

    /// <summary>5xx, timeouts and unreachable count towards the failure threshold; 4xx and bad contents do not.</summary>
    public bool CountsAsFailure { get; } = countsAsFailure;

    public RegistryException AfterAttempts(int attempts) => attempts <= 1
        ? this
        : new RegistryException(Error with { Message = $"{Error.Message} (after {attempts} attempts)" }, CountsAsFailure);
}
