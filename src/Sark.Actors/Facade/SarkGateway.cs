using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Diagnostics;
using System.Threading.Channels;
using System.Text.Json;
using Akka.Actor;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Sark.Actors.Audit;
using Sark.Actors.Catalog;
using Sark.Actors.Configuration;
using Sark.Actors.Hosting;
using Sark.Actors.Errors;
using Sark.Actors.Events;
using Sark.Actors.Policy;
using Sark.Actors.Telemetry;
using Sark.Actors.Upstreams;
using static Sark.Actors.Upstreams.UpstreamCommands;
using static Sark.Actors.Upstreams.UpstreamReplies;

namespace Sark.Actors;

/// <summary>
/// The facade over the actor tree. It is the only place that Asks, always with a timeout.
/// It also counts calls in flight so that shutdown can drain them.
/// </summary>
internal sealed partial class SarkGateway : ISarkGateway
{
    /// <summary>The bound of a catalog or status query; a catalog miss that fetches may take a read's retries.</summary>
    private static readonly TimeSpan QueryTimeout = TimeSpan.FromSeconds(30);

    /// <summary>The context of listing decisions; listing decisions carry no arguments.</summary>
    private const string ListRequestId = "list";
    private const string PolicySource = "facade";
    private static readonly string NoArguments = CanonicalJson.Hash(null);

    private readonly SarkOptions _options;
    private readonly Task<SarkRoot.Children> _children;
    private readonly CircuitBoard _board;
    private readonly CatalogView _view;
    private readonly ITimeProvider _clock;
    private readonly EventJournal _journal;
    private readonly DecisionCache _decisions;
    private readonly AuditLog? _audit;
    private PolicyGate? _gate;
    private readonly ConcurrentDictionary<string, HttpClient> _eventClients = new(StringComparer.Ordinal);
    private long _subscriptions;
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _inFlight;
    private volatile bool _draining;
    private readonly ILogger _logger;
    private readonly LogLimiter _slowLogs;
    private ReplySinks? _sinks;

    public SarkGateway(SarkOptions options, Task<SarkRoot.Children> children, CircuitBoard board, CatalogView view, ITimeProvider clock, EventJournal journal, DecisionCache decisions, AuditLog? audit = null, ILogger? logger = null)
    {
        _logger = logger ?? NullLogger.Instance;
        _slowLogs = LogLimiter.ForErrors(options.Telemetry.ErrorLogBurst);
        _audit = audit;
        _journal = journal;
        _decisions = decisions;

        _options = options;
        _children = children;
        _board = board;
        _view = view;
        _clock = clock;
    }

    public async Task<IReadOnlyList<ServerInfo>> ListServersAsync(Caller? caller = null, CancellationToken cancellationToken = default)
    {
        var snapshot = _view.Current;
        IReadOnlyList<ServerInfo> servers;
        if (snapshot.ListingsFreshUntil > _clock.Now)
        {
            HitAll();
            servers = snapshot.Servers;
        }
        else
        {
            var reply = await CatalogAsync(CatalogQueries.ListServers.Instance, cancellationToken).ConfigureAwait(false);
            servers = ((CatalogQueries.ServerList)reply).Servers;
        }

        return await VisibleServersAsync(servers, caller, cancellationToken).ConfigureAwait(false);
    }

    public async Task<ServerInfo> GetServerAsync(string server, Caller? caller = null, CancellationToken cancellationToken = default)
    {
        RequireName(server, nameof(server));
        var found = await FindServerAsync(server, cancellationToken).ConfigureAwait(false);
        var gate = await GateAsync(cancellationToken).ConfigureAwait(false);
        if (gate is not null && !await MaySeeAsync(gate, found, caller, cancellationToken).ConfigureAwait(false))
            throw UnknownServer(server);
        return found;
    }

    private async Task<ServerInfo> FindServerAsync(string server, CancellationToken cancellationToken)
    {
        var snapshot = _view.Current;
        var now = _clock.Now;
        if (snapshot.ByName.TryGetValue(server, out var view) && view.FreshUntil > now)
        {
            _view.Counters[view.Routes[0].Upstream].Hit();
            return view.Server;
        }

        if (view is null && snapshot.ListingsFreshUntil > now)
        {
            HitAll();
            throw UnknownServer(server);
        }

        var reply = await CatalogAsync(new CatalogQueries.GetServer(server), cancellationToken).ConfigureAwait(false);
        return reply is CatalogQueries.ServerFound found ? found.Server : throw UnknownServer(server);
    }

