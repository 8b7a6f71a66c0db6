using System.Collections.Immutable;
using Sark.Actors.Errors;

namespace Sark.Actors.Identity;

/// <summary>
/// Turns the credentials of a request into a <see cref="Caller"/>, or throws
/// <see cref="SarkUnauthenticatedException"/>. It knows nothing of HTTP beyond the two header
/// values, so the REST API, the MCP front door and the cluster share it. Thread-safe.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item><c>X-API-Key: KEY</c> or <c>Authorization: ApiKey KEY</c>: the SHA-256 of the key is
/// compared with every configured hash in constant time.</item>
/// <item><c>Authorization: Bearer JWT</c>: see <see cref="JwtOptions"/>. The token is kept only
/// in <see cref="Caller.BearerToken"/>.</item>
/// <item>Both an API key and a bearer token: both must be valid, and the caller is the token's
/// subject (a client that holds a key calls on behalf of a user).</item>
/// <item>No credential: the anonymous caller when enabled, else a failure. A credential that
/// is present but bad fails even when anonymous callers are allowed.</item>
/// </list>
/// </remarks>
public sealed class Authenticator
{
    public const string ApiKeyHeader = "X-API-Key";
    public const string AuthorizationHeader = "Authorization";

    /// <summary>Values of <see cref="Caller.AuthMethod"/> this class sets.</summary>
    public const string ApiKeyMethod = "api-key";
    public const string JwtMethod = "jwt";
    public const string AnonymousMethod = "anonymous";

    private const string ApiKeyScheme = "ApiKey";
    private const string BearerScheme = "Bearer";

    private readonly ApiKeyTable _keys;
    private readonly JwtValidator? _jwt;
    private readonly Caller? _anonymous;

    public Authenticator(AuthOptions options, TimeProvider? time = null)
        : this(options, time, comparer: null)
    {
    }

    internal Authenticator(AuthOptions options, TimeProvider? time, HashComparer? comparer)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options;
        _keys = new ApiKeyTable(options.ApiKeys, comparer);
        _jwt = options.Jwt.Enabled ? new JwtValidator(options.Jwt, time ?? TimeProvider.System) : null;
        _anonymous = options.Anonymous.Enabled
            ? new Caller(options.Anonymous.Subject, options.Anonymous.Roles, options.Anonymous.Teams) { AuthMethod = AnonymousMethod }
            : null;

        var challenges = ImmutableArray.CreateBuilder<string>();
        if (_jwt is not null)
            challenges.Add($"{BearerScheme} realm=\"sark\"");
        if (!_keys.IsEmpty)
            challenges.Add($"{ApiKeyScheme} realm=\"sark\", header=\"{ApiKeyHeader}\"");
        Challenges = challenges.ToImmutable();
    }

    public AuthOptions Options { get; }

    /// <summary>
    /// The schemes this node accepts, as <c>WWW-Authenticate</c> challenges (RFC 9110 section 11.6.1):
    /// <c>Bearer realm="sark"</c> and <c>ApiKey realm="sark", header="X-API-Key"</c>.
    /// </summary>
    public ImmutableArray<string> Challenges { get; }

    /// <summary>Authenticates the values of <c>X-API-Key</c> and <c>Authorization</c> (null when absent).</summary>
    /// <exception cref="SarkUnauthenticatedException">No valid credential and no anonymous caller.</exception>
    public Caller Authenticate(string? apiKey, string? authorization, string? requestId = null)
    {
        CheckHeader(apiKey, ApiKeyHeader, requestId);
        CheckHeader(authorization, AuthorizationHeader, requestId);

        string? bearer = null;
        if (authorization is not null)
        {
            var (scheme, credential) = SplitAuthorization(authorization, requestId);
            if (string.Equals(scheme, BearerScheme, StringComparison.OrdinalIgnoreCase))
            {
                bearer = credential;
            }
            else if (string.Equals(scheme, ApiKeyScheme, StringComparison.OrdinalIgnoreCase))
            {
                if (apiKey is not null)
                    throw new SarkUnauthenticatedException($"Send the API key once: in {ApiKeyHeader} or in Authorization, not both.", requestId, ApiKeyScheme);
                apiKey = credential;
            }
            else
            {
                // The scheme is not echoed: a misplaced key would end up in the message and the log.
                throw new SarkUnauthenticatedException(
                    $"The Authorization scheme is not supported; use Bearer <token>, ApiKey <key>, or send {ApiKeyHeader}.", requestId);
            }
        }

        if (apiKey is null && bearer is null)
        {
            return _anonymous ?? throw new SarkUnauthenticatedException(
                $"No credential: send {ApiKeyHeader}: <key> or Authorization: Bearer <token>.", requestId);
        }

        Caller? keyCaller = null;
        if (apiKey is not null)
            keyCaller = AuthenticateKey(apiKey, requestId);
        if (bearer is null)
            return keyCaller!;

        if (_jwt is null)
            throw new SarkUnauthenticatedException("Bearer tokens are not accepted by this node (sark.auth.jwt is not enabled).", requestId, BearerScheme);
        return _jwt.Validate(bearer, requestId);
    }

    private Caller AuthenticateKey(string key, string? requestId)
    {
        if (key.Length == 0)
            throw new SarkUnauthenticatedException("The API key is empty.", requestId, ApiKeyScheme);
        if (_keys.IsEmpty)
            throw new SarkUnauthenticatedException("API keys are not accepted by this node (sark.auth.api-keys is empty).", requestId, ApiKeyScheme);
        var entry = _keys.Find(key) ?? throw new SarkUnauthenticatedException("The API key is not known.", requestId, ApiKeyScheme);
        return new Caller(entry.Subject, entry.Roles, entry.Teams) { AuthMethod = ApiKeyMethod };
    }

    private static (string Scheme, string Credential) SplitAuthorization(string value, string? requestId)
    {
        var trimmed = value.Trim();
        var space = trimmed.IndexOf(' ', StringComparison.Ordinal);
        var credential = space < 0 ? string.Empty : trimmed[(space + 1)..].TrimStart(' ');
        if (space <= 0 || credential.Length == 0 || credential.Contains(' ', StringComparison.Ordinal))
            throw new SarkUnauthenticatedException("The Authorization header must be '<scheme> <credential>', for example 'Bearer <token>'.", requestId);
        return (trimmed[..space], credential);
    }

    /// <summary>Control characters (CR, LF, NUL...) in a credential header are refused outright.</summary>
    private static void CheckHeader(string? value, string name, string? requestId)
    {
        if (value is null)
            return;
        foreach (var ch in value)
        {
            if (ch < ' ' || ch == '\u007f')
                throw new SarkUnauthenticatedException($"The {name} header is invalid: it contains control characters.", requestId);
        }
    }
}
