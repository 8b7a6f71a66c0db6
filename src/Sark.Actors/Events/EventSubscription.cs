using System.Threading.Channels;
using Akka;
using Akka.Actor;
using Akka.Event;
using Akka.Streams;
using Akka.Streams.Dsl;
using Sark.Actors.Errors;
using Sark.Actors.Telemetry;

namespace Sark.Actors.Events;

/// <summary>
/// One SSE subscription (child of <see cref="EventStreamManager"/>): a RestartSource over
/// <see cref="SseConnection"/> (backoff 1 s doubling to 60 s with jitter, by default) that writes
/// events into a bounded channel, whose reader the subscriber holds. A full channel
/// back-pressures the stream, and so the HTTP read. The actor sees only state changes:
/// <code>
/// connecting ──Connected──▶ connected ──end / error──▶ reconnecting ──Connected──▶ connected
///      └──────────────4xx, oversized event──────────────▶ failed (reader completes with the error)
/// Close, or the subscriber disposes ──▶ closed (reader completes)
/// </code>
/// </summary>
internal sealed class EventSubscription : UntypedActor
{
    private readonly SubscriptionSpec _spec;
    private readonly Channel<GatewayEvent> _channel;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly SseCursor _cursor = new();
    private readonly CancellationTokenSource _stopping = new();
    private UniqueKillSwitch? _killSwitch;
    private SubscriptionState _state = SubscriptionState.Connecting;
    private SarkError? _failure;
    private bool _closing;

    public EventSubscription(SubscriptionSpec spec, Channel<GatewayEvent> channel)
    {
        _spec = spec;
        _channel = channel;
    }

    public static Props Props(SubscriptionSpec spec, Channel<GatewayEvent> channel) =>
        Akka.Actor.Props.Create(() => new EventSubscription(spec, channel));

    protected override void PreStart()
    {
        SarkTelemetry.SseStreamsActive.Add(1);
        var self = Self;
        var writer = _channel.Writer;
        var spec = _spec;
        var cursor = _cursor;
        var token = _stopping.Token;
        var settings = RestartSettings.Create(spec.Backoff.Min, spec.Backoff.Max, spec.Backoff.RandomFactor);
        var (killSwitch, done) = RestartSource
            .WithBackoff(() => Source.From(() => SseConnection.ReadAsync(spec.Http, spec.Uri, cursor, spec.Settings, token)), settings)
            .ViaMaterialized(KillSwitches.Single<SseSignal>(), Keep.Right)
            .TakeWhile(signal => signal is not SseSignal.Fatal, inclusive: true)
            .SelectAsync(1, async signal =>
            {
                if (signal is SseSignal.Event e)
                {
                    try
                    {
                        await writer.WriteAsync(e.Value, token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException) when (token.IsCancellationRequested)
                    {
                        // Closed while the subscriber was not reading: the event has nowhere to go.
                    }
                }
                else
                {
                    self.Tell(signal);
                }

                return NotUsed.Instance;
            })
            .ToMaterialized(Sink.Ignore<NotUsed>(), Keep.Both)
            .Run(Context.Materializer());
        _killSwitch = killSwitch;
        done.PipeTo(self, success: () => StreamEnded.Instance, failure: ex => new StreamFailed(ex));
    }

    protected override void PostStop()
    {
        _killSwitch?.Shutdown();
        _stopping.Cancel();
        _stopping.Dispose();
        if (_failure is not null)
            _channel.Writer.TryComplete(_failure.ToException(null));
        else
            _channel.Writer.TryComplete();
        SarkTelemetry.SseStreamsActive.Add(-1);
    }

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case SseSignal.Connected:
                if (_state == SubscriptionState.Reconnecting)
                    SarkTelemetry.SseReconnects.Add(1);
                Become(SubscriptionState.Connected, null);
                break;
            case SseSignal.Ended:
                Become(SubscriptionState.Reconnecting, "the server ended the stream");
                break;
            case SseSignal.Dropped dropped:
                Become(SubscriptionState.Reconnecting, dropped.Reason);
                break;
            case SseSignal.Fatal fatal:
                _failure = fatal.Error;
                Become(SubscriptionState.Failed, fatal.Error.Message);
                break;
            case StreamEnded when _failure is not null:
                Context.Stop(Self);
                break;
            case StreamEnded:
                Become(SubscriptionState.Closed, null);
                Context.Stop(Self);
                break;
            case StreamFailed when _closing:
                Become(SubscriptionState.Closed, null);
                Context.Stop(Self);
                break;
            case StreamFailed failed:
                _failure ??= new SarkError(SarkErrorCode.UpstreamError, $"The subscription to {_spec.Uri.AbsolutePath} failed: {failed.Cause.Message}");
                Become(SubscriptionState.Failed, _failure.Message);
                Context.Stop(Self);
                break;
            case EventStreamManager.Close:
                // Cancelling also frees a write waiting on a full channel nobody reads any more.
                _closing = true;
                _killSwitch?.Shutdown();
                _stopping.Cancel();
                break;
            case EventStreamManager.GetState:
                Sender.Tell(new EventStreamManager.StateReply(_spec.Id, _state, _cursor.LastEventId, _failure?.Message));
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    private void Become(SubscriptionState next, string? reason)
    {
        if (next == _state)
            return;
        _log.Info("Subscription {Id} to {Upstream}{Path}: {From} -> {To}{Reason}",
            _spec.Id, _spec.Upstream, _spec.Uri.AbsolutePath, _state, next, reason is null ? "" : $" ({reason})");
        _state = next;
        _spec.OnState?.Invoke(next);
    }

    private sealed class StreamEnded
    {
        public static readonly StreamEnded Instance = new();
    }

    private sealed record StreamFailed(Exception Cause);
}
