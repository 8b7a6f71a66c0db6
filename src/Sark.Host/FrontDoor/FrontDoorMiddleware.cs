using System.Security.Claims;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;
using Sark.Actors;
using Sark.Actors.Errors;
using Sark.Host.Security;

namespace Sark.Host.FrontDoor;

/// <summary>
/// Runs before authentication on every MCP endpoint: DNS-rebinding protection (<c>Host</c>
/// → 421 <c>host_not_allowed</c>, <c>Origin</c> → 403 <c>origin_not_allowed</c>) and the body
/// limit (413 <c>too_large</c>). Other paths pass untouched.
/// </summary>
internal sealed class FrontDoorGuardMiddleware(RequestDelegate next, FrontDoorRuntime runtime, ILogger<FrontDoorGuardMiddleware> logger)
{
    /// <summary>Not async: a request that passes adds no frame (a body over the limit that Kestrel finds while reading is turned into <c>too_large</c> by the request envelope).</summary>
    public Task InvokeAsync(HttpContext context)
    {
        if (!runtime.Serves(context.Request.Path))
            return next(context);

        var host = context.Request.Host.HasValue ? context.Request.Host.Host : null;
        if (!runtime.Policy.IsHostAllowed(host))
        {
            return FrontDoorRefusals.WriteAsync(context, logger, StatusCodes.Status421MisdirectedRequest, FrontDoorRefusals.HostNotAllowed,
                $"The Host '{host}' is not served here (DNS-rebinding protection). Use a name in sark.front-door.allowed-hosts.");
        }

        var origins = context.Request.Headers.Origin;
        if (origins.Count > 1 || !runtime.Policy.IsOriginAllowed(origins.Count == 1 ? origins[0] : null, host))
        {
            return FrontDoorRefusals.WriteAsync(context, logger, StatusCodes.Status403Forbidden, FrontDoorRefusals.OriginNotAllowed,
                $"The Origin '{origins}' may not call the MCP endpoints. Add it to sark.front-door.allowed-origins.");
        }

        var max = runtime.Options.MaxRequestBodyBytes;
        if (context.Request.ContentLength > max)
            throw TooLarge(max, context);
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
            limit.MaxRequestBodySize = max;
        return next(context);
    }

    internal static SarkTooLargeException TooLarge(long max, HttpContext context) =>
        new($"The request body is over the {max} bytes that the MCP endpoints accept (sark.front-door.max-request-body).", context.TraceIdentifier);
}

