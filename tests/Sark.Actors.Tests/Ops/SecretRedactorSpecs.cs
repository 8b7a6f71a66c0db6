using Sark.Actors.Configuration;
using Sark.Actors.Ops;
using Sark.Actors.Ops.Palettes;

namespace Sark.Actors.Tests.Ops;

public sealed class SecretRedactorSpecs
{
    [Fact]
    public void Config_show_redacts_keys_tokens_passwords_headers_and_env_but_keeps_the_rest()
    {
        var config = SarkConfigLoader.ParseConfig("""
            sark {
              node.ops.token = "ops-token-123456"
              audit.postgres.connection-string = "Host=db;Password=pg-secret-9"
              auth.jwt.hs256-secret = "jwt-secret-0123456789abcdef0123456789"
              upstreams {
                reg { kind = gateway, url = "http://127.0.0.1:1", api-key = "reg-key-42" }
                remote { kind = mcp-http, url = "http://127.0.0.1:2/mcp", headers { Authorization = "Bearer hdr-secret-7", X-Trace = "visible-not" } }
                local { kind = mcp-stdio, command = ["dotnet", "x.dll"], env { DB_PASS = "env-secret-5" } }
              }
            }
            """);

        var text = ConfigPalette.Render(config, "sark")!;

        foreach (var secret in new[] { "ops-token-123456", "pg-secret-9", "jwt-secret-0123", "reg-key-42", "hdr-secret-7", "visible-not", "env-secret-5" })
            Assert.DoesNotContain(secret, text, StringComparison.Ordinal);
        Assert.Contains(SecretRedactor.Redacted, text, StringComparison.Ordinal);
        Assert.Contains("http://127.0.0.1:1", text, StringComparison.Ordinal);
        Assert.Contains("x.dll", text, StringComparison.Ordinal);
        Assert.Contains("call-timeout", text, StringComparison.Ordinal);
    }

    [Fact]
    public void An_empty_secret_stays_visibly_empty()
    {
        var text = SecretRedactor.RedactHocon("ops : {\n  token : \"\"\n  bind : \"127.0.0.1:9110\"\n}");

        Assert.Contains("token : \"\"", text, StringComparison.Ordinal);
        Assert.Contains("127.0.0.1:9110", text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("calling with Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.abc.def", "eyJhbGci")]
    [InlineData("connect Host=db;Password=hunter2hunter2;Database=x", "hunter2")]
    [InlineData("retry with api-key=abcdef123456 failed", "abcdef123456")]
    public void Free_text_loses_bearer_tokens_and_secret_pairs(string line, string secret)
    {
        var redacted = SecretRedactor.RedactText(line);

        Assert.DoesNotContain(secret, redacted, StringComparison.Ordinal);
        Assert.Contains(SecretRedactor.Redacted, redacted, StringComparison.Ordinal);
    }

    [Fact]
    public void A_log_line_without_secrets_is_unchanged()
    {
        const string line = "Upstream demo ready: pid 42, 12 tools";

        Assert.Equal(line, SecretRedactor.RedactText(line));
    }
}
