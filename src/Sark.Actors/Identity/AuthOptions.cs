using System.Collections.Immutable;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Akka.Configuration;
using Sark.Actors.Configuration;

namespace Sark.Actors.Identity;

/// <summary>
/// How callers authenticate (<c>sark.auth</c>): API keys stored as SHA-256 hashes, JWT bearer
/// tokens (HS256 or RS256), and an optional anonymous caller. Read by <see cref="Read"/>; every
/// error is a <see cref="SarkConfigException"/> that names the key. Key files are read when the
/// options are read, so that a bad file stops the node at start.
/// </summary>
public sealed record AuthOptions
{
    private const string Prefix = "sark.auth";

    /// <summary>The caller a request without credentials runs as, when enabled.</summary>
    public AnonymousOptions Anonymous { get; init; } = new();

    /// <summary>The accepted API keys, by hash.</summary>
    public ImmutableArray<ApiKeyEntry> ApiKeys { get; init; } = [];

    public JwtOptions Jwt { get; init; } = new();

    /// <summary>True when at least one real credential is configured: an API key or JWT.</summary>
    public bool HasCredentials => !ApiKeys.IsEmpty || Jwt.Enabled;

    /// <summary>
    /// Reads <c>sark.auth</c> from a resolved configuration whose root holds <c>sark</c> (with the
    /// reference defaults as fallback, as <see cref="SarkConfigLoader.Load"/> takes it). Relative
    /// key file paths are resolved against <paramref name="baseDirectory"/>, or the current
    /// directory when it is null.
    /// </summary>
    public static AuthOptions Read(Config config, string? baseDirectory = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        var auth = config.GetConfig(Prefix) ?? Config.Empty;
        return new AuthOptions
        {
            Anonymous = ReadAnonymous(auth),
            ApiKeys = ReadApiKeys(auth),
            Jwt = ReadJwt(auth, baseDirectory ?? Directory.GetCurrentDirectory()),
        };
    }

    /// <summary>Parses HOCON text (with <c>${?VAR}</c> from the environment) on top of the embedded defaults.</summary>
    public static AuthOptions Parse(string hocon, string? baseDirectory = null)
    {
        Config config;
        try
        {
            config = ConfigurationFactory.ParseString(SarkConfigLoader.SubstituteEnvironment(hocon));
        }
        catch (Exception ex)
        {
            throw new SarkConfigException($"The configuration is not valid HOCON: {ex.Message}", ex);
        }

        return Read(config.WithFallback(SarkConfigLoader.Defaults), baseDirectory);
    }

