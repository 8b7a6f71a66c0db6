using System.Security.Cryptography;
using Sark.Actors.Configuration;
using Sark.Actors.Identity;

namespace Sark.Actors.Tests.Identity;

/// <summary>Reading <c>sark.auth</c>: defaults, errors that name the key, secrets from the environment, and the bind rule.</summary>
public sealed class AuthOptionsSpecs
{
    private static SarkConfigException Invalid(string authHocon) =>
        Assert.Throws<SarkConfigException>(() => AuthOptions.Parse($"sark.auth {{ {authHocon} }}"));

    [Fact]
    public void Reference_defaults_allow_no_caller_at_all()
    {
        var options = AuthOptions.Parse("");

        Assert.False(options.Anonymous.Enabled);
        Assert.Equal("local", options.Anonymous.Subject);
        Assert.Empty(options.ApiKeys);
        Assert.False(options.Jwt.Enabled);
        Assert.Equal(TimeSpan.FromSeconds(30), options.Jwt.ClockSkew);
        Assert.Equal("roles", options.Jwt.RolesClaim);
        Assert.Equal("teams", options.Jwt.TeamsClaim);
        Assert.False(options.HasCredentials);
    }

    [Fact]
    public void Read_takes_a_resolved_configuration_with_the_sark_root()
    {
        var config = Akka.Configuration.ConfigurationFactory.ParseString("sark.auth.anonymous { enabled = true, subject = dev }")
            .WithFallback(SarkConfigLoader.Defaults);

        var options = AuthOptions.Read(config);

        Assert.True(options.Anonymous.Enabled);
        Assert.Equal("dev", options.Anonymous.Subject);
    }

