using System.Security.Cryptography;
using System.Text;
using Sark.Actors.Errors;
using Sark.Actors.Identity;

namespace Sark.Actors.Tests.Identity;

/// <summary>Bearer JWTs: HS256 and RS256 (PEM and JWKS), pinned algorithms, and every claim check.</summary>
public sealed class JwtSpecs : IDisposable
{
    private readonly RSA _rsa = RSA.Create(2048);
    private readonly TempFolder _folder = new();

    public void Dispose()
    {
        _rsa.Dispose();
        _folder.Dispose();
    }

    private static SarkUnauthenticatedException Refused(Authenticator authenticator, string token)
    {
        var ex = Assert.Throws<SarkUnauthenticatedException>(() => authenticator.Authenticate(null, $"Bearer {token}"));
        Assert.Equal(SarkErrorCode.Unauthenticated, ex.Code);
        Assert.Equal("Bearer", ex.Scheme);
        Assert.DoesNotContain(token, ex.Message, StringComparison.Ordinal);
        return ex;
    }

    private static Authenticator Hs256(FixedTime? time = null, string extra = "") => Tokens.Authenticator(Tokens.JwtHs256Config(extra), time);

    private Authenticator Pem()
    {
        var file = _folder.Write("public.pem", _rsa.ExportSubjectPublicKeyInfoPem());
        return Tokens.Authenticator($$"""jwt { enabled = true, issuer = "{{Tokens.Issuer}}", audience = "{{Tokens.Audience}}", rs256-public-key-file = {{System.Text.Json.JsonSerializer.Serialize(file)}} }""");
    }