    /// <summary>Reads a HOCON file on top of the embedded defaults; relative key files are resolved against its folder.</summary>
    public static AuthOptions LoadFile(string path)
    {
        if (!File.Exists(path))
            throw new SarkConfigException($"The configuration file '{path}' does not exist.");
        return Parse(File.ReadAllText(path), System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path)));
    }

    /// <summary>
    /// The start rule: a node listening on anything but loopback must require a credential (an
    /// API key or JWT). <paramref name="bind"/> is HOST:PORT as in <c>sark.node.http.bind</c>.
    /// </summary>
    /// <exception cref="SarkConfigException">The bind address is not loopback and no credential is configured.</exception>
    public void ValidateForBind(string bind)
    {
        if (HasCredentials || IsLoopback(bind))
            return;
        throw new SarkConfigException(
            $"sark.auth: the node listens on {bind}, which is not a loopback address, but no credential is configured. " +
            "Configure sark.auth.api-keys or sark.auth.jwt, or bind to 127.0.0.1.");
    }

    /// <summary>True when HOST:PORT names a loopback host: 127.0.0.0/8, ::1 or localhost.</summary>
    public static bool IsLoopback(string bind)
    {
        ArgumentNullException.ThrowIfNull(bind);
        var colon = bind.LastIndexOf(':');
        var host = colon > 0 && int.TryParse(bind.AsSpan(colon + 1), out _) ? bind[..colon] : bind;
        if (host.StartsWith('[') && host.EndsWith(']'))
            host = host[1..^1];
        if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase))
            return true;
        return IPAddress.TryParse(host, out var address) && IPAddress.IsLoopback(address);
    }

    private static AnonymousOptions ReadAnonymous(Config auth)
    {
        const string p = Prefix + ".anonymous";
        var c = auth.GetConfig("anonymous") ?? Config.Empty;
        return new AnonymousOptions
        {
            Enabled = HoconReading.ReadBool(c, "enabled", p, false),
            Subject = HoconReading.ReadOptionalString(c, "subject", p) ?? "local",
            Roles = HoconReading.ReadStringList(c, "roles", p),
            Teams = HoconReading.ReadStringList(c, "teams", p),
        };
    }

    private static ImmutableArray<ApiKeyEntry> ReadApiKeys(Config auth)
    {
        var items = HoconReading.ReadObjectList(auth, "api-keys", Prefix);
        var keys = ImmutableArray.CreateBuilder<ApiKeyEntry>(items.Count);
        for (var i = 0; i < items.Count; i++)
        {
            var p = $"{Prefix}.api-keys[{i}]";
            var c = items[i];
            var hex = HoconReading.ReadOptionalString(c, "sha256", p)
                ?? throw new SarkConfigException($"{p}.sha256: missing; it is the hex SHA-256 of the key: printf %s \"$KEY\" | sha256sum");
            byte[] hash;
            try
            {
                hash = hex.Length == 64 ? Convert.FromHexString(hex) : [];
            }
            catch (FormatException)
            {
                hash = [];
            }

            if (hash.Length != 32)
                throw new SarkConfigException($"{p}.sha256: must be 64 hex digits, the SHA-256 of the key (printf %s \"$KEY\" | sha256sum), never the key itself.");
            var subject = HoconReading.ReadOptionalString(c, "subject", p)
                ?? throw new SarkConfigException($"{p}.subject: missing; it is the caller id the key stands for.");
            foreach (var earlier in keys)
            {
                if (earlier.Sha256.AsSpan().SequenceEqual(hash))
                    throw new SarkConfigException($"{p}.sha256: the same key is configured twice (also for subject '{earlier.Subject}').");
            }

            keys.Add(new ApiKeyEntry([.. hash], subject, HoconReading.ReadStringList(c, "roles", p), HoconReading.ReadStringList(c, "teams", p)));
        }

        return keys.MoveToImmutable();
    }

    private static JwtOptions ReadJwt(Config auth, string baseDirectory)
    {
        const string p = Prefix + ".jwt";
        var c = auth.GetConfig("jwt") ?? Config.Empty;
        var options = new JwtOptions
        {
            Enabled = HoconReading.ReadBool(c, "enabled", p, false),
            Issuer = HoconReading.ReadOptionalString(c, "issuer", p),
            Audience = HoconReading.ReadOptionalString(c, "audience", p),
            ClockSkew = HoconReading.ReadDuration(c, "clock-skew", p, TimeSpan.FromSeconds(30)),
            RolesClaim = HoconReading.ReadOptionalString(c, "roles-claim", p) ?? "roles",
            TeamsClaim = HoconReading.ReadOptionalString(c, "teams-claim", p) ?? "teams",
        };
        if (!options.Enabled)
            return options;

        if (options.Issuer is null)
            throw new SarkConfigException($"{p}.issuer: missing; tokens are only accepted from a configured issuer (the 'iss' claim).");
        if (options.Audience is null)
            throw new SarkConfigException($"{p}.audience: missing; tokens are only accepted for a configured audience (the 'aud' claim).");

        var secret = HoconReading.ReadOptionalString(c, "hs256-secret", p);
        var secretBytes = secret is null ? [] : Encoding.UTF8.GetBytes(secret);
        if (secret is not null && secretBytes.Length < JwtOptions.MinSecretBytes)
            throw new SarkConfigException($"{p}.hs256-secret: must be at least {JwtOptions.MinSecretBytes} bytes (set it from the environment: hs256-secret = ${{?SARK_JWT_SECRET}}).");

        var keys = ImmutableArray.CreateBuilder<JwtSigningKey>();
        if (HoconReading.ReadOptionalString(c, "rs256-public-key-file", p) is { } pemFile)
            keys.Add(new JwtSigningKey(null, ReadPem(Resolve(pemFile, baseDirectory), $"{p}.rs256-public-key-file")));
        if (HoconReading.ReadOptionalString(c, "jwks-file", p) is { } jwksFile)
            keys.AddRange(ReadJwks(Resolve(jwksFile, baseDirectory), $"{p}.jwks-file"));

        if (secretBytes.Length == 0 && keys.Count == 0)
            throw new SarkConfigException($"{p}: enabled, but no key is configured; set hs256-secret, rs256-public-key-file or jwks-file.");

        return options with { Hs256Secret = [.. secretBytes], RsaKeys = keys.ToImmutable() };
    }

    private static string Resolve(string path, string baseDirectory) =>
        System.IO.Path.IsPathRooted(path) ? path : System.IO.Path.GetFullPath(System.IO.Path.Combine(baseDirectory, path));

    private static RSAParameters ReadPem(string path, string key)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new SarkConfigException($"{key}: cannot read '{path}': {ex.Message}", ex);
        }

        using var rsa = RSA.Create();
        try
        {
            rsa.ImportFromPem(text);
        }
        catch (Exception ex) when (ex is ArgumentException or CryptographicException)
        {
            throw new SarkConfigException($"{key}: '{path}' holds no RSA public key in PEM form (-----BEGIN PUBLIC KEY-----).", ex);
        }

        return CheckSize(rsa.ExportParameters(includePrivateParameters: false), key);
    }

    private static List<JwtSigningKey> ReadJwks(string path, string key)
    {
        var keys = new List<JwtSigningKey>();
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllText(path));
            if (!document.RootElement.TryGetProperty("keys", out var array) || array.ValueKind != JsonValueKind.Array)
                throw new SarkConfigException($"{key}: '{path}' is not a JWKS document ({{\"keys\": [...]}}).");
            foreach (var jwk in array.EnumerateArray())
            {
                if (jwk.ValueKind != JsonValueKind.Object || Text(jwk, "kty") != "RSA")
                    continue;
                if (Text(jwk, "use") is { } use && use != "sig")
                    continue;
                if (Text(jwk, "alg") is { } alg && alg != "RS256")
                    continue;
                var n = Text(jwk, "n");
                var e = Text(jwk, "e");
                if (n is null || e is null)
                    throw new SarkConfigException($"{key}: an RSA key in '{path}' lacks 'n' or 'e'.");
                var parameters = new RSAParameters
                {
                    Modulus = System.Buffers.Text.Base64Url.DecodeFromChars(n),
                    Exponent = System.Buffers.Text.Base64Url.DecodeFromChars(e),
                };
                keys.Add(new JwtSigningKey(Text(jwk, "kid"), CheckSize(parameters, key)));
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new SarkConfigException($"{key}: cannot read '{path}': {ex.Message}", ex);
        }
        catch (Exception ex) when (ex is JsonException or FormatException)
        {
            throw new SarkConfigException($"{key}: '{path}' is not a valid JWKS document: {ex.Message}", ex);
        }

        return keys.Count == 0
            ? throw new SarkConfigException($"{key}: '{path}' has no RSA signing key (kty RSA, alg RS256 or none).")
            : keys;
    }

    private static string? Text(JsonElement element, string name) =>
        element.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static RSAParameters CheckSize(RSAParameters parameters, string key)
    {
        var modulus = parameters.Modulus ?? [];
        var bits = modulus.Length * 8;
        if (modulus.Length > 0 && modulus[0] == 0)
            bits -= 8;
        return bits < 2048 ? throw new SarkConfigException($"{key}: RSA keys must be at least 2048 bits; this one has {bits}.") : parameters;
    }
}