    public async Task<IReadOnlyList<ToolInfo>> ListToolsAsync(string? server = null, Caller? caller = null, CancellationToken cancellationToken = default)
    {
        var tools = await FindToolsAsync(server, cancellationToken).ConfigureAwait(false);
        var gate = await GateAsync(cancellationToken).ConfigureAwait(false);
        if (gate is null)
            return tools;
        if (server is not null && !await MaySeeAsync(gate, _view.Current.ByName.TryGetValue(server, out var v) ? v.Server : null, caller, cancellationToken).ConfigureAwait(false))
            throw UnknownServer(server);
        return await CallableToolsAsync(gate, tools, caller, cancellationToken).ConfigureAwait(false);
    }

    private async Task<IReadOnlyList<ToolInfo>> FindToolsAsync(string? server, CancellationToken cancellationToken)
    {
        var snapshot = _view.Current;
        var now = _clock.Now;
        if (server is null)
        {
            if (snapshot.ListingsFreshUntil > now)
            {
                HitAll();
                return snapshot.Tools;
            }
        }
        else
        {
            RequireName(server, nameof(server));
            if (snapshot.ByName.TryGetValue(server, out var view) && view.FreshUntil > now)
            {
                _view.Counters[view.Routes[0].Upstream].Hit();
                return view.Tools;
            }

            if (view is null && snapshot.ListingsFreshUntil > now)
            {
                HitAll();
                throw UnknownServer(server);
            }
        }

        var reply = await CatalogAsync(new CatalogQueries.ListTools(server), cancellationToken).ConfigureAwait(false);
        return reply is CatalogQueries.ToolList list ? list.Tools : throw UnknownServer(server!);
    }

    /// <summary>The servers the caller may see (<c>server:list</c>), in order.</summary>
    private async Task<IReadOnlyList<ServerInfo>> VisibleServersAsync(IReadOnlyList<ServerInfo> servers, Caller? caller, CancellationToken cancellationToken)
    {
        var gate = await GateAsync(cancellationToken).ConfigureAwait(false);
        if (gate is null)
            return servers;
        var visible = new List<ServerInfo>(servers.Count);
        foreach (var server in servers)
        {
            if (await MaySeeAsync(gate, server, caller, cancellationToken).ConfigureAwait(false))
                visible.Add(server);
        }

        return visible;
    }

    private async ValueTask<bool> MaySeeAsync(PolicyGate gate, ServerInfo? server, Caller? caller, CancellationToken cancellationToken)
    {
        if (server is null)
            return true;
        var input = PolicyInput.ForServerList(caller ?? Caller.Local, server, ListRequestId, _clock.Now, PolicySource);
        return (await gate.DecideAsync(input, NoArguments, cancellationToken).ConfigureAwait(false)).Allow;
    }

    /// <summary>The policy's gate, once the tree (and its decision point) has started; null when the options have no policy.</summary>
    private ValueTask<PolicyGate?> GateAsync(CancellationToken cancellationToken)
    {
        if (_options.Policy is null)
            return ValueTask.FromResult<PolicyGate?>(null);
        if (_gate is { } gate)
            return ValueTask.FromResult<PolicyGate?>(gate);
        return BuildAsync();

        async ValueTask<PolicyGate?> BuildAsync()
        {
            var children = await ChildrenAsync(cancellationToken).ConfigureAwait(false);
            return _gate = new PolicyGate(children.Policy!, _decisions, _options.Policy);
        }
    }

    /// <summary>The tools the caller may call (<c>tool:list</c>), in order.</summary>
    private async Task<IReadOnlyList<ToolInfo>> CallableToolsAsync(PolicyGate gate, IReadOnlyList<ToolInfo> tools, Caller? caller, CancellationToken cancellationToken)
    {
        var snapshot = _view.Current;
        var callable = new List<ToolInfo>(tools.Count);
        foreach (var tool in tools)
        {
            if (!snapshot.ByName.TryGetValue(tool.ServerName, out var view))
                continue;
            var input = PolicyInput.ForToolList(caller ?? Caller.Local, view.Server, tool, ListRequestId, _clock.Now, PolicySource);
            if ((await gate.DecideAsync(input, NoArguments, cancellationToken).ConfigureAwait(false)).Allow)
                callable.Add(tool);
        }

        return callable;
    }

