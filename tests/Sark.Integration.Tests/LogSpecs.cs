using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using Sark.Integration.Tests.Infrastructure;

namespace Sark.Integration.Tests;

/// <summary>
/// The node's logs (issue 8): no secret ever appears in them, whatever the node did with it, and
/// a call over the slow-call threshold is logged once, with its breakdown and request id.
/// </summary>
public sealed class LogSpecs
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    private const string ApiKey = "obs-api-key-7c1e9a4b2d6f8e0a3c5b";
    private const string WrongKey = "obs-wrong-key-1d3f5a7c9e2b4d6f8a0c";
    private const string EnvSecret = "obs-env-secret-9b8a7c6d5e4f3a2b1c0d";
    private const string RegistryKey = "obs-registry-key-0f1e2d3c4b5a69788796";

    [Fact]
    public async Task Secrets_never_appear_in_anything_the_node_logs()
    {
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(ApiKey)));
        var config = NodeConfigs.Demo() + $$"""

            akka.loglevel = DEBUG
            sark.auth {
              anonymous.enabled = false
              api-keys = [ { sha256 = "{{hash}}", subject = "ci-bot", roles = [developer] } ]
              jwt { enabled = true, issuer = "{{AuthNodeFixture.Issuer}}", audience = "{{AuthNodeFixture.Audience}}", hs256-secret = "{{AuthNodeFixture.Secret}}" }
            }
            sark.policy.embedded.rules = [ { name = callers, effect = allow, subjects = [ci-bot, alice] } ]
            sark.upstreams.demo.env { DEMO_TOKEN = "{{EnvSecret}}" }
            # A registry that is not there: its connection fails and is logged, with its key configured.
            sark.upstreams.registry { kind = gateway, url = "http://127.0.0.1:1", api-key = "{{RegistryKey}}", required = false, init-timeout = 2s }
            """;
        // Everything the node's own code logs, down to Trace.
        var node = await NodeProcess.StartAsync(config, environment: new Dictionary<string, string>
        {
            ["Logging__LogLevel__Default"] = "Trace",
            ["Logging__LogLevel__Sark"] = "Trace",
        });
        var token = AuthNodeFixture.Token();
        var ids = new List<string>();
        try
        {
            await CallWithSecretsAsync(node, token, ids);
        }
        finally
        {
            // Stopped before the scan: the shutdown is logged too.
            await node.DisposeAsync();
        }

        ScanForSecrets(node.Stdout.Text + "\n" + node.Stderr.Text, token, ids);
    }

    private static async Task CallWithSecretsAsync(NodeProcess node, string token, List<string> ids)
    {
        async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, Action<HttpRequestMessage> credential, object? body = null)
        {
            using var request = new HttpRequestMessage(method, path);
            credential(request);
            if (body is not null)
                request.Content = JsonContent.Create(body);
            var response = await node.Http.SendAsync(request);
            ids.Add(response.Headers.GetValues("X-Request-ID").Single());
            return response;
        }

        var invoke = new { server = "demo", tool = "echo", parameters = new { message = "hello" } };
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(HttpMethod.Post, "/api/v1/invoke", r => r.Headers.Add("X-API-Key", ApiKey), invoke)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(HttpMethod.Post, "/api/v1/invoke", r => r.Headers.TryAddWithoutValidation("Authorization", "ApiKey " + ApiKey), invoke)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(HttpMethod.Post, "/api/v1/invoke", r => r.Headers.TryAddWithoutValidation("Authorization", "Bearer " + token), invoke)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await SendAsync(HttpMethod.Get, "/api/v1/servers", r => r.Headers.Add("X-API-Key", WrongKey))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await SendAsync(HttpMethod.Get, "/api/v1/servers", r => r.Headers.TryAddWithoutValidation("Authorization", "Bearer " + token + "x"))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await SendAsync(HttpMethod.Get, "/api/v1/servers", r => r.Headers.TryAddWithoutValidation("Authorization", "Bearer " + WrongKey))).StatusCode);
        // The registry upstream tries, fails and says so in the log.
        await Eventually.UntilAsync(() => Task.FromResult(node.Stdout.Text), t => t.Contains("registry", StringComparison.Ordinal) && t.Contains("127.0.0.1:1", StringComparison.Ordinal), Bound, "the registry upstream's failure logged");
    }

    private static void ScanForSecrets(string everything, string token, List<string> ids)
    {
        // The scan covers the requests: the failed ones are logged with their request id.
        Assert.Contains(ids[3], everything, StringComparison.Ordinal);
        Assert.Contains("unauthenticated", everything, StringComparison.Ordinal);
        // Debug lines were on: the successful authentications are there, by subject only.
        Assert.Contains("Caller ci-bot authenticated by api-key", everything, StringComparison.Ordinal);
        Assert.Contains("Caller alice authenticated by", everything, StringComparison.Ordinal);
        var jwtSignature = token[(token.LastIndexOf('.') + 1)..];
        foreach (var (name, secret) in new[]
        {
            ("the API key", ApiKey), ("a wrong API key", WrongKey), ("the JWT secret", AuthNodeFixture.Secret), ("the JWT", token),
            ("the JWT's signature", jwtSignature), ("an upstream's env secret", EnvSecret), ("a registry's API key", RegistryKey),
        })
        {
            Assert.False(everything.Contains(secret, StringComparison.Ordinal), $"{name} appears in the node's log:\n{Around(everything, secret)}");
        }

        Assert.DoesNotContain("Authorization:", everything, StringComparison.OrdinalIgnoreCase);
    }

    private static string Around(string text, string secret)
    {
        var at = text.IndexOf(secret, StringComparison.Ordinal);
        if (at < 0)
            return "";
        var from = Math.Max(0, text.LastIndexOf('\n', at) + 1);
        var to = text.IndexOf('\n', at);
        return text[from..(to < 0 ? text.Length : to)];
    }

    [Fact]
    public async Task A_call_over_the_slow_call_threshold_is_logged_once_with_its_breakdown()
    {
        await using var node = await NodeProcess.StartAsync(NodeConfigs.Demo() + "\nsark.telemetry.slow-call-threshold = 300ms\n");
        await Eventually.UntilAsync(() => node.Http.GetAsync("/health/ready"), r => r.StatusCode == HttpStatusCode.OK, Bound, "the node ready");

        var fast = await node.Http.InvokeAsync(new { server = "demo", tool = "echo", parameters = new { message = "quick" } });
        fast.EnsureSuccessStatusCode();
        var slow = await node.Http.InvokeAsync(new { server = "demo", tool = "slow", parameters = new { ms = 800 } });
        slow.EnsureSuccessStatusCode();
        var slowId = slow.RequestId();

        var line = await Eventually.UntilAsync(() => Task.FromResult(node.Stdout.Lines.FirstOrDefault(l => l.Contains("Slow call", StringComparison.Ordinal))),
            l => l is not null, Bound, "the slow-call line");
        // One line: the request id scope and the message, with where the time went.
        Assert.Contains($"RequestId:{slowId}", line, StringComparison.Ordinal);
        Assert.Contains($"Slow call {slowId}: demo/slow took ", line, StringComparison.Ordinal);
        Assert.Matches(@"took (\d+(\.\d+)?) ms \(ok\): authorize \d+(\.\d+)? ms, upstream (\d+(\.\d+)?) ms via demo, gateway \d+(\.\d+)? ms", line);
        var upstreamMs = double.Parse(System.Text.RegularExpressions.Regex.Match(line!, @"upstream (\d+(\.\d+)?) ms").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(upstreamMs, 800, 60_000);
        Assert.Single(node.Stdout.Lines, l => l.Contains("Slow call", StringComparison.Ordinal));
        Assert.DoesNotContain(node.Stdout.Lines, l => l.Contains("Slow call", StringComparison.Ordinal) && l.Contains(fast.RequestId(), StringComparison.Ordinal));

        var metrics = await (await node.Http.GetAsync("/metrics")).Content.ReadAsStringAsync();
        Assert.Matches(@"sark_calls_slow_total\{[^}]*server=""demo""[^}]*\} 1", metrics);
    }

    [Fact]
    public async Task Repeated_errors_are_rate_limited_and_the_next_line_counts_what_was_left_out()
    {
        await using var node = await NodeProcess.StartAsync(NodeConfigs.Demo() + "\nsark.telemetry.error-log-burst = 3\n");
        const int requests = 12;
        for (var i = 0; i < requests; i++)
            await (await node.Http.GetAsync("/api/v1/servers/no-such-server")).ErrorAsync(HttpStatusCode.NotFound, "not_found");

        // Logged as they happen; the first 3 of the window, the rest left out.
        var lines = await Eventually.UntilAsync(
            () => Task.FromResult(node.Stdout.Lines.Where(l => l.Contains("/api/v1/servers/no-such-server failed: not_found", StringComparison.Ordinal)).ToList()),
            l => l.Count >= 3, Bound, "three not_found lines");
        Assert.Equal(3, lines.Count);
        Assert.All(lines, l => Assert.Contains("(0 lines of this code suppressed before this one)", l, StringComparison.Ordinal));
        // Another code has its own budget.
        await (await node.Http.PostRawAsync("/api/v1/invoke", "{")).ErrorAsync(HttpStatusCode.BadRequest, "invalid_request");
        await Eventually.UntilAsync(() => Task.FromResult(node.Stdout.Text), t => t.Contains("failed: invalid_request", StringComparison.Ordinal), Bound, "the invalid_request line");
    }

    [Fact]
    public async Task Json_logs_are_one_object_per_line_with_the_request_id_scope()
    {
        await using var node = await NodeProcess.StartAsync(NodeConfigs.Demo() + "\nsark.telemetry.log-format = json\n");
        using var response = await node.Http.GetAsync("/api/v1/servers/no-such-server");
        await response.ErrorAsync(HttpStatusCode.NotFound, "not_found");
        var id = response.RequestId();

        var line = await Eventually.UntilAsync(() => Task.FromResult(node.Stdout.Lines.FirstOrDefault(l => l.Contains("failed: not_found", StringComparison.Ordinal))),
            l => l is not null, Bound, "the not_found line");
        using var json = System.Text.Json.JsonDocument.Parse(line!);
        var entry = json.RootElement;
        Assert.Equal("Information", entry.GetProperty("LogLevel").GetString());
        Assert.Equal("not_found", entry.GetProperty("State").GetProperty("Code").GetString());
        Assert.Contains(entry.GetProperty("Scopes").EnumerateArray(),
            scope => scope.ValueKind == System.Text.Json.JsonValueKind.Object && scope.TryGetProperty("RequestId", out var r) && r.GetString() == id);
        Assert.All(node.Stdout.Lines.Where(l => l.StartsWith('{')), l => System.Text.Json.JsonDocument.Parse(l).Dispose());
    }
}
