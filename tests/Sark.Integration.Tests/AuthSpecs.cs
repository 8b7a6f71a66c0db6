using System.Buffers.Text;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Sark.Integration.Tests.Infrastructure;

namespace Sark.Integration.Tests;

/// <summary>
/// A node with anonymous callers off, one API key and HS256 JWT. No upstream: what is under
/// test is the front door, which refuses or admits a request before anything else runs.
/// </summary>
public sealed class AuthNodeFixture : IAsyncLifetime
{
    public const string ApiKey = "it-key-6f1c2a9e0b7d4c3f8a5e";
    public const string Issuer = "https://issuer.it.test";
    public const string Audience = "sark-it";
    public const string Secret = "integration-secret-of-at-least-32-bytes";

    private NodeProcess? _node;

    public NodeProcess Node => _node ?? throw new InvalidOperationException("The node has not started.");

    public static string Config => $$"""
        sark {
          node.shutdown-drain = 2s
          auth {
            anonymous.enabled = false
            api-keys = [ { sha256 = "{{Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(ApiKey)))}}", subject = "ci-bot", roles = [developer] } ]
            jwt { enabled = true, issuer = "{{Issuer}}", audience = "{{Audience}}", hs256-secret = "{{Secret}}" }
          }
        }
        """;

    public async Task InitializeAsync() => _node = await NodeProcess.StartAsync(Config);

    public async Task DisposeAsync()
    {
        if (_node is not null)
            await _node.DisposeAsync();
    }

    /// <summary>An HS256 token from the configured issuer for the given audience, valid from <paramref name="from"/> for <paramref name="life"/>.</summary>
    public static string Token(string audience = Audience, TimeSpan? from = null, TimeSpan? life = null)
    {
        var start = DateTimeOffset.UtcNow + (from ?? TimeSpan.FromMinutes(-1));
        var header = Base64Url.EncodeToString(JsonSerializer.SerializeToUtf8Bytes(new { alg = "HS256", typ = "JWT" }));
        var claims = Base64Url.EncodeToString(JsonSerializer.SerializeToUtf8Bytes(new
        {
            iss = Issuer,
            aud = audience,
            sub = "alice",
            roles = new[] { "developer" },
            nbf = start.ToUnixTimeSeconds(),
            exp = (start + (life ?? TimeSpan.FromMinutes(10))).ToUnixTimeSeconds(),
        }));
        var signature = HMACSHA256.HashData(Encoding.UTF8.GetBytes(Secret), Encoding.ASCII.GetBytes($"{header}.{claims}"));
        return $"{header}.{claims}.{Base64Url.EncodeToString(signature)}";
    }
}

/// <summary>Caller authentication at the REST API of a real node (issue 6).</summary>
public sealed class AuthSpecs(AuthNodeFixture fixture) : IClassFixture<AuthNodeFixture>
{
    private static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(60);
    private readonly HttpClient _http = fixture.Node.Http;

    private async Task<HttpResponseMessage> GetAsync(string path, string? apiKey = null, string? bearer = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (apiKey is not null)
            request.Headers.Add("X-API-Key", apiKey);
        if (bearer is not null)
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        return await _http.SendAsync(request);
    }

    private static async Task<string> UnauthenticatedAsync(HttpResponseMessage response)
    {
        var error = await response.ErrorAsync(HttpStatusCode.Unauthorized, "unauthenticated");
        Assert.NotEmpty(response.Headers.WwwAuthenticate);
        return error.GetProperty("message").GetString()!;
    }

    [Fact]
    public async Task No_credential_is_unauthenticated_when_anonymous_callers_are_off()
    {
        using var response = await GetAsync("/api/v1/servers");

        var message = await UnauthenticatedAsync(response);
        Assert.Contains("No credential", message, StringComparison.Ordinal);
        var challenges = response.Headers.WwwAuthenticate.Select(c => c.Scheme).ToList();
        Assert.Contains("Bearer", challenges);
        Assert.Contains("ApiKey", challenges);
    }

    [Fact]
    public async Task Wrong_API_key_is_unauthenticated()
    {
        using var response = await GetAsync("/api/v1/servers", apiKey: "not-the-configured-key");

        Assert.Equal("The API key is not known.", await UnauthenticatedAsync(response));
    }