    public async Task<IReadOnlyList<UpstreamStatus>> GetUpstreamsAsync(CancellationToken cancellationToken = default)
    {
        var children = await ChildrenAsync(cancellationToken).ConfigureAwait(false);
        var reply = await QueryAsync<UpstreamList>(children.Upstreams, ListUpstreams.Instance, "upstream manager", cancellationToken).ConfigureAwait(false);
        var cache = await QueryAsync<CatalogCommands.CacheStatsReply>(children.Catalog, CatalogCommands.GetCacheStats.Instance, "catalog", cancellationToken).ConfigureAwait(false);
        var statuses = new List<UpstreamStatus>(reply.Upstreams.Length);
        foreach (var status in reply.Upstreams)
            statuses.Add(cache.Upstreams.TryGetValue(status.Name, out var stats) ? status with { Cache = stats } : status);
        return statuses;
    }

    public async Task<int> InvalidateAsync(string? server = null, CancellationToken cancellationToken = default)
    {
        if (server is not null)
            RequireName(server, nameof(server));
        var catalog = (await ChildrenAsync(cancellationToken).ConfigureAwait(false)).Catalog;
        var reply = await QueryAsync<CatalogCommands.Invalidated>(catalog, new CatalogCommands.Invalidate(server), "catalog", cancellationToken).ConfigureAwait(false);
        return reply.Entries;
    }

    public Task<ToolCallResult> InvokeToolAsync(
        string server, string tool, JsonElement? arguments = null, InvokeOptions? options = null, CancellationToken cancellationToken = default) =>
        RefuseAtOnce(server, tool, arguments, options) ?? InvokeCoreAsync(server, tool, arguments, options, cancellationToken);

    /// <summary>
    /// When every route the mode admits has an open circuit on the board, the call is refused
    /// here, as <see cref="InvokeCoreAsync"/> would refuse it (same error, metrics and activity),
    /// but as a faulted task: the exception is thrown once, at the caller's await, not also
    /// inside an async method. Null when the call must take the usual path (anything else, and
    /// always when a policy is configured: a call is authorized, and audited, before anything else).
    /// </summary>
    private Task<ToolCallResult>? RefuseAtOnce(string server, string tool, JsonElement? arguments, InvokeOptions? options)
    {
        if (_options.Policy is not null || _audit is not null || _draining || !_children.IsCompletedSuccessfully || string.IsNullOrWhiteSpace(server) || string.IsNullOrWhiteSpace(tool)
            || arguments is { ValueKind: not (JsonValueKind.Object or JsonValueKind.Null or JsonValueKind.Undefined) }
            || !_view.TryResolve(server, out var routes))
            return null;
        var mode = options?.Route ?? _options.RouteMode;
        SarkError? refusal = null;
        foreach (var route in routes)
        {
            if (!mode.Admits(route.Kind) || !_options.Upstreams.ContainsKey(route.Upstream))
                continue;
            if (!_board.TryGetOpen(route.Upstream, out var open))
                return null;
            refusal = Earliest(refusal, BoardRefusal(route.Upstream, open));
        }

        if (refusal is null)
            return null;
        var requestId = options?.RequestId ?? NewRequestId();
        var start = Stopwatch.GetTimestamp();
        using var activity = StartInvokeActivity(server, tool, requestId);
        RecordOutcome(activity, requestId, server, tool, refusal.Code.ToWire(), start);
        return Task.FromException<ToolCallResult>(refusal.ToException(requestId));
    }

