using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using System.Threading.Channels;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Options;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;
using Sark.Host.Security;

namespace Sark.Host.FrontDoor;

/// <summary>
/// The deprecated HTTP+SSE transport of MCP 2024-11-05: <c>GET /sse</c> opens a stream whose
/// first event names <c>/messages?sessionId=…</c>, where the client posts its messages (202);
/// the answers come on the stream. Built on the SDK's <see cref="SseResponseStreamTransport"/>
/// with the front door's rules: its own session limit and idle timeout, sessions owned by the
/// caller who opened them, keep-alive comments, and deprecation signals on every response
/// (<c>Deprecation</c>, <c>Sunset</c>, <c>Link</c>, a warning log once per client).
/// The same pair is served for one upstream at <c>/servers/{name}/sse</c> + <c>/servers/{name}/messages</c>
/// (<see cref="FrontDoorScope"/>): the session's handlers see the server of its <c>sse</c> request,
/// and a session is reachable only at the <c>messages</c> path of its own endpoint.
/// </summary>
internal sealed class LegacySseEndpoint(
    FrontDoorRuntime runtime,
    IOptions<McpServerOptions> serverOptions,
    IHostApplicationLifetime lifetime,
    ILoggerFactory loggerFactory,
    ILogger<LegacySseEndpoint> logger,
    FrontDoorSessions sessions,
    IServiceProvider services)
{
    /// <summary>When the MCP revision 2025-03-26 replaced HTTP+SSE with Streamable HTTP (RFC 9745 <c>Deprecation</c>).</summary>
    internal static readonly DateTimeOffset DeprecatedSince = new(2025, 3, 26, 0, 0, 0, TimeSpan.Zero);

    /// <summary>Clients warned about so far (caller and user agent); forgotten past this many.</summary>
    private const int MaxWarnedClients = 10_000;

    private static readonly JsonTypeInfo<JsonRpcMessage> MessageType =
        (JsonTypeInfo<JsonRpcMessage>)McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(JsonRpcMessage));

    private readonly ConcurrentDictionary<string, Session> _sessions = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> _warned = new(StringComparer.Ordinal);
    private readonly LegacySseOptions _options = runtime.Options.LegacySse;

    /// <summary>The deprecation headers' values, made once: every post carries them.</summary>
    private readonly string _deprecation = "@" + DeprecatedSince.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
    private readonly string _sunset = runtime.Options.LegacySse.Sunset.ToString("R", CultureInfo.InvariantCulture);
    private readonly string _link = $"<{runtime.Options.LegacySse.MigrationGuide.AbsoluteUri}>; rel=\"deprecation\"; type=\"text/html\"";
    /// <summary>The tool handlers, taken on the first direct call: they need the gateway, which exists once the actor system runs.</summary>
    private FrontDoorHandlers? _handlers;


    public async Task HandleSseAsync(HttpContext context)
    {
        var caller = context.GetCaller();
        AddDeprecationHeaders(context.Response);
        WarnOnce(caller.Id, context.Request.Headers.UserAgent.ToString());
        if (await FrontDoorScope.RefuseUnseenServerAsync(context, caller, logger).ConfigureAwait(false))
            return;

        var server = FrontDoorScope.SingleServer(context);
        using var slot = runtime.TryOpen(caller.Id, SessionKind.LegacySse, out var refusal);
        if (slot is null)
        {
            await FrontDoorRefusals.WriteAsync(context, logger, StatusCodes.Status429TooManyRequests, FrontDoorRefusals.SessionLimitReached, runtime.Describe(refusal))
                .ConfigureAwait(false);
            return;
        }

        var id = NewSessionId();
        SseResponse.Start(context);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, lifetime.ApplicationStopping);
        var body = new KeepAliveStream(context.Response.Body, () => context.Response.HasStarted);
        var transport = new SseResponseStreamTransport(body, $"{context.Request.PathBase}{FrontDoorPaths.MessagesPath(server)}?sessionId={id}", id);
        var rate = _options.MessagesPerSecond > 0 ? new MessageRate(_options.MessagesPerSecond, _options.MessagesBurst, Environment.TickCount64) : null;
        var session = new Session(context, transport, caller.Id, server, cts, rate);
        _sessions[id] = session;
        try
        {
            var transportTask = transport.RunAsync(cts.Token);
            var keepAlive = runtime.KeepAlive.Register(body);
            var idle = WatchIdleAsync(id, session, cts.Token);
            try
            {
                await using var mcp = McpServer.Create(transport, serverOptions.Value, loggerFactory, context.RequestServices);
                // Known to the relays while it runs, as a Streamable HTTP session is (list_changed).
                await sessions.RunSessionAsync(context, mcp, inner: null, cts.Token).ConfigureAwait(false);
            }
            finally
            {
                await transport.DisposeAsync().ConfigureAwait(false);
                await cts.CancelAsync().ConfigureAwait(false);
                await body.CloseAsync().ConfigureAwait(false);
                keepAlive.Dispose();
                await Task.WhenAll(Quietly(transportTask), idle).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            // The client went away, the session was idle too long, or the node is stopping.
        }
        finally
        {
            _sessions.TryRemove(id, out _);
        }
    }

    public async Task HandleMessageAsync(HttpContext context)
    {
        var caller = context.GetCaller();
        AddDeprecationHeaders(context.Response);
        var server = FrontDoorScope.SingleServer(context);

        var id = context.Request.Query["sessionId"].ToString();
        if (id.Length == 0)
        {
            await Refuse(context, StatusCodes.Status400BadRequest, FrontDoorRefusals.InvalidRequest,
                $"The sessionId query parameter is missing: post to the URL of the endpoint event that {FrontDoorPaths.SsePath(server)} sent.").ConfigureAwait(false);
            return;
        }

        // A session is known only at the messages path of the endpoint that opened it.
        if (!_sessions.TryGetValue(id, out var session) || !string.Equals(session.Server, server, StringComparison.Ordinal))
        {
            await Refuse(context, StatusCodes.Status404NotFound, FrontDoorRefusals.NotFound,
                $"No legacy SSE session '{id}' is open here (it closed, timed out, never existed or belongs to another endpoint). Open a new one at {FrontDoorPaths.SsePath(server)}.").ConfigureAwait(false);
            return;
        }

        if (!string.Equals(session.CallerId, caller.Id, StringComparison.Ordinal))
        {
            await Refuse(context, StatusCodes.Status403Forbidden, FrontDoorRefusals.SessionForbidden,
                "The session belongs to the caller who opened it; open your own session.").ConfigureAwait(false);
            return;
        }

        if (session.Rate is { } rate && !rate.TryTake(Environment.TickCount64, out var retryAfter))
        {
            await RefuseRateAsync(context, session, retryAfter).ConfigureAwait(false);
            return;
        }

        JsonRpcMessage? message;
        try
        {
            message = await JsonSerializer.DeserializeAsync(context.Request.Body, MessageType, context.RequestAborted).ConfigureAwait(false);
        }
        catch (JsonException ex)
        {
            await Refuse(context, StatusCodes.Status400BadRequest, FrontDoorRefusals.InvalidRequest, $"The body is not a JSON-RPC message: {ex.Message}")
                .ConfigureAwait(false);
            return;
        }

        if (message is null)
        {
            await Refuse(context, StatusCodes.Status400BadRequest, FrontDoorRefusals.InvalidRequest, "The body is not a JSON-RPC message.").ConfigureAwait(false);
            return;
        }

        session.Touch();
        if (session.Server is null && runtime.Options.DirectToolCalls)
        {
            if (message is JsonRpcRequest request && DirectToolCall.Of(request, headers: null, perRequestMetadata: false) is { } call)
            {
                // Runs here until it waits for the upstream; its answer goes on the session's stream.
                _ = AnswerDirectlyAsync(session, call);
                context.Response.StatusCode = StatusCodes.Status202Accepted;
                return;
            }

            if (message is JsonRpcNotification notification && session.Calls is { Count: > 0 } calls)
                calls.Cancel(notification);
        }

        try
        {
            await session.Transport.OnMessageReceivedAsync(message, context.RequestAborted).ConfigureAwait(false);
        }
        catch (ChannelClosedException)
        {
            // The session closed between the lookup and the hand-over.
            await Refuse(context, StatusCodes.Status404NotFound, FrontDoorRefusals.NotFound,
                $"The legacy SSE session '{id}' has just closed. Open a new one at {FrontDoorPaths.SsePath(server)}.").ConfigureAwait(false);
            return;
        }

        context.Response.StatusCode = StatusCodes.Status202Accepted;
    }

    /// <summary>
    /// A plain <c>tools/call</c> of a session at <c>/sse</c> (<see cref="DirectToolCall"/>): the
    /// handler the SDK's server would call, and its answer sent on the session's stream as that server
    /// would send it, without the hops through the server's message loop. The call runs with the
    /// session's HTTP request, as the server's handlers do. Cancelled by the client's
    /// <c>notifications/cancelled</c> or the end of the session, it gets no answer (nor does it from
    /// the SDK).
    /// </summary>
    private async Task AnswerDirectlyAsync(Session session, DirectToolCall call)
    {
        var calls = session.EnsureCalls();
        CancellationTokenSource source;
        try
        {
            source = calls.Begin(call.Request.Id, session.Close.Token, CancellationToken.None);
        }
        catch (ObjectDisposedException)
        {
            // The session ended between the post and the call.
            return;
        }

        JsonRpcMessage? answer;
        try
        {
            answer = await Handlers().AnswerAsync(session.Context, call, source.Token, source).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // The session's stream went away.
            return;
        }
        finally
        {
            calls.End(call.Request.Id, source);
        }

        if (answer is null)
            return;
        try
        {
            await session.Transport.SendMessageAsync(answer, session.Close.Token).ConfigureAwait(false);
            DirectCalls.Answered.Add(1);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or ObjectDisposedException or InvalidOperationException or ChannelClosedException)
        {
            // The session ended while the call ran.
        }
    }

    private FrontDoorHandlers Handlers() => _handlers ??= services.GetRequiredService<FrontDoorHandlers>();

    /// <summary><c>Deprecation</c> (RFC 9745), <c>Sunset</c> (RFC 8594) and a <c>Link</c> to the migration guide.</summary>
    internal void AddDeprecationHeaders(HttpResponse response)
    {
        response.Headers["Deprecation"] = _deprecation;
        response.Headers["Sunset"] = _sunset;
        response.Headers.Link = _link;
    }

    private Task Refuse(HttpContext context, int status, string code, string message) =>
        FrontDoorRefusals.WriteAsync(context, logger, status, code, message);

    /// <summary>429 <c>rate_limited</c> with <c>Retry-After</c>; logged for the session's first refusal only, so a flood writes one line.</summary>
    private Task RefuseRateAsync(HttpContext context, Session session, TimeSpan retryAfter)
    {
        var seconds = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds));
        context.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        var message = $"This legacy SSE session posts more than {_options.MessagesPerSecond} messages per second (sark.front-door.legacy-sse.messages-per-second, "
            + $"bursts of {_options.MessagesBurst}). Retry after {seconds}s, or move the client to Streamable HTTP at {runtime.Options.Path}.";
        return session.FirstRateRefusal()
            ? FrontDoorRefusals.WriteAsync(context, logger, StatusCodes.Status429TooManyRequests, FrontDoorRefusals.RateLimited, message)
            : Sark.Host.Api.ApiErrors.WriteAsync(context, StatusCodes.Status429TooManyRequests, FrontDoorRefusals.RateLimited, message);
    }

    private void WarnOnce(string callerId, string userAgent)
    {
        if (_warned.Count >= MaxWarnedClients)
            _warned.Clear();
        if (_warned.TryAdd(callerId + "\n" + userAgent, 0))
            FrontDoorLog.LegacyClient(logger, callerId, userAgent.Length == 0 ? "no User-Agent" : userAgent, _options.Sunset.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), runtime.Options.Path);
    }

    /// <summary>Closes the session once no message came for <c>legacy-sse.idle-timeout</c>; keep-alive comments do not count.</summary>
    private async Task WatchIdleAsync(string id, Session session, CancellationToken cancellationToken)
    {
        var timeout = _options.IdleTimeout;
        var tick = TimeSpan.FromTicks(Math.Clamp(timeout.Ticks / 4, TimeSpan.FromMilliseconds(100).Ticks, TimeSpan.FromSeconds(5).Ticks));
        using var timer = new PeriodicTimer(tick);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                if (session.IdleFor() < timeout)
                    continue;
                FrontDoorLog.LegacyIdle(logger, id, session.CallerId, timeout);
                await session.Close.CancelAsync().ConfigureAwait(false);
                return;
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static async Task Quietly(Task task)
    {
        try
        {
            await task.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static string NewSessionId()
    {
        Span<byte> bytes = stackalloc byte[16];
        RandomNumberGenerator.Fill(bytes);
        return WebEncoders.Base64UrlEncode(bytes);
    }

    private sealed class Session(HttpContext context, SseResponseStreamTransport transport, string callerId, string? server, CancellationTokenSource close, MessageRate? rate)
    {
        private long _lastActivity = Environment.TickCount64;
        private int _rateRefused;
        private DirectCalls? _calls;

        /// <summary>The <c>GET /sse</c> request, which lasts as long as the session.</summary>
        public HttpContext Context => context;

        /// <summary>Its direct tool calls in flight; null before the first.</summary>
        public DirectCalls? Calls => Volatile.Read(ref _calls);

        public DirectCalls EnsureCalls() => Calls ?? Interlocked.CompareExchange(ref _calls, new DirectCalls(), null) ?? _calls!;

        public SseResponseStreamTransport Transport => transport;

        public string CallerId => callerId;

        /// <summary>The server of a <c>/servers/{name}/sse</c> session; null for <c>/sse</c>.</summary>
        public string? Server => server;

        public CancellationTokenSource Close => close;

        /// <summary>The rate of its posts; null without a limit.</summary>
        public MessageRate? Rate => rate;

        /// <summary>True the first time a post of this session is refused for its rate.</summary>
        public bool FirstRateRefusal() => Interlocked.Exchange(ref _rateRefused, 1) == 0;

        public void Touch() => Interlocked.Exchange(ref _lastActivity, Environment.TickCount64);

        public TimeSpan IdleFor() => TimeSpan.FromMilliseconds(Environment.TickCount64 - Interlocked.Read(ref _lastActivity));
    }
}