    [Fact]
    public async Task Good_API_key_lists_the_servers()
    {
        using var response = await GetAsync("/api/v1/servers", apiKey: AuthNodeFixture.ApiKey);

        var body = await response.JsonAsync();
        Assert.Equal(JsonValueKind.Array, body.GetProperty("servers").ValueKind);
    }

    [Fact]
    public async Task Good_JWT_lists_the_upstreams()
    {
        using var response = await GetAsync("/api/v1/upstreams", bearer: AuthNodeFixture.Token());

        var body = await response.JsonAsync();
        Assert.Equal(JsonValueKind.Array, body.GetProperty("upstreams").ValueKind);
    }

    [Fact]
    public async Task Expired_JWT_is_unauthenticated_with_an_invalid_token_challenge()
    {
        var expired = AuthNodeFixture.Token(from: TimeSpan.FromHours(-2), life: TimeSpan.FromMinutes(10));

        using var response = await GetAsync("/api/v1/servers", bearer: expired);

        Assert.Equal("The bearer token has expired.", await UnauthenticatedAsync(response));
        var bearer = Assert.Single(response.Headers.WwwAuthenticate, c => c.Scheme == "Bearer");
        Assert.Contains("error=\"invalid_token\"", bearer.Parameter, StringComparison.Ordinal);
    }

    [Fact]
    public async Task JWT_for_another_audience_is_unauthenticated()
    {
        using var response = await GetAsync("/api/v1/servers", bearer: AuthNodeFixture.Token(audience: "another-service"));

        Assert.Contains("audience", await UnauthenticatedAsync(response), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Invoke_without_credential_is_refused_before_it_reaches_the_catalog()
    {
        using var refused = await _http.InvokeAsync(new { server = "nowhere", tool = "echo", parameters = new { } });
        using var admitted = await SendInvokeWithKeyAsync();

        await UnauthenticatedAsync(refused);
        await admitted.ErrorAsync(HttpStatusCode.NotFound, "not_found");
    }

    [Theory]
    [InlineData("/health")]
    [InlineData("/health/live")]
    [InlineData("/health/ready")]
    [InlineData("/metrics")]
    public async Task Health_and_metrics_need_no_credential(string path)
    {
        using var response = await GetAsync(path);

        Assert.NotEqual(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.True(response.IsSuccessStatusCode, $"{path}: {(int)response.StatusCode}");
    }

    [Fact]
    public async Task Neither_keys_nor_tokens_reach_the_node_log()
    {
        var token = AuthNodeFixture.Token();
        var expired = AuthNodeFixture.Token(from: TimeSpan.FromHours(-2));
        using (await GetAsync("/api/v1/servers", apiKey: AuthNodeFixture.ApiKey))
        using (await GetAsync("/api/v1/servers", apiKey: "wrong-key-that-must-not-be-logged"))
        using (await GetAsync("/api/v1/servers", bearer: token))
        using (await GetAsync("/api/v1/servers", bearer: expired))
        {
        }

        var log = fixture.Node.Describe();
        Assert.Contains("unauthenticated", log, StringComparison.Ordinal);
        foreach (var secret in new[] { AuthNodeFixture.ApiKey, "wrong-key-that-must-not-be-logged", token, expired, AuthNodeFixture.Secret })
            Assert.DoesNotContain(secret, log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_node_bound_beyond_loopback_without_credentials_exits_with_code_2()
    {
        var exit = await NodeProcess.RunToExitAsync("sark.node.shutdown-drain = 1s", ["--bind", "0.0.0.0:0"], ExitTimeout);

        Assert.True(exit.ExitCode == 2, exit.ToString());
        Assert.Contains("sark: configuration error: sark.auth:", exit.StderrText, StringComparison.Ordinal);
        Assert.Contains("not a loopback address", exit.StderrText, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", exit.StderrText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_bundled_configuration_serves_the_REST_API_to_anonymous_callers()
    {
        await using var node = await NodeProcess.StartAsync(hocon: null);

        using var response = await node.Http.GetAsync("/api/v1/upstreams");

        var body = await response.JsonAsync();
        Assert.Contains(body.GetProperty("upstreams").EnumerateArray(), u => u.GetProperty("name").GetString() == "demo");
    }

    private async Task<HttpResponseMessage> SendInvokeWithKeyAsync()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/invoke")
        {
            Content = new StringContent("""{"server":"nowhere","tool":"echo","parameters":{}}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("X-API-Key", AuthNodeFixture.ApiKey);
        return await _http.SendAsync(request);
    }
}
