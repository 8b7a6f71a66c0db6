using System.Collections.Immutable;
using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using Sark.Actors.Catalog;
using Sark.Actors.Errors;
using Sark.Actors.Telemetry;

namespace Sark.Actors.Upstreams.Gateway;

/// <summary>The reads of a gateway connection after discovery: catalog refreshes and the registry's health.</summary>
internal sealed partial class GatewayConnection
{
    private const string HealthTimer = "health";

    private readonly List<(RefreshKey Key, IActorRef ReplyTo)> _awaitingDiscovery = [];
    private readonly Dictionary<RefreshKey, IActorRef> _refreshing = [];
    private bool _checkingHealth;
    private string? _health;
    private long _reads;

    /// <summary>A request id for a read the node makes on its own (the same across the read's retries).</summary>
    private string ReadId(string what) => $"sark-{what}-{_options.Name}-{Interlocked.Increment(ref _reads)}";

    private void StartRefresh(RefreshKey key, IActorRef replyTo)
    {
        if (!_refreshing.TryAdd(key, replyTo))
            return;
        var start = Stopwatch.GetTimestamp();
        var headers = new CallHeaders(ReadId(key.Server is null ? "list" : "get"));
        if (key.Server is { } server)
        {
            _client.ReadServerAsync(server, headers, _stopping.Token).PipeTo(Self,
                success: entry => new RefreshDone(key, entry is null ? [] : [entry], null, start, null),
                failure: ex => new RefreshDone(key, [], null, start, ex));
        }
        else
        {
            _client.DiscoverAsync(headers, _stopping.Token).PipeTo(Self,
                success: discovery => new RefreshDone(key, discovery.Entries, discovery.Paging, start, null),
                failure: ex => new RefreshDone(key, [], null, start, ex));
        }
    }

    private void OnRefreshDone(RefreshDone done)
    {
        if (!_refreshing.Remove(done.Key, out var replyTo))
            return;
        var operation = done.Key.Server is null ? "list" : "get";
        if (done.Failure is not null)
        {
            var (error, counts) = ReadFailure(done.Failure, $"refresh of {done.Key}");
            SarkTelemetry.RecordRequest(_options.Name, operation, error.Code.ToWire(), done.Start);
            replyTo.Tell(new CatalogCommands.RefreshFailed(done.Key, error));
            if (counts && _failures.RecordFailure())
                Fault($"{_failures.Consecutive} consecutive requests failed ({error.Message}); failure-threshold is {_options.FailureThreshold}");
            return;
        }

        _failures.RecordSuccess();
        SarkTelemetry.RecordRequest(_options.Name, operation, "ok", done.Start);
        if (done.Key.Server is { } server)
            _servers = done.Servers.IsEmpty ? _servers.Remove(server) : _servers.Add(server);
        else
            _servers = done.Servers.Select(s => s.Server.ServerName).ToImmutableHashSet(StringComparer.Ordinal);
        if (done.Paging is not null)
            _owner.Tell(new ConnectionEvents.RegistryChecked(null, done.Paging));
        replyTo.Tell(new CatalogCommands.Refreshed(done.Key, done.Servers));
    }

    private void AnswerAwaitingDiscovery(ImmutableArray<CatalogEntry> servers)
    {
        foreach (var (key, replyTo) in _awaitingDiscovery)
        {
            if (key.Server is null)
                replyTo.Tell(new CatalogCommands.Refreshed(key, servers));
            else
                StartRefresh(key, replyTo);
        }

        _awaitingDiscovery.Clear();
    }

    private void FailRefreshes(SarkError error)
    {
        foreach (var (key, replyTo) in _awaitingDiscovery)
            replyTo.Tell(new CatalogCommands.RefreshFailed(key, error));
        _awaitingDiscovery.Clear();
        foreach (var (key, replyTo) in _refreshing)
            replyTo.Tell(new CatalogCommands.RefreshFailed(key, error));
        _refreshing.Clear();
    }

    private void StartHealthCheck()
    {
        if (_checkingHealth)
            return;
        _checkingHealth = true;
        var start = Stopwatch.GetTimestamp();
        _client.CheckHealthAsync(new CallHeaders(ReadId("health")), _stopping.Token).PipeTo(Self,
            success: () => new HealthDone(start, null),
            failure: ex => new HealthDone(start, ex));
    }

    private void OnHealthDone(HealthDone done)
    {
        _checkingHealth = false;
        var health = done.Failure is null ? "healthy" : "unhealthy";
        if (done.Failure is null)
        {
            SarkTelemetry.RecordRequest(_options.Name, "health", "ok", done.Start);
            _failures.RecordSuccess();
        }
        else
        {
            var (error, counts) = ReadFailure(done.Failure, "health check");
            SarkTelemetry.RecordRequest(_options.Name, "health", error.Code.ToWire(), done.Start);
            if (health != _health)
                _log.Warning("Upstream {Upstream}: the registry is not healthy: {Reason}", _options.Name, error.Message);
            if (counts && _failures.RecordFailure())
                Fault($"{_failures.Consecutive} consecutive requests failed ({error.Message}); failure-threshold is {_options.FailureThreshold}");
        }

        if (health != _health)
        {
            _health = health;
            _owner.Tell(new ConnectionEvents.RegistryChecked(health, null));
        }
    }

    private (SarkError Error, bool CountsAsFailure) ReadFailure(Exception failure, string what) => failure switch
    {
        RegistryException registry => (registry.Error, registry.CountsAsFailure),
        OperationCanceledException => (new SarkError(SarkErrorCode.UpstreamUnavailable, $"The {what} of upstream '{_options.Name}' was cancelled."), false),
        _ => (new SarkError(SarkErrorCode.UpstreamError, $"The {what} of upstream '{_options.Name}' failed: {failure.Message}"), true),
    };

    private sealed record RefreshDone(RefreshKey Key, ImmutableArray<CatalogEntry> Servers, PagingStats? Paging, long Start, Exception? Failure)
        : INoSerializationVerificationNeeded;

    private sealed record HealthDone(long Start, Exception? Failure) : INoSerializationVerificationNeeded;

    private sealed class HealthTick : IDeadLetterSuppression
    {
        public static readonly HealthTick Instance = new();
    }
}
