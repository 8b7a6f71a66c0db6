using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Sark.Actors.Policy;

/// <summary>
/// The OPA engine's HTTP side: <c>POST {url}/v1/data/{path}</c> with <c>{"input": ...}</c>,
/// reading <c>result</c>. One pooled <see cref="HttpClient"/> (no redirects, bounded response),
/// a per-query timeout, and no retries. Every failure is a
/// <see cref="PolicyUnavailableException"/> whose message says what went wrong: the caller
/// fails closed. No actor state; the decision point pipes its tasks back to itself.
/// </summary>
internal sealed class OpaPolicyClient : IDisposable
{
    private const int MaxResponseBytes = 1 << 20;

    private readonly HttpClient _http;
    private readonly OpaOptions _options;
    private readonly TimeSpan _defaultCacheTtl;
    private readonly Uri _uri;

    public OpaPolicyClient(OpaOptions options, TimeSpan defaultCacheTtl)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _defaultCacheTtl = defaultCacheTtl;
        _uri = options.DataUri;
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            MaxConnectionsPerServer = options.MaxConnections,
            ConnectTimeout = options.Timeout,
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(90),
        };
        _http = new HttpClient(handler)
        {
            Timeout = Timeout.InfiniteTimeSpan,
            MaxResponseContentBufferSize = MaxResponseBytes,
        };
        _http.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
    }

    public OpaOptions Options => _options;

    /// <summary>Asks OPA for the decision on <paramref name="input"/>; throws <see cref="PolicyUnavailableException"/> on any failure.</summary>
    public async Task<PolicyDecision> DecideAsync(PolicyInput input, CancellationToken cancellationToken)
    {
        var requestId = input.Context.RequestId;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.Timeout);
        using var request = new HttpRequestMessage(HttpMethod.Post, _uri)
        {
            Content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(new OpaRequest(input), PolicyJsonContext.Default.OpaRequest)),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        try
        {
            using var response = await _http.SendAsync(request, timeout.Token).ConfigureAwait(false);
            var body = await response.Content.ReadAsByteArrayAsync(timeout.Token).ConfigureAwait(false);
            if ((int)response.StatusCode != 200)
            {
                throw new PolicyUnavailableException(
                    $"OPA answered {(int)response.StatusCode} {response.ReasonPhrase} to POST {_uri.AbsolutePath}{Detail(body)}; the call is refused until the policy can decide.",
                    requestId);
            }

            return ReadResponse(body, _uri.AbsolutePath, _defaultCacheTtl, requestId);
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new PolicyUnavailableException(
                $"OPA at {_options.Url} did not decide within {_options.Timeout.TotalMilliseconds:0}ms (sark.policy.opa.timeout); the call is refused.", requestId, ex);
        }
        catch (HttpRequestException ex)
        {
            throw new PolicyUnavailableException(
                $"OPA at {_options.Url} could not be reached or answered badly ({ex.Message}); the call is refused. Check that OPA runs and sark.policy.opa.url.", requestId, ex);
        }
    }

    /// <summary>
    /// Reads an OPA Data API response. <c>result</c> is the decision document
    /// (<c>{allow, reason?, filtered_parameters?, audit_id?, cache_ttl?}</c>) or a bare boolean
    /// (allow or deny with no filter). A missing <c>result</c> means the document is undefined.
    /// </summary>
    internal static PolicyDecision ReadResponse(ReadOnlySpan<byte> body, string path, TimeSpan defaultCacheTtl, string? requestId = null)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body.ToArray());
        }
        catch (JsonException ex)
        {
            throw new PolicyUnavailableException($"OPA answered {path} with invalid JSON ({ex.Message}); the call is refused.", requestId, ex);
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("result", out var result) || result.ValueKind == JsonValueKind.Undefined)
            {
                throw new PolicyUnavailableException(
                    $"OPA has no decision at {path} (the result is undefined); check that the policy is loaded and sark.policy.opa.path names its decision document.",
                    requestId);
            }

            return result.ValueKind switch
            {
                JsonValueKind.True => PolicyDecision.Allowed("Allowed by the OPA policy.", defaultCacheTtl),
                JsonValueKind.False => PolicyDecision.Denied("Denied by the OPA policy."),
                JsonValueKind.Object => ReadDecision(result, path, defaultCacheTtl, requestId),
                _ => throw Malformed(path, $"result is {result.ValueKind}, not a decision object or a boolean", requestId),
            };
        }
    }

    private static PolicyDecision ReadDecision(JsonElement result, string path, TimeSpan defaultCacheTtl, string? requestId)
    {
        if (!result.TryGetProperty("allow", out var allowValue) || allowValue.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
            throw Malformed(path, "result.allow is missing or not true/false", requestId);
        var allow = allowValue.ValueKind == JsonValueKind.True;

        var reason = allow ? "Allowed by the OPA policy." : "Denied by the OPA policy.";
        if (result.TryGetProperty("reason", out var reasonValue) && reasonValue.ValueKind != JsonValueKind.Null)
        {
            reason = reasonValue.ValueKind == JsonValueKind.String
                ? reasonValue.GetString()!
                : throw Malformed(path, "result.reason is not a string", requestId);
        }

        JsonElement? filtered = null;
        if (result.TryGetProperty("filtered_parameters", out var filteredValue) && filteredValue.ValueKind != JsonValueKind.Null)
        {
            filtered = filteredValue.ValueKind == JsonValueKind.Object
                ? filteredValue.Clone()
                : throw Malformed(path, "result.filtered_parameters is not an object", requestId);
        }

        string? auditId = null;
        if (result.TryGetProperty("audit_id", out var auditValue) && auditValue.ValueKind != JsonValueKind.Null)
        {
            auditId = auditValue.ValueKind == JsonValueKind.String
                ? auditValue.GetString()
                : throw Malformed(path, "result.audit_id is not a string", requestId);
        }

        // Absent cache_ttl: an allow lives for the default TTL; a deny is not cached.
        var ttl = allow ? defaultCacheTtl : TimeSpan.Zero;
        if (result.TryGetProperty("cache_ttl", out var ttlValue) && ttlValue.ValueKind != JsonValueKind.Null)
        {
            if (ttlValue.ValueKind != JsonValueKind.Number || !ttlValue.TryGetDouble(out var seconds) || double.IsNaN(seconds) || seconds < 0)
                throw Malformed(path, "result.cache_ttl is not a non-negative number of seconds", requestId);
            ttl = seconds >= SecondsConverter.Max.TotalSeconds ? SecondsConverter.Max : TimeSpan.FromSeconds(seconds);
        }

        return new PolicyDecision(allow, reason, allow ? filtered : null, auditId, ttl);
    }

    private static PolicyUnavailableException Malformed(string path, string what, string? requestId) =>
        new($"OPA's decision at {path} is malformed: {what}; the call is refused. See docs/policy.md for the decision document.", requestId);

    private static string Detail(byte[] body)
    {
        if (body.Length == 0)
            return "";
        var text = Encoding.UTF8.GetString(body, 0, Math.Min(body.Length, 200)).ReplaceLineEndings(" ");
        return $" ({text})";
    }

    public void Dispose() => _http.Dispose();
}
