using System.Collections.Immutable;
using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using Sark.Actors.Catalog;
using Sark.Actors.Configuration;
using Sark.Actors.Errors;
using Sark.Actors.Protocol;
using Sark.Actors.Telemetry;
using static Sark.Actors.Upstreams.UpstreamCommands;
using static Sark.Actors.Upstreams.UpstreamReplies;

namespace Sark.Actors.Upstreams.Gateway;

/// <summary>
/// The connection actor of a <c>gateway</c> upstream: an MCP gateway registry's REST API, which
/// exposes many servers. Child of the upstream's BackoffSupervisor, like every connection; the
/// HTTP work is in <see cref="RegistryClient"/>, run as detached tasks piped back here.
/// <code>
/// PreStart ▶ discovering: every page of servers and tools            [calls refused: not ready]
///   └▶ ready: invoke ⇄ results (each a task with its own timeout, cancellable)
///            catalog refreshes (a listing or one server) and GET /health every health-interval
/// discovery failed | init-timeout | failure threshold (5xx, timeouts, unreachable) ──▶ Faulting
/// Faulting: every call answered upstream_unavailable; circuit's ack (or 2 s) ──▶ stop
/// </code>
/// </summary>
internal sealed partial class GatewayConnection : UntypedActor, IWithTimers
{
    private const string InitTimer = "init";
    private const string FaultTimer = "fault";

    private readonly UpstreamOptions _options;
    private readonly IActorRef _owner;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly RegistryClient _client;
    private readonly CancellationTokenSource _stopping = new();
    private readonly FailureCounter _failures;
    private readonly Dictionary<string, InFlight> _inFlight = new(StringComparer.Ordinal);
    private ImmutableHashSet<string> _servers = ImmutableHashSet<string>.Empty;
    private bool _ready;
    private int _attempt;
    private string? _faultReason;