    private async Task<ToolCallResult> InvokeCoreAsync(
        string server, string tool, JsonElement? arguments, InvokeOptions? options, CancellationToken cancellationToken)
    {
        var requestId = options?.RequestId ?? NewRequestId();
        RequireName(server, nameof(server), requestId);
        RequireName(tool, nameof(tool), requestId);
        if (arguments is { ValueKind: not (JsonValueKind.Object or JsonValueKind.Null or JsonValueKind.Undefined) } a)
            throw new SarkInvalidRequestException($"The arguments of a tool call must be a JSON object, not {a.ValueKind}.", requestId);
        if (!_view.TryResolve(server, out var routes))
            throw new SarkNotFoundException($"Server '{server}' is not known to this node. List the servers to see which are.", requestId);
        var mode = options?.Route ?? _options.RouteMode;

        var start = Stopwatch.GetTimestamp();
        var upstreams = (await ChildrenAsync(cancellationToken).ConfigureAwait(false)).Upstreams;
        // Counted before the drain check, so that a drain never misses a call that got past it.
        Interlocked.Increment(ref _inFlight);
        var outcome = "error";
        using var activity = StartInvokeActivity(server, tool, requestId);
        // A trace that is not recorded gets no invoke span (the sampler makes none under an
        // unrecorded local parent); its trace id, the caller's, still goes to audit and upstream.
        var trace = activity ?? Activity.Current;
        var caller = options?.Caller ?? Caller.Local;
        // Audit records it; the policy needs it only when a rule reads arguments (the gate hashes them then).
        var argumentsHash = _audit is not null ? CanonicalJson.Hash(arguments) : null;
        string? usedUpstream = null;
        string? reason = null;
        long authorizeTicks = 0, upstreamTicks = 0;
        try
        {
            if (_draining)
            {
                outcome = SarkErrorCode.ShuttingDown.ToWire();
                throw new SarkShuttingDownException("The node is shutting down and takes no new calls.", requestId);
            }

            if (await GateAsync(cancellationToken).ConfigureAwait(false) is { } gate)
            {
                var authorizeStart = Stopwatch.GetTimestamp();
                PolicyDecision decision;
                try
                {
                    decision = await AuthorizeTracedAsync(gate, caller, server, tool, arguments, argumentsHash, requestId, cancellationToken).ConfigureAwait(false);
                }
                finally
                {
                    authorizeTicks = Stopwatch.GetTimestamp() - authorizeStart;
                }

                if (_audit is not null)
                {
                    await _audit.RecordAsync(AuditEvent.ForDecision(
                        requestId, caller.Id, server, tool, decision.Allow, decision.Reason, argumentsHash, trace?.TraceId.ToHexString())).ConfigureAwait(false);
                }

                if (!decision.Allow)
                {
                    outcome = SarkErrorCode.PolicyDenied.ToWire();
                    reason = decision.Reason;
                    throw new PolicyDeniedException(decision, requestId);
                }

                arguments = decision.EffectiveArguments(arguments);
            }

            SarkError? refusal = null;
            var admitted = 0;
            foreach (var route in routes)
            {
                if (!mode.Admits(route.Kind) || !_options.Upstreams.TryGetValue(route.Upstream, out var upstream))
                    continue;
                admitted++;
                if (_board.TryGetOpen(route.Upstream, out var open))
                {
                    // Refused here, as the circuit would refuse it, without a message to the tree.
                    refusal = Earliest(refusal, BoardRefusal(route.Upstream, open));
                    continue;
                }

                var call = new CallTool(requestId, route.Upstream, tool, arguments, options?.Timeout ?? upstream.CallTimeout)
                {
                    Server = server,
                    TraceParent = trace?.Id,
                    BearerToken = options?.Caller?.BearerToken,
                    Progress = options?.Progress,
                    ClientRequests = options?.ClientRequests,
                };
                if (activity is { IsAllDataRequested: true })
                    activity.SetTag("sark.upstream", route.Upstream);
                usedUpstream = route.Upstream;
                var callStart = Stopwatch.GetTimestamp();
                object reply;
                try
                {
                    // Straight to the upstream's ready connection, or its circuit, when this node
                    // hosts it; else through the manager.
                    reply = _board.ConnectionOf(route.Upstream) is { } connection
                        ? await CallConnectionAsync(connection, call, cancellationToken).ConfigureAwait(false)
                        : await CallAsync(_board.CircuitOf(route.Upstream) ?? upstreams, call, cancellationToken).ConfigureAwait(false);
                }
                finally
                {
                    upstreamTicks += Stopwatch.GetTimestamp() - callStart;
                }

                switch (reply)
                {
                    case ToolCallCompleted completed:
                        outcome = completed.IsError ? "tool_error" : "ok";
                        return new ToolCallResult(requestId, server, tool, completed.Result, completed.IsError, Stopwatch.GetElapsedTime(start));
                    case ToolCallFailed { Error.NotSent: true } failed:
                        // Nothing reached the upstream: the next route may take it.
                        refusal = Earliest(refusal, failed.Error);
                        continue;
                    case ToolCallFailed failed:
                        outcome = failed.Error.Code.ToWire();
                        reason = failed.Error.Message;
                        throw failed.Error.ToException(requestId);
                    default:
                        throw new InvalidOperationException($"Unexpected reply {reply.GetType().Name} to a tool call.");
                }
            }

            if (refusal is not null)
            {
                outcome = refusal.Code.ToWire();
                throw refusal.ToException(requestId);
            }

            outcome = SarkErrorCode.NotFound.ToWire();
            throw new SarkNotFoundException(admitted == 0
                ? $"Server '{server}' has no route that routing mode {mode.ToConfigName()} allows; it is reachable through {string.Join(", ", routes.Select(r => $"{r.Upstream} ({r.Kind.ToConfigName()})"))}."
                : $"Server '{server}' is not known to this node. List the servers to see which are.", requestId);
        }
        catch (UpstreamTimeoutException)
        {
            outcome = SarkErrorCode.UpstreamTimeout.ToWire();
            throw;
        }
        catch (PolicyUnavailableException)
        {
            outcome = SarkErrorCode.PolicyUnavailable.ToWire();
            throw;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            outcome = "cancelled";
            throw;
        }
        finally
        {
            RecordOutcome(activity, requestId, server, tool, outcome, start, new CallBreakdown(authorizeTicks, upstreamTicks, usedUpstream));
            if (_audit is not null)
            {
                // Not awaited: the outcome is final, and a full queue may hold this caller only
                // as long as enqueue-timeout; a drop is counted and logged by the log itself.
                _ = _audit.RecordAsync(AuditEvent.ForOutcome(requestId, caller.Id, server, tool, outcome,
                    Math.Round(Stopwatch.GetElapsedTime(start).TotalMilliseconds, 3), usedUpstream, argumentsHash, trace?.TraceId.ToHexString(), reason));
            }

            if (Interlocked.Decrement(ref _inFlight) == 0 && _draining)
                _drained.TrySetResult();
        }
    }