/// <summary><c>sark.auth.anonymous</c>: the caller a request without credentials runs as, when enabled.</summary>
public sealed record AnonymousOptions
{
    public bool Enabled { get; init; }

    public string Subject { get; init; } = "local";

    public ImmutableArray<string> Roles { get; init; } = [];

    public ImmutableArray<string> Teams { get; init; } = [];
}

/// <summary>One accepted API key: the SHA-256 of the key (never the key) and the caller it stands for.</summary>
public sealed record ApiKeyEntry(ImmutableArray<byte> Sha256, string Subject, ImmutableArray<string> Roles, ImmutableArray<string> Teams)
{
    public override string ToString() => $"ApiKeyEntry {{ Subject = {Subject}, Roles = [{string.Join(", ", Roles)}] }}";
}

/// <summary>An RSA public key that verifies RS256 tokens; <see cref="KeyId"/> is matched against the token's <c>kid</c>.</summary>
public sealed record JwtSigningKey(string? KeyId, RSAParameters Key);

/// <summary><c>sark.auth.jwt</c>: bearer tokens, HS256 with a shared secret or RS256 with public keys.</summary>
public sealed record JwtOptions
{
    /// <summary>The shortest HS256 secret accepted: 256 bits, as RFC 7518 section 3.2 asks.</summary>
    public const int MinSecretBytes = 32;

    public bool Enabled { get; init; }

    /// <summary>The required <c>iss</c>.</summary>
    public string? Issuer { get; init; }

    /// <summary>The audience that <c>aud</c> must contain.</summary>
    public string? Audience { get; init; }

    /// <summary>Tolerance on <c>exp</c> and <c>nbf</c>.</summary>
    public TimeSpan ClockSkew { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The HS256 secret (UTF-8 bytes); empty when HS256 is not accepted.</summary>
    public ImmutableArray<byte> Hs256Secret { get; init; } = [];

    /// <summary>RS256 public keys (from a PEM file and/or a JWKS file); empty when RS256 is not accepted.</summary>
    public ImmutableArray<JwtSigningKey> RsaKeys { get; init; } = [];

    /// <summary>The claim that holds the roles: an array of strings or one space-separated string.</summary>
    public string RolesClaim { get; init; } = "roles";

    /// <summary>The claim that holds the teams, in the same forms as the roles.</summary>
    public string TeamsClaim { get; init; } = "teams";

    /// <summary>Never shows the secret.</summary>
    public override string ToString() =>
        $"JwtOptions {{ Enabled = {Enabled}, Issuer = {Issuer}, Audience = {Audience}, ClockSkew = {ClockSkew}, " +
        $"Hs256 = {(Hs256Secret.IsEmpty ? "off" : "<redacted>")}, RsaKeys = {RsaKeys.Length}, RolesClaim = {RolesClaim}, TeamsClaim = {TeamsClaim} }}";
}
