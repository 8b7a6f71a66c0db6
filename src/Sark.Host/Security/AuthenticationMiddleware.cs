using Microsoft.Extensions.Primitives;
using Sark.Actors;
using Sark.Actors.Errors;
using Sark.Actors.Identity;
using Sark.Host.Api;

namespace Sark.Host.Security;

/// <summary>
/// Authenticates every request before anything else runs, except the open endpoints
/// (<c>/health</c>, <c>/health/*</c>, <c>/metrics</c>). On success the <see cref="Caller"/> is
/// attached to the request (<see cref="CallerHttpContextExtensions.GetCaller"/>); on failure
/// the answer is 401 with the error body <c>unauthenticated</c> and a <c>WWW-Authenticate</c>
/// challenge, and the request reaches neither policy nor upstreams. Everything not open needs
/// a caller, so an endpoint added later cannot be left unprotected by mistake.
/// </summary>
internal sealed class AuthenticationMiddleware(RequestDelegate next, Authenticator authenticator, ILogger<AuthenticationMiddleware> logger)
{
    private static readonly PathString Health = new("/health");
    private static readonly PathString Metrics = new(NodeMetrics.Path);

    private readonly RequestDelegate _next = next;
    private readonly Authenticator _authenticator = authenticator;
    private readonly ILogger _logger = logger;

    public Task InvokeAsync(HttpContext context)
    {
        if (IsOpen(context.Request.Path))
            return _next(context);

        Caller caller;
        try
        {
            var headers = context.Request.Headers;
            caller = _authenticator.Authenticate(
                Single(headers, Authenticator.ApiKeyHeader, context.TraceIdentifier),
                Single(headers, Authenticator.AuthorizationHeader, context.TraceIdentifier),
                context.TraceIdentifier);
        }
        catch (SarkUnauthenticatedException ex)
        {
            AuthLog.Unauthenticated(_logger, context.Request.Method, context.Request.Path, ex.Message);
            context.Response.Headers.WWWAuthenticate = Challenges(ex);
            return ApiErrors.WriteAsync(context, ex);
        }

        AuthLog.Authenticated(_logger, caller.Id, caller.AuthMethod);
        context.SetCaller(caller);
        return _next(context);
    }

    /// <summary>
    /// Health and metrics stay open: probes and scrapers carry no credentials. So does the status
    /// page at <c>/</c> itself (a static page with no data; what it reads needs a credential).
    /// </summary>
    internal static bool IsOpen(PathString path) =>
        path.Value is "/" ||
        path.StartsWithSegments(Health, StringComparison.OrdinalIgnoreCase) ||
        path.StartsWithSegments(Metrics, StringComparison.OrdinalIgnoreCase);

    private static string? Single(IHeaderDictionary headers, string name, string requestId)
    {
        var values = headers[name];
        return values.Count switch
        {
            0 => null,
            1 => values[0],
            _ => throw new SarkUnauthenticatedException($"Send the {name} header once.", requestId),
        };
    }

    /// <summary>RFC 9110 section 11.6.1: one challenge per accepted scheme; a failed bearer token adds <c>error="invalid_token"</c> (RFC 6750).</summary>
    private StringValues Challenges(SarkUnauthenticatedException ex)
    {
        var challenges = _authenticator.Challenges;
        if (challenges.IsEmpty)
            return new StringValues($"ApiKey realm=\"sark\", header=\"{Authenticator.ApiKeyHeader}\"");
        var values = new string[challenges.Length];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = ex.Scheme == "Bearer" && challenges[i].StartsWith("Bearer ", StringComparison.Ordinal)
                ? challenges[i] + ", error=\"invalid_token\""
                : challenges[i];
        }

        return new StringValues(values);
    }
}
