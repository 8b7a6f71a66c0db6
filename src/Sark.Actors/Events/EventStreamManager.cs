using System.Threading.Channels;
using Akka.Actor;
using Sark.Actors.Configuration;
using Sark.Actors.Errors;

namespace Sark.Actors.Events;

/// <summary>Everything one subscription needs: where, how, and who hears its state.</summary>
internal sealed record SubscriptionSpec(
    string Id, string Upstream, Uri Uri, HttpClient Http, SseSettings Settings, BackoffOptions Backoff, Action<SubscriptionState>? OnState)
    : INoSerializationVerificationNeeded;

/// <summary>
/// <c>/user/sark/streams</c>: one <see cref="EventSubscription"/> child per subscription, at most
/// <c>max-streams</c> (50 by default); the next is refused at once with <c>stream_limit_reached</c>.
/// Child ends (closed, failed) free their slot.
/// </summary>
internal sealed class EventStreamManager : UntypedActor
{
    private readonly int _maxStreams;
    private readonly Dictionary<string, IActorRef> _subscriptions = new(StringComparer.Ordinal);
    private readonly Dictionary<string, StreamEntry> _entries = new(StringComparer.Ordinal);

    public EventStreamManager(int maxStreams)
    {
        _maxStreams = maxStreams;
    }

    public static Props Props(int maxStreams) => Akka.Actor.Props.Create(() => new EventStreamManager(maxStreams));

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case Subscribe subscribe when _subscriptions.Count >= _maxStreams:
                Sender.Tell(new SubscribeRefused(new SarkError(SarkErrorCode.StreamLimitReached,
                    $"This node already holds {_subscriptions.Count} event subscriptions, its limit (sark.events.max-streams = {_maxStreams}). Close one first.")));
                break;
            case Subscribe subscribe:
                var child = Context.ActorOf(EventSubscription.Props(subscribe.Spec, subscribe.Channel), Uri.EscapeDataString(subscribe.Spec.Id));
                Context.Watch(child);
                _subscriptions[subscribe.Spec.Id] = child;
                _entries[subscribe.Spec.Id] = new StreamEntry(subscribe.Spec.Id, subscribe.Spec.Upstream, subscribe.Spec.Uri, child);
                Sender.Tell(new Subscribed(subscribe.Spec.Id));
                break;
            case Unsubscribe unsubscribe when _subscriptions.TryGetValue(unsubscribe.Id, out var subscription):
                subscription.Tell(Close.Instance);
                break;
            case Unsubscribe:
                break;
            case Terminated terminated:
                foreach (var (id, actor) in _subscriptions)
                {
                    if (actor.Equals(terminated.ActorRef))
                    {
                        _subscriptions.Remove(id);
                        _entries.Remove(id);
                        break;
                    }
                }

                break;
            case CountStreams:
                Sender.Tell(_subscriptions.Count);
                break;
            case ListStreams:
                Sender.Tell(new StreamList([.. _entries.Values], _maxStreams));
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    /// <summary>Start a subscription that writes into <see cref="Channel"/>. Replied to with <see cref="Subscribed"/> or <see cref="SubscribeRefused"/>.</summary>
    public sealed record Subscribe(SubscriptionSpec Spec, Channel<GatewayEvent> Channel) : INoSerializationVerificationNeeded;

    public sealed record Subscribed(string Id);

    public sealed record SubscribeRefused(SarkError Error) : INoSerializationVerificationNeeded;

    public sealed record Unsubscribe(string Id);

    /// <summary>Replied to with the number of subscriptions (an int).</summary>
    public sealed class CountStreams
    {
        public static readonly CountStreams Instance = new();
    }

    /// <summary>Replied to with <see cref="StreamList"/> (the ops console's <c>stream list</c>; ask each for <see cref="GetState"/>).</summary>
    public sealed class ListStreams
    {
        public static readonly ListStreams Instance = new();
    }

    public sealed record StreamEntry(string Id, string Upstream, Uri Uri, IActorRef Subscription);

    public sealed record StreamList(System.Collections.Immutable.ImmutableArray<StreamEntry> Streams, int MaxStreams);

    /// <summary>To a subscription: stop and complete the reader.</summary>
    public sealed class Close
    {
        public static readonly Close Instance = new();
    }

    /// <summary>To a subscription: replied to with <see cref="StateReply"/>.</summary>
    public sealed class GetState
    {
        public static readonly GetState Instance = new();
    }

    public sealed record StateReply(string Id, SubscriptionState State, string? LastEventId, string? LastError);
}
