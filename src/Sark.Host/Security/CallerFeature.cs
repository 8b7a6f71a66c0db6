using Sark.Actors;

namespace Sark.Host.Security;

/// <summary>The authenticated caller of a request, set by <see cref="AuthenticationMiddleware"/>.</summary>
internal interface ICallerFeature
{
    Caller Caller { get; }
}

internal sealed record CallerFeature(Caller Caller) : ICallerFeature;

/// <summary>Where REST handlers (and later the MCP front door) find the caller of a request.</summary>
internal static class CallerHttpContextExtensions
{
    /// <summary>The caller that <see cref="AuthenticationMiddleware"/> authenticated.</summary>
    /// <exception cref="InvalidOperationException">The request did not pass the middleware (an open endpoint, or a wiring error).</exception>
    public static Caller GetCaller(this HttpContext context) =>
        context.Features.Get<ICallerFeature>()?.Caller
        ?? throw new InvalidOperationException($"No caller for {context.Request.Path}: the request did not pass the authentication middleware.");

    /// <summary>The caller, or null on an open endpoint.</summary>
    public static Caller? TryGetCaller(this HttpContext context) => context.Features.Get<ICallerFeature>()?.Caller;

    internal static void SetCaller(this HttpContext context, Caller caller) =>
        context.Features.Set<ICallerFeature>(new CallerFeature(caller));
}