/// <summary>
/// Runs after authentication on the MCP endpoints: puts the caller on
/// <see cref="HttpContext.User"/> (so that the SDK binds a session to the caller who opened it
/// and refuses it to anyone else with 403), refuses a request without a session at
/// <c>/servers/{name}/mcp</c> whose server the caller cannot see (404 <c>not_found</c>), counts new
/// sessions against the limits (429 <c>session_limit_reached</c>), answers a plain tool call itself
/// (<see cref="DirectToolCall"/>: stateless, or in a session it knows from <see cref="RunSessionAsync"/>),
/// and adds keep-alive comments to the SSE streams it answers with.
/// </summary>
internal sealed class FrontDoorSessionMiddleware(
    RequestDelegate next, FrontDoorRuntime runtime, FrontDoorHandlers handlers, ILogger<FrontDoorSessionMiddleware> logger)
{
    /// <summary>Where the slot of a session being opened waits for <see cref="ClaimSlot"/>.</summary>
    private static readonly object SlotKey = new();

    private const int MaxPrincipals = 10_000;

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<(string Id, string Method), ClaimsPrincipal> Principals = new();

    public async Task InvokeAsync(HttpContext context)
    {
        var path = context.Request.Path;
        if (!runtime.Serves(path))
        {
            await next(context).ConfigureAwait(false);
            return;
        }

        var caller = context.GetCaller();
        context.User = Principal(caller.Id, caller.AuthMethod);
        if (!runtime.IsStreamablePath(path))
        {
            await next(context).ConfigureAwait(false);
            return;
        }

        // A request of an established session is not looked up again: its server was seen when it opened.
        var inSession = context.Request.Headers.ContainsKey("Mcp-Session-Id");
        if (!inSession && await FrontDoorScope.RefuseUnseenServerAsync(context, caller, logger).ConfigureAwait(false))
            return;

        if (runtime.Options.Stateless && HttpMethods.IsPost(context.Request.Method)
            && await StatelessRequests.ReadAsync(context, runtime.Options.DirectToolCalls && FrontDoorScope.SingleServer(context) is null).ConfigureAwait(false) is { } direct)
        {
            await AnswerAsync(context, direct, session: null).ConfigureAwait(false);
            return;
        }

        if (inSession && HttpMethods.IsPost(context.Request.Method) && runtime.Options.DirectSessionCalls
            && runtime.DirectSessions.Find(context.Request.Headers["Mcp-Session-Id"].ToString()) is { } open
            && await ReadInSessionAsync(context, open, caller).ConfigureAwait(false) is { } inOpen)
        {
            await AnswerAsync(context, inOpen, open).ConfigureAwait(false);
            return;
        }

        IDisposable? slot = null;
        if (!runtime.Options.Stateless && HttpMethods.IsPost(context.Request.Method) && !inSession)
        {
            slot = runtime.TryOpen(caller.Id, SessionKind.Streamable, out var refusal);
            if (slot is null)
            {
                await FrontDoorRefusals.WriteAsync(context, logger, StatusCodes.Status429TooManyRequests, FrontDoorRefusals.SessionLimitReached, runtime.Describe(refusal))
                    .ConfigureAwait(false);
                return;
            }

            context.Items[SlotKey] = slot;
        }

        // Keep-alive comments on the SSE streams this request answers with, in this frame (one
        // async state machine per request, not two).
        KeepAliveStream? body = null;
        IDisposable? registration = null;
        IHttpResponseBodyFeature? original = null;
        if (runtime.Options.KeepAlive > TimeSpan.Zero && context.Features.Get<IHttpResponseBodyFeature>() is { } feature)
        {
            var response = context.Response;
            original = feature;
            body = new KeepAliveStream(feature.Stream, () => IsEventStream(response));
            context.Features.Set<IHttpResponseBodyFeature>(new KeepAliveBodyFeature(feature, body));
            registration = runtime.KeepAlive.Register(body);
        }

        try
        {
            await next(context).ConfigureAwait(false);
        }
        finally
        {
            if (body is not null)
            {
                await body.CloseAsync().ConfigureAwait(false);
                registration!.Dispose();
                context.Features.Set(original);
            }

            // No session was made of it (not an initialize, or refused by the SDK): give the slot back.
            if (slot is not null && context.Items.Remove(SlotKey))
                slot.Dispose();
        }
    }

    /// <summary>
    /// A request of <paramref name="session"/> when it is a <see cref="DirectToolCall"/> of the
    /// caller who opened the session, at the aggregated endpoint; null when the SDK takes it (then
    /// it was left unread). Every so often a call goes to the SDK all the same, which keeps the
    /// session's idle clock there (<see cref="DirectSession.SdkDue"/>).
    /// </summary>
    private static async ValueTask<DirectToolCall?> ReadInSessionAsync(HttpContext context, DirectSession session, Caller caller)
    {
        // Another caller's session (the SDK answers 403), or a session used at another endpoint.
        if (!string.Equals(session.CallerId, caller.Id, StringComparison.Ordinal) || FrontDoorScope.SingleServer(context) is not null)
            return null;
        var now = Environment.TickCount64;
        if (session.SdkDue(now))
            return null;
        var call = await StatelessRequests.ReadInSessionAsync(context, session).ConfigureAwait(false);
        if (call is null)
            session.SentToSdk(now);
        return call;
    }

    /// <summary>
    /// A <see cref="DirectToolCall"/>: the handler the SDK would call, and its answer as the SDK
    /// would write it. In a session (<paramref name="session"/>), the call can also be cancelled by
    /// the client's <c>notifications/cancelled</c> or the end of the session: then, as with the SDK,
    /// it gets no answer.
    /// </summary>
    private async Task AnswerAsync(HttpContext context, DirectToolCall call, DirectSession? session)
    {
        if (session is not null)
            context.Response.Headers["Mcp-Session-Id"] = session.Id;
        var preamble = session?.Preamble ?? default;
        var response = runtime.Options.KeepAlive > TimeSpan.Zero ? new DirectResponse(context, preamble) : null;
        var ticking = response is null ? null : runtime.KeepAlive.Register(response);
        var calls = session?.EnsureCalls();
        var source = calls?.Begin(call.Request.Id, context.RequestAborted, session!.Closed);
        JsonRpcMessage? answer;
        try
        {
            answer = await handlers.AnswerAsync(context, call, source?.Token ?? context.RequestAborted, source).ConfigureAwait(false);
        }
        finally
        {
            if (source is not null)
                calls!.End(call.Request.Id, source);
            ticking?.Dispose();
        }

        var started = response is not null && await response.BeginAnswerAsync().ConfigureAwait(false);
        await call.WriteAsync(context, answer, started, preamble).ConfigureAwait(false);
        if (answer is not null)
            DirectCalls.Answered.Add(1);
    }

    /// <summary>
    /// The SDK's session handler (<c>HttpServerTransportOptions.RunSessionHandler</c>): the session
    /// keeps the slot its initialize request took until it ends (DELETE, idle timeout, shutdown);
    /// opened at the aggregated endpoint, it is in <see cref="FrontDoorRuntime.DirectSessions"/> while it runs.
    /// </summary>
    public static async Task RunSessionAsync(HttpContext context, ModelContextProtocol.Server.McpServer server, CancellationToken cancellationToken)
    {
        using var slot = ClaimSlot(context);
        var runtime = context.RequestServices.GetRequiredService<FrontDoorRuntime>();
        using var direct = runtime.Options.DirectSessionCalls && server.SessionId is { } id && FrontDoorScope.SingleServer(context) is null
            ? runtime.DirectSessions.Add(id, context.GetCaller().Id, server, eventStore: runtime.Options.ResumeWindow > TimeSpan.Zero, cancellationToken)
            : null;
        await server.RunAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The principal of a caller: one per caller and authentication method, made once (a request
    /// would otherwise make a principal, an identity and a claim). The SDK reads its name claim to
    /// bind a session to the caller who opened it; nothing writes to it.
    /// </summary>
    internal static ClaimsPrincipal Principal(string callerId, string authMethod)
    {
        var key = (callerId, authMethod);
        if (Principals.TryGetValue(key, out var principal))
            return principal;
        principal = new ClaimsPrincipal(new ClaimsIdentity([new Claim(ClaimTypes.NameIdentifier, callerId)], authenticationType: authMethod));
        // Bounded: a node with more distinct callers than this starts the cache again.
        if (Principals.Count >= MaxPrincipals)
            Principals.Clear();
        Principals[key] = principal;
        return principal;
    }

    private static IDisposable? ClaimSlot(HttpContext context) =>
        context.Items.Remove(SlotKey, out var slot) ? slot as IDisposable : null;

    internal static bool IsEventStream(HttpResponse response) =>
        response.HasStarted && response.ContentType is { } type && type.StartsWith("text/event-stream", StringComparison.OrdinalIgnoreCase);
}
