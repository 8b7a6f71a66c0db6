using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Sark.Actors.Identity;

namespace Sark.Actors.Tests.Identity;

/// <summary>A clock that stands still where a spec puts it.</summary>
internal sealed class FixedTime(DateTimeOffset now) : TimeProvider
{
    public DateTimeOffset Now { get; set; } = now;

    public override DateTimeOffset GetUtcNow() => Now;
}

/// <summary>Builds compact JWTs for the specs: any header, any claims, signed or not.</summary>
internal static class Tokens
{
    public const string Issuer = "https://issuer.test";
    public const string Audience = "sark-node";
    public const string Secret = "a-shared-secret-of-at-least-32-bytes!!";

    public static readonly DateTimeOffset Now = new(2025, 6, 1, 12, 0, 0, TimeSpan.Zero);

    /// <summary>Claims of a valid token at <see cref="Now"/>: issuer, audience, subject, an hour to live.</summary>
    public static Dictionary<string, object?> Claims(string subject = "alice") => new()
    {
        ["iss"] = Issuer,
        ["aud"] = Audience,
        ["sub"] = subject,
        ["iat"] = Now.ToUnixTimeSeconds(),
        ["exp"] = Now.AddHours(1).ToUnixTimeSeconds(),
        ["roles"] = new[] { "developer", "reader" },
        ["teams"] = new[] { "platform" },
    };

    public static string Hs256(Dictionary<string, object?> claims, string secret = Secret, Dictionary<string, object?>? header = null) =>
        Sign(header ?? new() { ["alg"] = "HS256", ["typ"] = "JWT" }, claims, input => HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), input));

    public static string Rs256(RSA key, Dictionary<string, object?> claims, string? kid = null)
    {
        var header = new Dictionary<string, object?> { ["alg"] = "RS256", ["typ"] = "JWT" };
        if (kid is not null)
            header["kid"] = kid;
        return Sign(header, claims, input => key.SignData(input, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));
    }

    /// <summary>An unsigned token: <c>alg: none</c> and an empty signature.</summary>
    public static string None(Dictionary<string, object?> claims) =>
        Sign(new() { ["alg"] = "none", ["typ"] = "JWT" }, claims, _ => []);

    public static string Sign(Dictionary<string, object?> header, Dictionary<string, object?> claims, Func<byte[], byte[]> signer)
    {
        var signed = $"{Encode(header)}.{Encode(claims)}";
        return $"{signed}.{Base64Url.EncodeToString(signer(Encoding.ASCII.GetBytes(signed)))}";
    }

    private static string Encode(Dictionary<string, object?> value) => Base64Url.EncodeToString(JsonSerializer.SerializeToUtf8Bytes(value));

    public static string Sha256Hex(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    /// <summary>A JWKS document with the public part of each key under its kid.</summary>
    public static string Jwks(params (string Kid, RSA Key)[] keys) => JsonSerializer.Serialize(new
    {
        keys = keys.Select(k =>
        {
            var p = k.Key.ExportParameters(false);
            return new Dictionary<string, string>
            {
                ["kty"] = "RSA",
                ["use"] = "sig",
                ["alg"] = "RS256",
                ["kid"] = k.Kid,
                ["n"] = Base64Url.EncodeToString(p.Modulus),
                ["e"] = Base64Url.EncodeToString(p.Exponent),
            };
        }).ToArray(),
    });

    /// <summary>An authenticator for HOCON <c>sark.auth</c> settings, at <see cref="Now"/> unless told.</summary>
    public static Authenticator Authenticator(string authHocon, FixedTime? time = null, string? baseDirectory = null) =>
        new(AuthOptions.Parse($"sark.auth {{ {authHocon} }}", baseDirectory), time ?? new FixedTime(Now));

    public static string JwtHs256Config(string extra = "") =>
        $$"""jwt { enabled = true, issuer = "{{Issuer}}", audience = "{{Audience}}", hs256-secret = "{{Secret}}" {{extra}} }""";
}

/// <summary>A temporary folder for key files, deleted with the spec.</summary>
internal sealed class TempFolder : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("sark-identity-").FullName;

    public string Write(string name, string text)
    {
        var file = System.IO.Path.Combine(Path, name);
        File.WriteAllText(file, text);
        return file;
    }

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