    [Fact]
    public void The_HS256_secret_comes_from_the_environment()
    {
        Environment.SetEnvironmentVariable("SARK_SPEC_JWT_SECRET", Tokens.Secret);
        var options = AuthOptions.Parse($$"""sark.auth.jwt { enabled = true, issuer = "i", audience = "a", hs256-secret = ${?SARK_SPEC_JWT_SECRET} }""");

        Assert.Equal(Tokens.Secret.Length, options.Jwt.Hs256Secret.Length);
        Assert.DoesNotContain(Tokens.Secret, options.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(Tokens.Secret, options.Jwt.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void JWT_enabled_with_an_unset_secret_and_no_key_file_names_the_missing_keys()
    {
        Environment.SetEnvironmentVariable("SARK_SPEC_JWT_UNSET", null);
        var ex = Invalid("""jwt { enabled = true, issuer = "i", audience = "a", hs256-secret = ${?SARK_SPEC_JWT_UNSET} }""");

        Assert.StartsWith("sark.auth.jwt:", ex.Message, StringComparison.Ordinal);
        Assert.Contains("hs256-secret", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_short_HS256_secret_is_a_configuration_error_that_does_not_show_it()
    {
        var ex = Invalid("""jwt { enabled = true, issuer = "i", audience = "a", hs256-secret = "short-secret" }""");

        Assert.StartsWith("sark.auth.jwt.hs256-secret:", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("short-secret", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""jwt { enabled = true, audience = "a", hs256-secret = "a-shared-secret-of-at-least-32-bytes!!" }""", "sark.auth.jwt.issuer:")]
    [InlineData("""jwt { enabled = true, issuer = "i", hs256-secret = "a-shared-secret-of-at-least-32-bytes!!" }""", "sark.auth.jwt.audience:")]
    [InlineData("""jwt { enabled = maybe }""", "sark.auth.jwt.enabled:")]
    [InlineData("""jwt { clock-skew = soon }""", "sark.auth.jwt.clock-skew:")]
    [InlineData("""api-keys = [ { subject = x } ]""", "sark.auth.api-keys[0].sha256:")]
    [InlineData("""api-keys = [ { sha256 = "plain-text-key", subject = x } ]""", "sark.auth.api-keys[0].sha256:")]
    [InlineData("""api-keys = [ { sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" } ]""", "sark.auth.api-keys[0].subject:")]
    [InlineData("""api-keys = [ "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" ]""", "sark.auth.api-keys[0]:")]
    [InlineData("""api-keys = { a = 1 }""", "sark.auth.api-keys:")]
    [InlineData("""anonymous { roles = admin }""", "sark.auth.anonymous.roles:")]
    [InlineData("""jwt { enabled = true, issuer = "i", audience = "a", rs256-public-key-file = "/no/such/file.pem" }""", "sark.auth.jwt.rs256-public-key-file:")]
    [InlineData("""jwt { enabled = true, issuer = "i", audience = "a", jwks-file = "/no/such/jwks.json" }""", "sark.auth.jwt.jwks-file:")]
    public void Invalid_settings_name_the_key(string authHocon, string key)
    {
        Assert.StartsWith(key, Invalid(authHocon).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_same_key_configured_twice_is_a_configuration_error()
    {
        var hash = Tokens.Sha256Hex("k");

        var ex = Invalid($$"""api-keys = [ { sha256 = "{{hash}}", subject = a }, { sha256 = "{{hash}}", subject = b } ]""");

        Assert.StartsWith("sark.auth.api-keys[1].sha256:", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_file_that_is_not_a_PEM_key_or_a_small_RSA_key_is_a_configuration_error()
    {
        using var folder = new TempFolder();
        folder.Write("junk.pem", "not a key");
        using var small = RSA.Create(1024);
        folder.Write("small.pem", small.ExportSubjectPublicKeyInfoPem());
        folder.Write("empty.json", """{"keys":[{"kty":"EC","crv":"P-256","x":"a","y":"b"}]}""");

        string Error(string setting) => Assert.Throws<SarkConfigException>(() =>
            AuthOptions.Parse($$"""sark.auth.jwt { enabled = true, issuer = "i", audience = "a", {{setting}} }""", folder.Path)).Message;

        Assert.Contains("no RSA public key", Error("rs256-public-key-file = junk.pem"), StringComparison.Ordinal);
        Assert.Contains("at least 2048 bits", Error("rs256-public-key-file = small.pem"), StringComparison.Ordinal);
        Assert.Contains("no RSA signing key", Error("jwks-file = empty.json"), StringComparison.Ordinal);
    }

    [Fact]
    public void Relative_key_files_are_resolved_against_the_configuration_file_folder()
    {
        using var folder = new TempFolder();
        using var rsa = RSA.Create(2048);
        folder.Write("keys.pem", rsa.ExportSubjectPublicKeyInfoPem());
        var conf = folder.Write("node.conf", """sark.auth.jwt { enabled = true, issuer = "i", audience = "a", rs256-public-key-file = keys.pem }""");

        var options = AuthOptions.LoadFile(conf);

        var key = Assert.Single(options.Jwt.RsaKeys);
        Assert.Equal(rsa.ExportParameters(false).Modulus, key.Key.Modulus);
        Assert.Null(key.KeyId);
    }

    [Theory]
    [InlineData("127.0.0.1:8080")]
    [InlineData("127.0.0.2:0")]
    [InlineData("[::1]:8080")]
    [InlineData("localhost:8080")]
    public void A_loopback_node_starts_without_credentials(string bind)
    {
        var options = AuthOptions.Parse("sark.auth.anonymous.enabled = true");

        Assert.True(AuthOptions.IsLoopback(bind));
        options.ValidateForBind(bind);
    }

    [Theory]
    [InlineData("0.0.0.0:8080")]
    [InlineData("*:8080")]
    [InlineData("[::]:0")]
    [InlineData("10.1.2.3:8080")]
    public void A_node_bound_beyond_loopback_without_credentials_refuses_to_start(string bind)
    {
        var options = AuthOptions.Parse("sark.auth.anonymous.enabled = true");

        var ex = Assert.Throws<SarkConfigException>(() => options.ValidateForBind(bind));

        Assert.StartsWith("sark.auth:", ex.Message, StringComparison.Ordinal);
        Assert.Contains(bind, ex.Message, StringComparison.Ordinal);
        Assert.Contains("not a loopback address", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_node_bound_beyond_loopback_starts_with_an_API_key_or_JWT()
    {
        var keyed = AuthOptions.Parse($$"""sark.auth.api-keys = [ { sha256 = "{{Tokens.Sha256Hex("k")}}", subject = s } ]""");
        var jwt = AuthOptions.Parse($"sark.auth {{ {Tokens.JwtHs256Config()} }}");

        keyed.ValidateForBind("0.0.0.0:8080");
        jwt.ValidateForBind("0.0.0.0:8080");
        Assert.True(keyed.HasCredentials);
        Assert.True(jwt.HasCredentials);
    }
}
