using Akka.Event;
using Akka;
using Akka.Actor;
using Akka.Streams;
using Akka.Streams.Dsl;
using Sark.Actors.Configuration;
using Sark.Actors.Events;

namespace Sark.Actors.Upstreams.Gateway;

/// <summary>
/// A gateway connection follows its registry's <c>GET /api/v1/events</c> (with
/// <c>subscribe-events</c>): <c>server_registered</c> and <c>server_removed</c> expire the
/// upstream's listing, <c>tools_changed</c> expires the server, <c>catalog_changed</c> expires
/// everything. The next lookup reads them again. A registry without events (a 4xx) is left alone.
/// </summary>
internal sealed partial class GatewayConnection
{
    private static readonly IReadOnlySet<string> RegistryEventTypes = new HashSet<string>(StringComparer.Ordinal)
    {
        GatewayEventTypes.ServerRegistered, GatewayEventTypes.ServerRemoved, GatewayEventTypes.ToolsChanged, GatewayEventTypes.CatalogChanged,
    };

    private UniqueKillSwitch? _events;
    private HttpClient? _eventsHttp;

    private void FollowRegistryEvents()
    {
        if (!_options.SubscribeEvents || _events is not null)
            return;
        var events = _options.Events;
        _eventsHttp = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false, ConnectTimeout = TimeSpan.FromSeconds(5) })
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };
        if (_options.ApiKey is { } key)
            _eventsHttp.DefaultRequestHeaders.TryAddWithoutValidation("X-API-Key", key);
        var http = _eventsHttp;
        var uri = new Uri(new Uri(_options.Url!.TrimEnd('/') + "/"), "api/v1/events");
        var cursor = new SseCursor();
        var settings = new SseSettings(events.ReadTimeout, events.MaxEventBytes, RegistryEventTypes);
        var token = _stopping.Token;
        var self = Self;
        _events = RestartSource
            .WithBackoff(() => Source.From(() => SseConnection.ReadAsync(http, uri, cursor, settings, token)),
                RestartSettings.Create(events.Backoff.Min, events.Backoff.Max, events.Backoff.RandomFactor))
            .ViaMaterialized(KillSwitches.Single<SseSignal>(), Keep.Right)
            .TakeWhile(signal => signal is not SseSignal.Fatal, inclusive: true)
            .To(Sink.ForEach<SseSignal>(signal =>
            {
                if (signal is SseSignal.Event or SseSignal.Fatal)
                    self.Tell(new RegistrySignal(signal));
            }))
            .Run(Context.Materializer());
    }

    private void OnRegistrySignal(SseSignal signal)
    {
        switch (signal)
        {
            case SseSignal.Fatal fatal:
                _log.Info("Upstream {Upstream}: not following the registry's events: {Reason}", _options.Name, fatal.Error.Message);
                break;
            case SseSignal.Event { Value: var e } when e.EventType == GatewayEventTypes.ToolsChanged:
                _owner.Tell(new ConnectionEvents.RegistryChanged(NodeEvents.ServerOf(e)));
                break;
            case SseSignal.Event:
                _owner.Tell(new ConnectionEvents.RegistryChanged(null));
                break;
        }
    }

    private void StopFollowingRegistryEvents()
    {
        _events?.Shutdown();
        _eventsHttp?.Dispose();
    }

    private sealed record RegistrySignal(SseSignal Signal) : INoSerializationVerificationNeeded;
}
