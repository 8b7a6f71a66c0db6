using Akka.Actor;
using Sark.Actors;
using Sark.Actors.Configuration;

namespace Sark.Host.Health;

/// <summary>
/// Decides readiness: the actor system runs, and every upstream with <c>required = true</c> has
/// a closed circuit and is ready (a gateway upstream's registry must also answer its own
/// <c>GET /health</c> as healthy). Upstreams that are not required are listed but never block.
/// </summary>
internal sealed class Readiness(ISarkGateway gateway, SarkOptions options, ActorSystem system, ILogger<Readiness> logger)
{
    private static readonly TimeSpan StatusTimeout = TimeSpan.FromSeconds(3);

    private readonly ISarkGateway _gateway = gateway;
    private readonly SarkOptions _options = options;
    private readonly ActorSystem _system = system;
    private readonly ILogger _logger = logger;

    public bool ActorSystemRunning => !_system.WhenTerminated.IsCompleted;

    public async Task<ReadinessResponse> CheckAsync(CancellationToken cancellationToken)
    {
        IReadOnlyList<UpstreamStatus> statuses = [];
        string? failure = null;
        if (!ActorSystemRunning)
        {
            failure = "The actor system has stopped.";
        }
        else
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(StatusTimeout);
            try
            {
                // WaitAsync: a probe must answer even if the runtime never does.
                statuses = await _gateway.GetUpstreamsAsync(timeout.Token).WaitAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                Log.ReadinessFailed(_logger, ex);
                failure = $"The upstreams' status could not be read: {ex.Message}";
            }
        }

        var byName = new Dictionary<string, UpstreamStatus>(StringComparer.Ordinal);
        foreach (var status in statuses)
            byName[status.Name] = status;

        var upstreams = new SortedDictionary<string, UpstreamReadiness>(StringComparer.Ordinal);
        var ready = failure is null;
        foreach (var (name, upstream) in _options.Upstreams)
        {
            var entry = byName.TryGetValue(name, out var s)
                ? new UpstreamReadiness(s.State, s.Breaker, upstream.Required, s.LastError, s.RegistryHealth)
                : new UpstreamReadiness(null, null, upstream.Required, failure ?? "The upstream has not reported its state yet.");
            upstreams[name] = entry;
            ready &= !upstream.Required || entry.Ready;
        }

        return new ReadinessResponse(ready ? "ready" : "not_ready", upstreams);
    }
}