    [Fact]
    public void Good_HS256_token_is_the_caller_with_roles_teams_and_the_token_kept()
    {
        var token = Tokens.Hs256(Tokens.Claims());

        var caller = Hs256().Authenticate(null, $"Bearer {token}");

        Assert.Equal("alice", caller.Id);
        Assert.Equal(["developer", "reader"], caller.Roles.ToArray());
        Assert.Equal(["platform"], caller.Teams.ToArray());
        Assert.Equal("jwt", caller.AuthMethod);
        Assert.Equal(token, caller.BearerToken);
        Assert.DoesNotContain(token, caller.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void The_bearer_scheme_is_case_insensitive()
    {
        Assert.Equal("alice", Hs256().Authenticate(null, $"bearer {Tokens.Hs256(Tokens.Claims())}").Id);
    }

    [Fact]
    public void Expired_token_is_unauthenticated()
    {
        var claims = Tokens.Claims();
        claims["exp"] = Tokens.Now.AddMinutes(-5).ToUnixTimeSeconds();

        var ex = Refused(Hs256(), Tokens.Hs256(claims));

        Assert.Equal("The bearer token has expired.", ex.Message);
    }

    [Fact]
    public void A_token_without_expiry_is_unauthenticated()
    {
        var claims = Tokens.Claims();
        claims.Remove("exp");

        Assert.Contains("no expiry", Refused(Hs256(), Tokens.Hs256(claims)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Not_yet_valid_token_is_unauthenticated()
    {
        var claims = Tokens.Claims();
        claims["nbf"] = Tokens.Now.AddMinutes(5).ToUnixTimeSeconds();

        Assert.Contains("not valid yet", Refused(Hs256(), Tokens.Hs256(claims)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Clock_skew_accepts_a_token_expired_or_not_yet_valid_within_it_and_refuses_beyond()
    {
        var expired = Tokens.Claims();
        expired["exp"] = Tokens.Now.AddSeconds(-20).ToUnixTimeSeconds();
        var early = Tokens.Claims();
        early["nbf"] = Tokens.Now.AddSeconds(20).ToUnixTimeSeconds();
        var time = new FixedTime(Tokens.Now);
        var authenticator = Hs256(time);

        Assert.Equal("alice", authenticator.Authenticate(null, $"Bearer {Tokens.Hs256(expired)}").Id);
        Assert.Equal("alice", authenticator.Authenticate(null, $"Bearer {Tokens.Hs256(early)}").Id);
        time.Now = Tokens.Now.AddSeconds(11);
        Refused(authenticator, Tokens.Hs256(expired));
        time.Now = Tokens.Now.AddSeconds(-11);
        Refused(authenticator, Tokens.Hs256(early));
    }

    [Fact]
    public void Clock_skew_is_configurable()
    {
        var claims = Tokens.Claims();
        claims["exp"] = Tokens.Now.AddSeconds(-20).ToUnixTimeSeconds();

        Refused(Hs256(extra: ", clock-skew = 5s"), Tokens.Hs256(claims));
        Assert.Equal("alice", Hs256(extra: ", clock-skew = 1m").Authenticate(null, $"Bearer {Tokens.Hs256(claims)}").Id);
    }

    [Fact]
    public void Wrong_issuer_is_unauthenticated()
    {
        var claims = Tokens.Claims();
        claims["iss"] = "https://evil.test";

        var ex = Refused(Hs256(), Tokens.Hs256(claims));

        Assert.Contains("issuer", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("evil", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Wrong_audience_is_unauthenticated()
    {
        var claims = Tokens.Claims();
        claims["aud"] = "another-service";

        Assert.Contains("audience", Refused(Hs256(), Tokens.Hs256(claims)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_audience_array_that_contains_the_node_is_accepted()
    {
        var claims = Tokens.Claims();
        claims["aud"] = new[] { "another-service", Tokens.Audience };

        Assert.Equal("alice", Hs256().Authenticate(null, $"Bearer {Tokens.Hs256(claims)}").Id);
    }

    [Fact]
    public void Bad_signature_is_unauthenticated()
    {
        var token = Tokens.Hs256(Tokens.Claims(), secret: "another-secret-that-is-also-32-bytes-long");

        Assert.Equal("The bearer token's signature is not valid.", Refused(Hs256(), token).Message);
    }

    [Fact]
    public void A_token_whose_claims_were_changed_after_signing_is_unauthenticated()
    {
        var parts = Tokens.Hs256(Tokens.Claims("alice")).Split('.');
        var forged = Tokens.Hs256(Tokens.Claims("admin")).Split('.')[1];

        Refused(Hs256(), $"{parts[0]}.{forged}.{parts[2]}");
    }

    [Fact]
    public void Alg_none_is_unauthenticated()
    {
        var ex = Refused(Hs256(), Tokens.None(Tokens.Claims()));

        Assert.Contains("algorithm 'none' is not accepted", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Alg_confusion_with_the_RSA_public_key_used_as_an_HMAC_secret_is_unauthenticated()
    {
        var pem = _rsa.ExportSubjectPublicKeyInfoPem();
        var token = Tokens.Sign(new() { ["alg"] = "HS256", ["typ"] = "JWT" }, Tokens.Claims(),
            input => HMACSHA256.HashData(Encoding.UTF8.GetBytes(pem), input));

        var ex = Refused(Pem(), token);

        Assert.Contains("algorithm 'HS256' is not accepted; this node accepts RS256", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_RS256_token_is_refused_by_a_node_that_only_accepts_HS256()
    {
        Assert.Contains("this node accepts HS256", Refused(Hs256(), Tokens.Rs256(_rsa, Tokens.Claims())).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Good_RS256_token_is_accepted_with_a_PEM_public_key()
    {
        var caller = Pem().Authenticate(null, $"Bearer {Tokens.Rs256(_rsa, Tokens.Claims("bob"))}");

        Assert.Equal("bob", caller.Id);
        Assert.Equal("jwt", caller.AuthMethod);
    }

    [Fact]
    public void An_RS256_token_signed_by_another_key_is_unauthenticated()
    {
        using var other = RSA.Create(2048);

        Assert.Contains("signature", Refused(Pem(), Tokens.Rs256(other, Tokens.Claims())).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RS256_with_a_JWKS_file_picks_the_key_by_kid()
    {
        using var second = RSA.Create(2048);
        var jwks = _folder.Write("jwks.json", Tokens.Jwks(("k1", _rsa), ("k2", second)));
        var authenticator = Tokens.Authenticator($$"""jwt { enabled = true, issuer = "{{Tokens.Issuer}}", audience = "{{Tokens.Audience}}", jwks-file = "jwks.json" }""", baseDirectory: _folder.Path);

        Assert.Equal("alice", authenticator.Authenticate(null, $"Bearer {Tokens.Rs256(_rsa, Tokens.Claims("alice"), kid: "k1")}").Id);
        Assert.Equal("carol", authenticator.Authenticate(null, $"Bearer {Tokens.Rs256(second, Tokens.Claims("carol"), kid: "k2")}").Id);
        Assert.Contains("signature", Refused(authenticator, Tokens.Rs256(_rsa, Tokens.Claims(), kid: "k2")).Message, StringComparison.Ordinal);
        Assert.Contains("key id 'k9'", Refused(authenticator, Tokens.Rs256(_rsa, Tokens.Claims(), kid: "k9")).Message, StringComparison.Ordinal);
        Assert.True(File.Exists(jwks));
    }

    [Fact]
    public void Roles_claim_may_be_a_space_separated_string()
    {
        var claims = Tokens.Claims();
        claims["roles"] = "admin  developer";

        var caller = Hs256().Authenticate(null, $"Bearer {Tokens.Hs256(claims)}");

        Assert.Equal(["admin", "developer"], caller.Roles.ToArray());
    }

    [Fact]
    public void The_roles_claim_name_is_configurable_and_may_be_nested()
    {
        var claims = Tokens.Claims();
        claims.Remove("roles");
        claims["realm_access"] = new Dictionary<string, object> { ["roles"] = new[] { "operator" } };
        claims["scope"] = "tools:read tools:call";

        var nested = Hs256(extra: ", roles-claim = realm_access.roles").Authenticate(null, $"Bearer {Tokens.Hs256(claims)}");
        var scope = Hs256(extra: ", roles-claim = scope").Authenticate(null, $"Bearer {Tokens.Hs256(claims)}");
        var absent = Hs256().Authenticate(null, $"Bearer {Tokens.Hs256(claims)}");

        Assert.Equal(["operator"], nested.Roles.ToArray());
        Assert.Equal(["tools:read", "tools:call"], scope.Roles.ToArray());
        Assert.Empty(absent.Roles);
    }

    [Fact]
    public void A_roles_claim_that_is_neither_string_nor_string_array_is_unauthenticated()
    {
        var claims = Tokens.Claims();
        claims["roles"] = 42;

        Assert.Contains("'roles' claim", Refused(Hs256(), Tokens.Hs256(claims)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_token_without_subject_is_unauthenticated()
    {
        var claims = Tokens.Claims();
        claims.Remove("sub");

        Assert.Contains("no subject", Refused(Hs256(), Tokens.Hs256(claims)).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("not-a-jwt")]
    [InlineData("a.b")]
    [InlineData("a.b.c.d")]
    [InlineData("!!!.e30.sig")]
    public void A_malformed_token_is_unauthenticated(string token)
    {
        Refused(Hs256(), token);
    }

    [Fact]
    public void A_critical_header_is_unauthenticated()
    {
        var token = Tokens.Sign(new() { ["alg"] = "HS256", ["crit"] = new[] { "exp" } }, Tokens.Claims(),
            input => HMACSHA256.HashData(Encoding.UTF8.GetBytes(Tokens.Secret), input));

        Assert.Contains("critical", Refused(Hs256(), token).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_bearer_token_is_refused_when_JWT_is_not_enabled()
    {
        var authenticator = Tokens.Authenticator("anonymous.enabled = true");

        Assert.Contains("jwt is not enabled", Refused(authenticator, Tokens.Hs256(Tokens.Claims())).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_API_key_with_a_bearer_token_needs_both_valid_and_the_caller_is_the_token_subject()
    {
        const string key = "peer-node-key-0123456789";
        var authenticator = Tokens.Authenticator($$"""
            api-keys = [ { sha256 = "{{Tokens.Sha256Hex(key)}}", subject = "peer-node" } ]
            {{Tokens.JwtHs256Config()}}
            """);
        var token = Tokens.Hs256(Tokens.Claims("alice"));

        Assert.Equal("alice", authenticator.Authenticate(key, $"Bearer {token}").Id);
        Assert.Throws<SarkUnauthenticatedException>(() => authenticator.Authenticate("wrong-key", $"Bearer {token}"));
        Assert.Throws<SarkUnauthenticatedException>(() => authenticator.Authenticate(key, "Bearer a.b.c"));
    }

    [Fact]
    public void The_challenges_name_each_accepted_scheme()
    {
        var authenticator = Tokens.Authenticator($$"""
            api-keys = [ { sha256 = "{{Tokens.Sha256Hex("k")}}", subject = "s" } ]
            {{Tokens.JwtHs256Config()}}
            """);

        Assert.Equal(["Bearer realm=\"sark\"", "ApiKey realm=\"sark\", header=\"X-API-Key\""], authenticator.Challenges.ToArray());
    }
}
