using System.Buffers.Text;
using System.Collections.Immutable;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Sark.Actors.Errors;

namespace Sark.Actors.Identity;

/// <summary>
/// Validates a compact JWS (RFC 7515/7519) against <see cref="JwtOptions"/>: the algorithm is
/// pinned by the configured keys (HS256 only with the shared secret, RS256 only with the RSA
/// public keys, never <c>none</c>), the signature is checked before any claim, then <c>iss</c>,
/// <c>aud</c>, <c>exp</c> (required) and <c>nbf</c> with the clock skew, and <c>sub</c>.
/// Failures are <see cref="SarkUnauthenticatedException"/> with scheme <c>Bearer</c>; messages
/// never contain the token or its claims' values.
/// </summary>
internal sealed class JwtValidator(JwtOptions options, TimeProvider time)
{
    /// <summary>Longer tokens are refused before any parsing.</summary>
    public const int MaxTokenLength = 16 * 1024;

    private const string Scheme = "Bearer";
    private readonly JwtOptions _options = options;
    private readonly TimeProvider _time = time;

    public Caller Validate(string token, string? requestId)
    {
        if (token.Length > MaxTokenLength)
            throw Fail($"The bearer token is longer than {MaxTokenLength} characters.", requestId);
        var firstDot = token.IndexOf('.', StringComparison.Ordinal);
        var lastDot = token.LastIndexOf('.');
        if (firstDot <= 0 || lastDot == firstDot || token.IndexOf('.', firstDot + 1) != lastDot)
            throw Fail("The bearer token is not a JWT (header.payload.signature).", requestId);

        using var header = ParsePart(token.AsSpan(0, firstDot), "header", requestId);
        var alg = header.RootElement.TryGetProperty("alg", out var algValue) && algValue.ValueKind == JsonValueKind.String
            ? algValue.GetString()
            : null;
        if (header.RootElement.TryGetProperty("crit", out _))
            throw Fail("The bearer token has critical header parameters this node does not understand.", requestId);
        var kid = header.RootElement.TryGetProperty("kid", out var kidValue) && kidValue.ValueKind == JsonValueKind.String
            ? kidValue.GetString()
            : null;

        byte[] signature;
        try
        {
            signature = Base64Url.DecodeFromChars(token.AsSpan(lastDot + 1));
        }
        catch (FormatException)
        {
            throw Fail("The bearer token's signature is not base64url.", requestId);
        }

        var signedPart = Encoding.ASCII.GetBytes(token, 0, lastDot);
        switch (alg)
        {
            case "HS256" when !_options.Hs256Secret.IsEmpty:
                var expected = HMACSHA256.HashData(_options.Hs256Secret.AsSpan(), signedPart);
                if (!CryptographicOperations.FixedTimeEquals(expected, signature))
                    throw Fail("The bearer token's signature is not valid.", requestId);
                break;
            case "RS256" when !_options.RsaKeys.IsEmpty:
                VerifyRs256(kid, signedPart, signature, requestId);
                break;
            default:
                throw Fail($"The bearer token's algorithm '{Printable(alg)}' is not accepted; this node accepts {Accepted()}.", requestId);
        }

        using var payload = ParsePart(token.AsSpan(firstDot + 1, lastDot - firstDot - 1), "payload", requestId);
        return ReadClaims(payload.RootElement, token, requestId);
    }

    private void VerifyRs256(string? kid, byte[] signedPart, byte[] signature, string? requestId)
    {
        var candidates = 0;
        foreach (var key in _options.RsaKeys)
        {
            if (kid is not null && key.KeyId is not null && !string.Equals(kid, key.KeyId, StringComparison.Ordinal))
                continue;
            candidates++;
            using var rsa = RSA.Create();
            rsa.ImportParameters(key.Key);
            if (rsa.VerifyData(signedPart, signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1))
                return;
        }

        throw candidates == 0
            ? Fail($"The bearer token's key id '{Printable(kid)}' is not one of the configured keys.", requestId)
            : Fail("The bearer token's signature is not valid.", requestId);
    }