    public async Task<EventSubscriptionReader> SubscribeAsync(
        string upstream, string path = "/api/v1/events", IReadOnlyCollection<string>? eventTypes = null, CancellationToken cancellationToken = default)
    {
        RequireName(upstream, nameof(upstream));
        if (!_options.Upstreams.TryGetValue(upstream, out var options) || options.Url is null)
            throw new SarkNotFoundException($"Upstream '{upstream}' is not a configured remote upstream (gateway or mcp-http); only those have event streams.");
        var uri = EventUri(options, path);
        var streams = (await ChildrenAsync(cancellationToken).ConfigureAwait(false)).Streams;
        var channel = Channel.CreateBounded<GatewayEvent>(new BoundedChannelOptions(_options.Events.BufferSize)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleWriter = true,
        });
        var id = $"{upstream}-{Interlocked.Increment(ref _subscriptions)}";
        EventSubscriptionReader? reader = null;
        reader = new EventSubscriptionReader(id, channel.Reader, () =>
        {
            streams.Tell(new EventStreamManager.Unsubscribe(id));
            return ValueTask.CompletedTask;
        });
        var settings = new SseSettings(_options.Events.ReadTimeout, _options.Events.MaxEventBytes,
            eventTypes is { Count: > 0 } ? eventTypes.ToFrozenSet(StringComparer.Ordinal) : null);
        var spec = new SubscriptionSpec(id, upstream, uri, EventClient(options), settings, _options.Events.Backoff, state => reader.OnState(state));
        var reply = await QueryAsync<object>(streams, new EventStreamManager.Subscribe(spec, channel), "event stream manager", cancellationToken).ConfigureAwait(false);
        return reply switch
        {
            EventStreamManager.Subscribed => reader,
            EventStreamManager.SubscribeRefused refused => throw refused.Error.ToException(null),
            _ => throw new InvalidOperationException($"Unexpected reply {reply.GetType().Name} to a subscription."),
        };
    }

    /// <summary>The stream's URL: a path under the upstream's url, never another origin (no SSRF through a path).</summary>
    private static Uri EventUri(UpstreamOptions upstream, string path)
    {
        var baseUri = new Uri(upstream.Url!.TrimEnd('/') + "/");
        if (string.IsNullOrWhiteSpace(path) || !path.StartsWith('/') || path.StartsWith("//", StringComparison.Ordinal)
            || path.Contains('\r') || path.Contains('\n') || !Uri.TryCreate(baseUri, path.TrimStart('/'), out var uri)
            || uri.GetLeftPart(UriPartial.Authority) != baseUri.GetLeftPart(UriPartial.Authority))
        {
            throw new SarkInvalidRequestException($"The event path '{path}' must be an absolute path on upstream '{upstream.Name}' (for example /api/v1/events).");
        }

        return uri;
    }

    /// <summary>One pooled client per upstream for its subscriptions: no redirects, no overall timeout (the read timeout guards each read).</summary>
    private HttpClient EventClient(UpstreamOptions upstream) => _eventClients.GetOrAdd(upstream.Name, _ =>
    {
        var client = new HttpClient(new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            ConnectTimeout = TimeSpan.FromSeconds(5),
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(90),
        })
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };
        if (upstream.ApiKey is { } key)
            client.DefaultRequestHeaders.TryAddWithoutValidation("X-API-Key", key);
        return client;
    });

    /// <summary>The <c>tool:invoke</c> decision, with the catalog's sensitivities (critical when the catalog does not know them).</summary>
    private ValueTask<PolicyDecision> AuthorizeAsync(
        PolicyGate gate, Caller caller, string server, string tool, JsonElement? arguments, string? argumentsHash, string requestId, CancellationToken cancellationToken)
    {
        var serverSensitivity = "critical";
        var toolSensitivity = "critical";
        if (_view.Current.ByName.TryGetValue(server, out var view))
        {
            serverSensitivity = view.Server.SensitivityLevel;
            foreach (var known in view.Tools)
            {
                if (known.ToolName == tool)
                {
                    toolSensitivity = known.SensitivityLevel;
                    break;
                }
            }
        }

        var input = PolicyInput.ForInvoke(caller, server, serverSensitivity, tool, toolSensitivity, arguments, requestId, _clock.Now, PolicySource);
        return gate.DecideAsync(input, argumentsHash, cancellationToken);
    }

    /// <summary>
    /// The policy decision under its own span, <c>sark.authorize</c>, a child of <c>sark.invoke</c>
    /// when that one is recorded (an unsampled trace gets no child spans: they would be dropped).
    /// </summary>
    private ValueTask<PolicyDecision> AuthorizeTracedAsync(
        PolicyGate gate, Caller caller, string server, string tool, JsonElement? arguments, string? argumentsHash, string requestId, CancellationToken cancellationToken) =>
        Activity.Current is { Recorded: true }
            ? AuthorizeInSpanAsync(gate, caller, server, tool, arguments, argumentsHash, requestId, cancellationToken)
            : AuthorizeAsync(gate, caller, server, tool, arguments, argumentsHash, requestId, cancellationToken);

    private async ValueTask<PolicyDecision> AuthorizeInSpanAsync(
        PolicyGate gate, Caller caller, string server, string tool, JsonElement? arguments, string? argumentsHash, string requestId, CancellationToken cancellationToken)
    {
        using var span = SarkTelemetry.ActivitySource.StartActivity("sark.authorize");
        try
        {
            var decision = await AuthorizeAsync(gate, caller, server, tool, arguments, argumentsHash, requestId, cancellationToken).ConfigureAwait(false);
            span?.SetTag("sark.decision", decision.Allow ? PolicyTelemetry.Allow : PolicyTelemetry.Deny);
            return decision;
        }
        catch (Exception ex)
        {
            span?.SetTag("sark.decision", PolicyTelemetry.Unavailable);
            span?.SetStatus(ActivityStatusCode.Error, ex.Message);
            throw;
        }
    }

    /// <summary>Where a call's time went: the policy decision and the upstream call(s).</summary>
    private readonly record struct CallBreakdown(long AuthorizeTicks, long UpstreamTicks, string? Upstream);

    private static Activity? StartInvokeActivity(string server, string tool, string requestId)
    {
        var activity = SarkTelemetry.ActivitySource.StartActivity("sark.invoke");
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag("sark.server", server);
            activity.SetTag("sark.tool", tool);
            activity.SetTag("sark.request_id", requestId);
        }

        return activity;
    }

    /// <summary>What every call records when it ends, however it ends (both exits of <see cref="InvokeToolAsync"/>).</summary>
    private void RecordOutcome(Activity? activity, string requestId, string server, string tool, string outcome, long start, CallBreakdown breakdown = default)
    {
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag("sark.outcome", outcome);
            if (outcome is not ("ok" or "tool_error"))
                activity.SetStatus(ActivityStatusCode.Error, outcome);
        }

        var tags = new TagList { { "server", server }, { "outcome", outcome } };
        SarkTelemetry.FacadeCalls.Add(1, tags);
        var elapsed = Stopwatch.GetElapsedTime(start);
        if (SarkTelemetry.FacadeCallDuration.Enabled)
            SarkTelemetry.FacadeCallDuration.Record(elapsed.TotalSeconds, tags);
        NodeEvents.Invocation(_journal, requestId, server, tool, outcome, elapsed);
        var threshold = _options.Telemetry.SlowCallThreshold;
        if (threshold > TimeSpan.Zero && elapsed >= threshold)
            RecordSlowCall(requestId, server, tool, outcome, elapsed, breakdown);
    }

    /// <summary>A call over <c>slow-call-threshold</c>: counted, and logged with where its time went (rate-limited per server).</summary>
    private void RecordSlowCall(string requestId, string server, string tool, string outcome, TimeSpan elapsed, CallBreakdown breakdown)
    {
        SarkTelemetry.SlowCalls.Add(1, new KeyValuePair<string, object?>("server", server));
        if (!_logger.IsEnabled(LogLevel.Warning) || !_slowLogs.TryLog(server, Stopwatch.GetTimestamp(), out var suppressed))
            return;
        var authorizeMs = breakdown.AuthorizeTicks * 1000.0 / Stopwatch.Frequency;
        var upstreamMs = breakdown.UpstreamTicks * 1000.0 / Stopwatch.Frequency;
        var totalMs = elapsed.TotalMilliseconds;
        SlowCall(_logger, requestId, server, tool, outcome, Math.Round(totalMs, 1), Math.Round(authorizeMs, 1),
            Math.Round(upstreamMs, 1), breakdown.Upstream ?? "none", Math.Round(Math.Max(0, totalMs - authorizeMs - upstreamMs), 1), suppressed);
    }

    [LoggerMessage(EventId = 10, Level = LogLevel.Warning,
        Message = "Slow call {RequestId}: {Server}/{Tool} took {TotalMs} ms ({Outcome}): authorize {AuthorizeMs} ms, upstream {UpstreamMs} ms via {Upstream}, gateway {OverheadMs} ms; {Suppressed} slow-call lines suppressed before this one")]
    private static partial void SlowCall(ILogger logger, string requestId, string server, string tool, string outcome,
        double totalMs, double authorizeMs, double upstreamMs, string upstream, double overheadMs, long suppressed);

    /// <summary>The refusal of a call to an upstream whose circuit the board shows open, as the circuit itself would answer.</summary>
    private SarkError BoardRefusal(string upstream, CircuitBoard.OpenCircuit open)
    {
        var now = _clock.Now;
        var retryAfter = open.NextTryAt is { } at && at > now ? at - now : TimeSpan.Zero;
        return new SarkError(SarkErrorCode.UpstreamUnavailable, CircuitBoard.RefusalMessage(upstream, open.Reason, retryAfter), RetryAfter: retryAfter) { NotSent = true };
    }

    /// <summary>One call to one upstream, cancelled upstream when the caller gives up or the Ask times out.</summary>
    private Task<object> CallAsync(IActorRef upstreams, CallTool call, CancellationToken cancellationToken) =>
        AskUpstreamAsync(upstreams, call, call.RequestId, call.Upstream, call.Timeout!.Value,
            $"Upstream '{call.Server}' did not answer '{call.Tool}' within {call.Timeout!.Value.TotalSeconds:0.###}s.", cancellationToken);

    /// <summary>
    /// One call to the ready connection of an upstream this node hosts, answered through a
    /// <see cref="ReplySink"/> instead of an Ask. The caller's token sends <see cref="CancelCall"/>;
    /// past the call timeout plus the margin (a lost message) it fails as an Ask would.
    /// </summary>
    private async Task<object> CallConnectionAsync(IActorRef connection, CallTool call, CancellationToken cancellationToken)
    {
        var sinks = _sinks ?? InitSinks(connection);
        var sink = sinks.Open(connection, call.RequestId, call.Upstream, call.Timeout!.Value + _options.AskMargin);
        using var registration = cancellationToken.CanBeCanceled
            ? cancellationToken.Register(static (state, token) =>
            {
                var sink = (ReplySink)state!;
                sink.Target.Tell(new CancelCall(sink.RequestId, sink.Upstream));
                sink.Reply.TrySetCanceled(token);
            }, sink)
            : default;
        try
        {
            connection.Tell(call, sink);
            return await sink.Reply.Task.ConfigureAwait(false);
        }
        catch (AskTimeoutException)
        {
            connection.Tell(new CancelCall(call.RequestId, call.Upstream));
            throw new UpstreamTimeoutException(
                $"Upstream '{call.Server}' did not answer '{call.Tool}' within {call.Timeout!.Value.TotalSeconds:0.###}s.", call.RequestId);
        }
        finally
        {
            sinks.Close(sink);
        }
    }

    private ReplySinks InitSinks(IActorRef anyLocalActor)
    {
        Interlocked.CompareExchange(ref _sinks, new ReplySinks(anyLocalActor), null);
        return _sinks;
    }

    /// <summary>
    /// Asks the upstream tree with the request's timeout plus the margin. The caller's token and
    /// the Ask's own timeout both send <see cref="CancelCall"/>, so the upstream hears of it.
    /// </summary>
    private async Task<object> AskUpstreamAsync(
        IActorRef upstreams, object message, string requestId, string upstream, TimeSpan timeout, string timeoutMessage, CancellationToken cancellationToken)
    {
        var cancel = new CancelCall(requestId, upstream);
        using var registration = cancellationToken.CanBeCanceled
            ? cancellationToken.Register(static state =>
            {
                var (actor, cancel) = ((IActorRef, CancelCall))state!;
                actor.Tell(cancel);
            }, (upstreams, cancel))
            : default;
        try
        {
            return await upstreams.Ask<object>(message, timeout + _options.AskMargin, cancellationToken).ConfigureAwait(false);
        }
        catch (AskTimeoutException)
        {
            upstreams.Tell(cancel);
            throw new UpstreamTimeoutException(timeoutMessage, requestId);
        }
    }

    /// <summary>Of two refusals, the one whose retry comes first (the caller should try again then).</summary>
    private static SarkError Earliest(SarkError? current, SarkError next) =>
        current is null || (next.RetryAfter ?? TimeSpan.Zero) < (current.RetryAfter ?? TimeSpan.Zero) ? next : current;

    private void HitAll()
    {
        foreach (var counters in _view.AllCounters)
            counters.Hit();
    }

    /// <summary>A catalog miss: the catalog fetches what expired (once, however many wait) and answers.</summary>
    private async Task<object> CatalogAsync(object query, CancellationToken cancellationToken)
    {
        var catalog = (await ChildrenAsync(cancellationToken).ConfigureAwait(false)).Catalog;
        var reply = await QueryAsync<object>(catalog, query, "catalog", cancellationToken).ConfigureAwait(false);
        return reply is CatalogQueries.Unavailable unavailable ? throw unavailable.Error.ToException(null) : reply;
    }

    /// <summary>Stops taking calls and waits up to <paramref name="timeout"/> for those in flight.</summary>
    public async Task DrainAsync(TimeSpan timeout)
    {
        _draining = true;
        if (Volatile.Read(ref _inFlight) == 0)
            return;
        await Task.WhenAny(_drained.Task, Task.Delay(timeout)).ConfigureAwait(false);
    }

    internal int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>The same facade without the circuit board: every call goes to the tree (for benchmarks).</summary>
    internal SarkGateway WithoutCircuitBoard() => new(_options, _children, new CircuitBoard(), _view, _clock, _journal, _decisions, _audit);

    /// <summary>The audit log, when audit is on.</summary>
    internal AuditLog? Audit => _audit;

    /// <summary>The catalog's published snapshots (the front door watches them for list_changed).</summary>
    internal CatalogView Catalog => _view;

    /// <summary>The node's own events (served on <c>GET /api/v1/events</c>).</summary>
    internal EventJournal Events => _journal;

    /// <summary>The tree's children; bounded, so a tree that never started is an error, not a hang.</summary>
    private Task<SarkRoot.Children> ChildrenAsync(CancellationToken cancellationToken)
    {
        if (_children.IsCompletedSuccessfully)
            return _children;
        return WaitAsync();

        async Task<SarkRoot.Children> WaitAsync()
        {
            try
            {
                return await _children.WaitAsync(QueryTimeout, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException ex)
            {
                throw new SarkException(SarkErrorCode.UpstreamUnavailable, $"The Sark actor tree did not start within {QueryTimeout.TotalSeconds:0}s; check the node's log.", null, ex);
            }
        }
    }

    private static async Task<T> QueryAsync<T>(IActorRef actor, object query, string what, CancellationToken cancellationToken)
    {
        try
        {
            return await actor.Ask<T>(query, QueryTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (AskTimeoutException ex)
        {
            throw new SarkException(SarkErrorCode.UpstreamTimeout, $"The {what} did not answer within {QueryTimeout.TotalSeconds:0}s; the node is overloaded or stopping.", null, ex);
        }
    }

    private static string NewRequestId() => Guid.NewGuid().ToString("N");

    private static SarkNotFoundException UnknownServer(string server) =>
        new($"Server '{server}' is not known to this node. List the servers to see which are.");

    private static void RequireName(string value, string what, string? requestId = null)
    {
        if (string.IsNullOrWhiteSpace(value))
            throw new SarkInvalidRequestException($"A {what} name is required.", requestId);
    }
}