    public GatewayConnection(UpstreamOptions options, IActorRef owner)
    {
        _options = options;
        _owner = owner;
        _client = new RegistryClient(options);
        _failures = new FailureCounter(options.FailureThreshold);
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(UpstreamOptions options, IActorRef owner) =>
        Akka.Actor.Props.Create(() => new GatewayConnection(options, owner));

    protected override void PreStart()
    {
        _owner.Tell(new ConnectionEvents.Started(Self, null));
        Timers.StartSingleTimer(InitTimer, DiscoveryTimedOut.Instance, _options.InitTimeout);
        _client.DiscoverAsync(new CallHeaders(ReadId("discover")), _stopping.Token).PipeTo(Self,
            success: discovery => new Discovered(discovery),
            failure: ex => new DiscoveryFailed(ex is RegistryException ? ex.Message : $"discovery failed: {ex.Message}"));
    }

    protected override void PostStop()
    {
        _stopping.Cancel();
        var error = CoordinatedShutdown.Get(Context.System).ShutdownReason is not null
            ? new SarkError(SarkErrorCode.ShuttingDown, $"The node is shutting down; the call through upstream '{_options.Name}' was not completed.")
            : new SarkError(SarkErrorCode.UpstreamUnavailable, $"Upstream '{_options.Name}' was stopped before the call completed. Try again.");
        foreach (var call in _inFlight.Values)
            call.ReplyTo.Tell(new ToolCallFailed(call.RequestId, error));
        _inFlight.Clear();
        FailRefreshes(error);
        StopFollowingRegistryEvents();
        _client.Dispose();
        _stopping.Dispose();
    }

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case ForwardRequest request:
                Sender.Tell(new ToolCallFailed(request.RequestId, new SarkError(SarkErrorCode.InvalidRequest,
                    $"Upstream '{_options.Name}' is a gateway: it serves tools only, not {request.Method}.") { NotSent = true }));
                break;
            case CallTool call when _faultReason is not null:
                Sender.Tell(new ToolCallFailed(call.RequestId, ConnectionFault.Error(_options, _faultReason, _attempt) with { NotSent = true }));
                break;
            case RefreshCatalog refresh when _faultReason is not null:
                Sender.Tell(new CatalogCommands.RefreshFailed(refresh.Key, ConnectionFault.Error(_options, _faultReason, _attempt) with { NotSent = true }));
                break;
            case ConnectionEvents.FaultAcknowledged or ConnectionFault.AckTimedOut:
                Context.Stop(Self);
                break;
            case ConnectionEvents.Attempt attempt:
                _attempt = attempt.ConsecutiveRestarts;
                break;
            case InvokeDone done:
                OnInvokeDone(done);
                break;
            case RefreshDone done:
                OnRefreshDone(done);
                break;
            case HealthDone done:
                OnHealthDone(done);
                break;
            case RegistrySignal registry:
                OnRegistrySignal(registry.Signal);
                break;
            case var _ when _faultReason is not null:
                break;
            case CallTool call when _ready:
                StartInvoke(call, Sender);
                break;
            case CallTool call:
                Sender.Tell(new ToolCallFailed(call.RequestId, new SarkError(SarkErrorCode.UpstreamUnavailable,
                    $"Upstream '{_options.Name}' is still reading its registry's servers. Try again shortly.") { NotSent = true }));
                break;
            case RefreshCatalog refresh when _ready:
                StartRefresh(refresh.Key, Sender);
                break;
            case RefreshCatalog refresh:
                // Discovery is under way: its result answers this refresh too.
                _awaitingDiscovery.Add((refresh.Key, Sender));
                break;
            case HealthTick:
                StartHealthCheck();
                break;
            case CancelCall cancel when _inFlight.TryGetValue(cancel.RequestId, out var call):
                call.Cancellation.Cancel();
                break;
            case CancelCall:
                break;
            case Discovered discovered:
                OnDiscovered(discovered.Discovery);
                break;
            case DiscoveryFailed failed:
                Fault(failed.Reason);
                break;
            case DiscoveryTimedOut:
                Fault($"did not list its servers and tools within {_options.InitTimeout.TotalSeconds:0.#}s (init-timeout)");
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    private void OnDiscovered(Discovery discovery)
    {
        Timers.Cancel(InitTimer);
        _ready = true;
        var servers = discovery.Entries;
        _servers = servers.Select(s => s.Server.ServerName).ToImmutableHashSet(StringComparer.Ordinal);
        _owner.Tell(new ConnectionEvents.Ready(Self, servers) { Paging = discovery.Paging });
        AnswerAwaitingDiscovery(servers);
        FollowRegistryEvents();
        Timers.StartPeriodicTimer(HealthTimer, HealthTick.Instance, _options.HealthInterval);
        StartHealthCheck();
        _log.Info("Upstream {Upstream} ready: {Servers} servers, {Tools} tools from {Url} ({Pages} pages in {Duration:0} ms)",
            _options.Name, servers.Length, discovery.Paging.Tools, _options.Url, discovery.Paging.Pages, discovery.Paging.Duration.TotalMilliseconds);
    }

    private void StartInvoke(CallTool call, IActorRef replyTo)
    {
        if (!_servers.Contains(call.Server))
        {
            replyTo.Tell(new ToolCallFailed(call.RequestId, new SarkError(SarkErrorCode.NotFound,
                $"Server '{call.Server}' is not listed by the registry of upstream '{_options.Name}'.")));
            return;
        }

        if (_inFlight.ContainsKey(call.RequestId))
        {
            replyTo.Tell(new ToolCallFailed(call.RequestId, new SarkError(SarkErrorCode.InvalidRequest,
                $"A call with request id '{call.RequestId}' is already in flight on upstream '{_options.Name}'; request ids must be unique.")));
            return;
        }

        var timeout = call.Timeout ?? _options.CallTimeout;
        var cancellation = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
        cancellation.CancelAfter(timeout);
        var start = Stopwatch.GetTimestamp();
        _inFlight[call.RequestId] = new InFlight(call.RequestId, replyTo, cancellation, call.TraceParent);
        var requestId = call.RequestId;
        var tool = call.Tool;
        _client.InvokeAsync(call.Server, tool, call.Arguments, new CallHeaders(requestId, call.TraceParent, call.BearerToken), cancellation.Token).PipeTo(Self,
            success: outcome => new InvokeDone(requestId, tool, start, timeout, outcome, null),
            failure: ex => new InvokeDone(requestId, tool, start, timeout, null, ex));
    }

    private void OnInvokeDone(InvokeDone done)
    {
        if (!_inFlight.Remove(done.RequestId, out var call))
            return;
        var cancelled = call.Cancellation.IsCancellationRequested;
        call.Cancellation.Dispose();
        var outcome = done.Outcome ?? (cancelled
            ? Stopwatch.GetElapsedTime(done.Start) >= done.Timeout
                ? new InvokeOutcome(null, false, new SarkError(SarkErrorCode.UpstreamTimeout,
                    $"The registry of upstream '{_options.Name}' did not answer '{done.Tool}' within {done.Timeout.TotalSeconds:0.###}s."), true)
                : new InvokeOutcome(null, false, new SarkError(SarkErrorCode.UpstreamUnavailable,
                    $"The call to '{done.Tool}' through upstream '{_options.Name}' was cancelled."), false)
            : new InvokeOutcome(null, false, new SarkError(SarkErrorCode.UpstreamError,
                $"The call to '{done.Tool}' through upstream '{_options.Name}' failed: {done.Failure?.Message}"), true));

        if (outcome.Error is { } error)
        {
            SarkTelemetry.RecordRequest(_options.Name, "invoke", error.Code.ToWire(), done.Start, call.TraceParent);
            call.ReplyTo.Tell(new ToolCallFailed(done.RequestId, error));
            if (outcome.CountsAsFailure && _failures.RecordFailure())
                Fault($"{_failures.Consecutive} consecutive requests failed ({error.Message}); failure-threshold is {_options.FailureThreshold}");
            return;
        }

        _failures.RecordSuccess();
        SarkTelemetry.RecordRequest(_options.Name, "invoke", outcome.IsError ? "tool_error" : "ok", done.Start, call.TraceParent);
        call.ReplyTo.Tell(new ToolCallCompleted(done.RequestId, outcome.Result!.Value, outcome.IsError));
    }

    private void Fault(string reason)
    {
        if (_faultReason is not null)
            return;
        _faultReason = reason;
        _log.Debug("Upstream {Upstream} failed: {Reason}", _options.Name, reason);
        Timers.Cancel(InitTimer);
        // Like every connection, a faulted one fails what is in flight at once.
        var error = ConnectionFault.Error(_options, reason, _attempt);
        foreach (var call in _inFlight.Values)
        {
            call.Cancellation.Cancel();
            call.Cancellation.Dispose();
            call.ReplyTo.Tell(new ToolCallFailed(call.RequestId, error));
        }

        _inFlight.Clear();
        FailRefreshes(error with { NotSent = true });
        _owner.Tell(new ConnectionEvents.Faulted(reason));
        Timers.StartSingleTimer(FaultTimer, ConnectionFault.AckTimedOut.Instance, ConnectionFault.AckTimeout);
    }

    private sealed record InFlight(string RequestId, IActorRef ReplyTo, CancellationTokenSource Cancellation, string? TraceParent = null);

    private sealed record Discovered(Discovery Discovery) : INoSerializationVerificationNeeded;

    private sealed record DiscoveryFailed(string Reason);

    private sealed record InvokeDone(string RequestId, string Tool, long Start, TimeSpan Timeout, InvokeOutcome? Outcome, Exception? Failure)
        : INoSerializationVerificationNeeded;

    private sealed class DiscoveryTimedOut : IDeadLetterSuppression
    {
        public static readonly DiscoveryTimedOut Instance = new();
    }
}