    private Caller ReadClaims(JsonElement claims, string token, string? requestId)
    {
        if (claims.ValueKind != JsonValueKind.Object)
            throw Fail("The bearer token's payload is not a JSON object.", requestId);

        var now = _time.GetUtcNow().ToUnixTimeMilliseconds() / 1000.0;
        var skew = _options.ClockSkew.TotalSeconds;
        var exp = NumericDate(claims, "exp", requestId) ?? throw Fail("The bearer token has no expiry ('exp'); tokens without one are refused.", requestId);
        if (now >= exp + skew)
            throw Fail("The bearer token has expired.", requestId);
        if (NumericDate(claims, "nbf", requestId) is { } nbf && now + skew < nbf)
            throw Fail("The bearer token is not valid yet ('nbf' is in the future).", requestId);

        var iss = claims.TryGetProperty("iss", out var issValue) && issValue.ValueKind == JsonValueKind.String ? issValue.GetString() : null;
        if (!string.Equals(iss, _options.Issuer, StringComparison.Ordinal))
            throw Fail($"The bearer token's issuer is not the configured one ({_options.Issuer}).", requestId);
        if (!HasAudience(claims))
            throw Fail($"The bearer token is not meant for this node: its audience does not include {_options.Audience}.", requestId);

        var sub = claims.TryGetProperty("sub", out var subValue) && subValue.ValueKind == JsonValueKind.String ? subValue.GetString() : null;
        if (string.IsNullOrWhiteSpace(sub))
            throw Fail("The bearer token has no subject ('sub').", requestId);

        return new Caller(sub, ReadList(claims, _options.RolesClaim, requestId), ReadList(claims, _options.TeamsClaim, requestId))
        {
            AuthMethod = Authenticator.JwtMethod,
            BearerToken = token,
        };
    }

    private bool HasAudience(JsonElement claims)
    {
        if (!claims.TryGetProperty("aud", out var aud))
            return false;
        if (aud.ValueKind == JsonValueKind.String)
            return string.Equals(aud.GetString(), _options.Audience, StringComparison.Ordinal);
        if (aud.ValueKind != JsonValueKind.Array)
            return false;
        foreach (var item in aud.EnumerateArray())
        {
            if (item.ValueKind == JsonValueKind.String && string.Equals(item.GetString(), _options.Audience, StringComparison.Ordinal))
                return true;
        }

        return false;
    }

    /// <summary>A claim as an array of strings or one space-separated string; a dotted name also finds a nested claim.</summary>
    private static ImmutableArray<string> ReadList(JsonElement claims, string name, string? requestId)
    {
        if (!TryFind(claims, name, out var value) || value.ValueKind == JsonValueKind.Null)
            return [];
        switch (value.ValueKind)
        {
            case JsonValueKind.String:
                return [.. value.GetString()!.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];
            case JsonValueKind.Array:
                var builder = ImmutableArray.CreateBuilder<string>();
                foreach (var item in value.EnumerateArray())
                {
                    if (item.ValueKind != JsonValueKind.String)
                        throw Fail($"The bearer token's '{name}' claim must be a string or an array of strings.", requestId);
                    if (item.GetString() is { Length: > 0 } text)
                        builder.Add(text);
                }

                return builder.ToImmutable();
            default:
                throw Fail($"The bearer token's '{name}' claim must be a string or an array of strings.", requestId);
        }
    }

    private static bool TryFind(JsonElement claims, string name, out JsonElement value)
    {
        if (claims.TryGetProperty(name, out value))
            return true;
        var current = claims;
        foreach (var part in name.Split('.'))
        {
            if (current.ValueKind != JsonValueKind.Object || !current.TryGetProperty(part, out current))
                return false;
        }

        value = current;
        return true;
    }

    private static double? NumericDate(JsonElement claims, string name, string? requestId)
    {
        if (!claims.TryGetProperty(name, out var value))
            return null;
        return value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out var seconds)
            ? seconds
            : throw Fail($"The bearer token's '{name}' claim is not a number of seconds.", requestId);
    }

    private static JsonDocument ParsePart(ReadOnlySpan<char> part, string what, string? requestId)
    {
        try
        {
            var document = JsonDocument.Parse(Base64Url.DecodeFromChars(part));
            if (document.RootElement.ValueKind == JsonValueKind.Object)
                return document;
            document.Dispose();
        }
        catch (Exception ex) when (ex is FormatException or JsonException)
        {
        }

        throw Fail($"The bearer token's {what} is not base64url-encoded JSON.", requestId);
    }

    private string Accepted() => (_options.Hs256Secret.IsEmpty, _options.RsaKeys.IsEmpty) switch
    {
        (false, false) => "HS256 and RS256",
        (false, true) => "HS256",
        _ => "RS256",
    };

    /// <summary>A header value from the token, cut short and stripped of anything but printable ASCII, for a message.</summary>
    private static string Printable(string? value)
    {
        if (value is null)
            return "(none)";
        var builder = new StringBuilder(Math.Min(value.Length, 32));
        foreach (var ch in value.AsSpan(0, Math.Min(value.Length, 32)))
            builder.Append(ch is >= ' ' and <= '~' ? ch : '?');
        return builder.ToString();
    }

    private static SarkUnauthenticatedException Fail(string message, string? requestId) => new(message, requestId, Scheme);
}
