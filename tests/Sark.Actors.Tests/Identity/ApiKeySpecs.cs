using System.Collections.Immutable;
using Sark.Actors.Errors;
using Sark.Actors.Identity;

namespace Sark.Actors.Tests.Identity;

/// <summary>API keys: hashed in configuration, compared in constant time, each standing for a caller.</summary>
public sealed class ApiKeySpecs
{
    private const string CiKey = "ci-key-0123456789abcdef";
    private const string OpsKey = "ops-key-fedcba9876543210";

    private static string Keys(bool anonymous = false) => $$"""
        anonymous.enabled = {{(anonymous ? "true" : "false")}}
        api-keys = [
          { sha256 = "{{Tokens.Sha256Hex(CiKey)}}", subject = "ci-bot", roles = [developer], teams = [platform] }
          { sha256 = "{{Tokens.Sha256Hex(OpsKey).ToUpperInvariant()}}", subject = "ops", roles = [admin, developer] }
        ]
        """;

    [Fact]
    public void Good_key_in_X_API_Key_is_the_caller_it_stands_for()
    {
        var caller = Tokens.Authenticator(Keys()).Authenticate(CiKey, null);

        Assert.Equal("ci-bot", caller.Id);
        Assert.Equal(["developer"], caller.Roles.ToArray());
        Assert.Equal(["platform"], caller.Teams.ToArray());
        Assert.Equal("api-key", caller.AuthMethod);
        Assert.Null(caller.BearerToken);
    }

    [Fact]
    public void Good_key_in_Authorization_ApiKey_is_accepted_and_upper_case_hex_hashes_match()
    {
        var caller = Tokens.Authenticator(Keys()).Authenticate(null, $"ApiKey {OpsKey}");

        Assert.Equal("ops", caller.Id);
        Assert.Equal(["admin", "developer"], caller.Roles.ToArray());
        Assert.Empty(caller.Teams);
    }

    [Fact]
    public void Unknown_key_is_unauthenticated_without_echoing_the_key()
    {
        var ex = Assert.Throws<SarkUnauthenticatedException>(() => Tokens.Authenticator(Keys()).Authenticate("not-a-configured-key", null, "req-1"));

        Assert.Equal(SarkErrorCode.Unauthenticated, ex.Code);
        Assert.Equal("The API key is not known.", ex.Message);
        Assert.Equal("req-1", ex.RequestId);
        Assert.Equal("ApiKey", ex.Scheme);
    }

    [Fact]
    public void Unknown_key_is_refused_even_when_anonymous_callers_are_allowed()
    {
        var authenticator = Tokens.Authenticator(Keys(anonymous: true));

        Assert.Throws<SarkUnauthenticatedException>(() => authenticator.Authenticate("wrong", null));
        Assert.Equal("local", authenticator.Authenticate(null, null).Id);
    }

    [Fact]
    public void A_key_that_differs_only_in_its_last_character_is_unknown()
    {
        var almost = CiKey[..^1] + "0";

        Assert.Throws<SarkUnauthenticatedException>(() => Tokens.Authenticator(Keys()).Authenticate(almost, null));
    }

    [Fact]
    public void Key_lookup_compares_the_hash_with_every_configured_key_even_when_the_first_matches()
    {
        var entries = Enumerable.Range(0, 5)
            .Select(i => new ApiKeyEntry([.. Convert.FromHexString(Tokens.Sha256Hex($"key-{i}"))], $"caller-{i}", [], []))
            .ToImmutableArray();
        var comparisons = 0;
        var table = new ApiKeyTable(entries, (a, b) =>
        {
            comparisons++;
            return System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(a, b);
        });

        var first = table.Find("key-0");
        var firstCount = comparisons;
        comparisons = 0;
        var none = table.Find("no-such-key");

        Assert.Equal("caller-0", first?.Subject);
        Assert.Equal(5, firstCount);
        Assert.Null(none);
        Assert.Equal(5, comparisons);
    }

    [Fact]
    public void The_authenticator_compares_keys_through_the_injected_constant_time_comparer()
    {
        var seen = new List<int>();
        var authenticator = new Authenticator(
            AuthOptions.Parse($"sark.auth {{ {Keys()} }}"),
            TimeProvider.System,
            (a, b) =>
            {
                seen.Add(b.Length);
                return System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(a, b);
            });

        Assert.Equal("ops", authenticator.Authenticate(OpsKey, null).Id);
        Assert.Equal([32, 32], seen);
    }

    [Fact]
    public void A_key_sent_both_in_X_API_Key_and_in_Authorization_is_refused()
    {
        var ex = Assert.Throws<SarkUnauthenticatedException>(() => Tokens.Authenticator(Keys()).Authenticate(CiKey, $"ApiKey {CiKey}"));

        Assert.Contains("once", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_key_is_refused_when_no_keys_are_configured()
    {
        var ex = Assert.Throws<SarkUnauthenticatedException>(() => Tokens.Authenticator("anonymous.enabled = true").Authenticate(CiKey, null));

        Assert.Contains("api-keys", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_empty_key_is_unauthenticated()
    {
        Assert.Throws<SarkUnauthenticatedException>(() => Tokens.Authenticator(Keys()).Authenticate("", null));
    }

    [Theory]
    [InlineData("ci-key\r\nX-Injected: 1")]
    [InlineData("ci-key\n")]
    [InlineData("ci\0key")]
    public void CR_LF_or_control_characters_in_the_key_header_are_unauthenticated(string value)
    {
        var ex = Assert.Throws<SarkUnauthenticatedException>(() => Tokens.Authenticator(Keys()).Authenticate(value, null));

        Assert.Contains("X-API-Key header is invalid", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("ci", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CR_LF_in_the_Authorization_header_is_unauthenticated()
    {
        var ex = Assert.Throws<SarkUnauthenticatedException>(() => Tokens.Authenticator(Keys()).Authenticate(null, $"ApiKey {CiKey}\r\nX: y"));

        Assert.Contains("Authorization header is invalid", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Basic dXNlcjpwYXNz")]
    [InlineData("s3cr3t-key-in-the-wrong-place more")]
    public void An_unsupported_Authorization_scheme_is_unauthenticated_and_not_echoed(string value)
    {
        var ex = Assert.Throws<SarkUnauthenticatedException>(() => Tokens.Authenticator(Keys()).Authenticate(null, value));

        Assert.Contains("scheme is not supported", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(value.Split(' ')[0], ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Bearer")]
    [InlineData("ApiKey ")]
    [InlineData("justonetoken")]
    public void A_malformed_Authorization_header_is_unauthenticated(string value)
    {
        var ex = Assert.Throws<SarkUnauthenticatedException>(() => Tokens.Authenticator(Keys()).Authenticate(null, value));

        Assert.Contains("<scheme> <credential>", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_options_never_show_a_key_hash_in_their_text()
    {
        var options = AuthOptions.Parse($"sark.auth {{ {Keys()} }}");

        Assert.DoesNotContain(Tokens.Sha256Hex(CiKey), options.ToString(), StringComparison.OrdinalIgnoreCase);
    }
}
