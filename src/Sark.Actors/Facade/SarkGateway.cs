using System.Diagnostics;
using System.Text.Json;
using Akka.Actor;
using Sark.Actors.Catalog;
using Sark.Actors.Configuration;
using Sark.Actors.Hosting;
using Sark.Actors.Errors;
using Sark.Actors.Telemetry;
using Sark.Actors.Upstreams;
using static Sark.Actors.Upstreams.UpstreamCommands;
using static Sark.Actors.Upstreams.UpstreamReplies;

namespace Sark.Actors;

/// <summary>
/// The facade over the actor tree. It is the only place that Asks, always with a timeout.
/// It also counts calls in flight so that shutdown can drain them.
/// </summary>
internal sealed class SarkGateway : ISarkGateway
{
    private static readonly TimeSpan QueryTimeout = TimeSpan.FromSeconds(10);

    private readonly SarkOptions _options;
    private readonly Task<SarkRoot.Children> _children;
    private readonly CircuitBoard _board;
    private readonly ServerRoutes _routes;
    private readonly ITimeProvider _clock;
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _inFlight;
    private volatile bool _draining;

    public SarkGateway(SarkOptions options, Task<SarkRoot.Children> children, CircuitBoard board, ServerRoutes routes, ITimeProvider clock)
    {
        _options = options;
        _children = children;
        _board = board;
        _routes = routes;
        _clock = clock;
    }

    public async Task<IReadOnlyList<ServerInfo>> ListServersAsync(CancellationToken cancellationToken = default)
    {
        var catalog = (await ChildrenAsync(cancellationToken).ConfigureAwait(false)).Catalog;
        var reply = await QueryAsync<CatalogQueries.ServerList>(catalog, CatalogQueries.ListServers.Instance, "catalog", cancellationToken).ConfigureAwait(false);
        return reply.Servers;
    }

    public async Task<ServerInfo> GetServerAsync(string server, CancellationToken cancellationToken = default)
    {
        RequireName(server, nameof(server));
        var catalog = (await ChildrenAsync(cancellationToken).ConfigureAwait(false)).Catalog;
        var reply = await QueryAsync<object>(catalog, new CatalogQueries.GetServer(server), "catalog", cancellationToken).ConfigureAwait(false);
        return reply is CatalogQueries.ServerFound found ? found.Server : throw UnknownServer(server);
    }

    public async Task<IReadOnlyList<ToolInfo>> ListToolsAsync(string? server = null, CancellationToken cancellationToken = default)
    {
        if (server is not null)
            RequireName(server, nameof(server));
        var catalog = (await ChildrenAsync(cancellationToken).ConfigureAwait(false)).Catalog;
        var reply = await QueryAsync<object>(catalog, new CatalogQueries.ListTools(server), "catalog", cancellationToken).ConfigureAwait(false);
        return reply is CatalogQueries.ToolList list ? list.Tools : throw UnknownServer(server!);
    }

    public async Task<IReadOnlyList<UpstreamStatus>> GetUpstreamsAsync(CancellationToken cancellationToken = default)
    {
        var upstreams = (await ChildrenAsync(cancellationToken).ConfigureAwait(false)).Upstreams;
        var reply = await QueryAsync<UpstreamList>(upstreams, ListUpstreams.Instance, "upstream manager", cancellationToken).ConfigureAwait(false);
        return reply.Upstreams;
    }

    public async Task<ToolCallResult> InvokeToolAsync(
        string server, string tool, JsonElement? arguments = null, InvokeOptions? options = null, CancellationToken cancellationToken = default)
    {
        var requestId = options?.RequestId ?? NewRequestId();
        RequireName(server, nameof(server), requestId);
        RequireName(tool, nameof(tool), requestId);
        if (arguments is { ValueKind: not (JsonValueKind.Object or JsonValueKind.Null or JsonValueKind.Undefined) } a)
            throw new SarkInvalidRequestException($"The arguments of a tool call must be a JSON object, not {a.ValueKind}.", requestId);
        if (!_routes.TryResolve(server, out var upstreamName) || !_options.Upstreams.TryGetValue(upstreamName, out var upstream))
            throw new SarkNotFoundException($"Server '{server}' is not known to this node. List the servers to see which are.", requestId);

        var start = Stopwatch.GetTimestamp();
        var timeout = options?.Timeout ?? upstream.CallTimeout;
        var upstreams = (await ChildrenAsync(cancellationToken).ConfigureAwait(false)).Upstreams;
        // Counted before the drain check, so that a drain never misses a call that got past it.
        Interlocked.Increment(ref _inFlight);
        var outcome = "error";
        using var activity = SarkTelemetry.ActivitySource.StartActivity("sark.invoke");
        activity?.SetTag("sark.server", server);
        activity?.SetTag("sark.tool", tool);
        activity?.SetTag("sark.request_id", requestId);
        try
        {
            if (_draining)
            {
                outcome = SarkErrorCode.ShuttingDown.ToWire();
                throw new SarkShuttingDownException("The node is shutting down and takes no new calls.", requestId);
            }

            if (_board.TryGetOpen(upstreamName, out var open))
            {
                // Refused here, as the circuit would refuse it, without a message to the tree.
                outcome = SarkErrorCode.UpstreamUnavailable.ToWire();
                var retryAfter = open.NextTryAt is { } at && at > _clock.Now ? at - _clock.Now : TimeSpan.Zero;
                throw new UpstreamUnavailableException(CircuitBoard.RefusalMessage(upstreamName, open.Reason, retryAfter), retryAfter, requestId);
            }

            using var registration = cancellationToken.CanBeCanceled
                ? cancellationToken.Register(() => upstreams.Tell(new CancelCall(requestId, upstreamName)))
                : default;
            object reply;
            try
            {
                reply = await upstreams.Ask<object>(new CallTool(requestId, upstreamName, tool, arguments, timeout) { Server = server }, timeout + _options.AskMargin, cancellationToken)
                    .ConfigureAwait(false);
            }
            catch (AskTimeoutException)
            {
                outcome = SarkErrorCode.UpstreamTimeout.ToWire();
                upstreams.Tell(new CancelCall(requestId, upstreamName));
                throw new UpstreamTimeoutException($"Upstream '{server}' did not answer '{tool}' within {timeout.TotalSeconds:0.###}s.", requestId);
            }

            switch (reply)
            {
                case ToolCallCompleted completed:
                    outcome = completed.IsError ? "tool_error" : "ok";
                    return new ToolCallResult(requestId, server, tool, completed.Result, completed.IsError, Stopwatch.GetElapsedTime(start));
                case ToolCallFailed failed:
                    outcome = failed.Error.Code.ToWire();
                    throw failed.Error.ToException(requestId);
                default:
                    throw new InvalidOperationException($"Unexpected reply {reply.GetType().Name} to a tool call.");
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            outcome = "cancelled";
            throw;
        }
        finally
        {
            activity?.SetTag("sark.outcome", outcome);
            var tags = new TagList { { "server", server }, { "outcome", outcome } };
            SarkTelemetry.FacadeCalls.Add(1, tags);
            if (SarkTelemetry.FacadeCallDuration.Enabled)
                SarkTelemetry.FacadeCallDuration.Record(Stopwatch.GetElapsedTime(start).TotalSeconds, tags);
            if (Interlocked.Decrement(ref _inFlight) == 0 && _draining)
                _drained.TrySetResult();
        }
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
    internal SarkGateway WithoutCircuitBoard() => new(_options, _children, new CircuitBoard(), _routes, _clock);

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
