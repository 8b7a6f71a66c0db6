using System.Diagnostics.CodeAnalysis;
using System.Threading.Channels;

namespace Sark.Actors.Events;

/// <summary>
/// What <see cref="ISarkGateway.SubscribeAsync"/> returns: the reader of one subscription's
/// bounded channel, with its state. Reading slower than events arrive back-pressures the
/// stream (the node stops reading from the server until there is room). The reader completes
/// when the subscription is closed, and completes with a <see cref="Errors.SarkException"/> when
/// it failed (a 4xx, an oversized event). Dispose it to close the subscription.
/// </summary>
public sealed class EventSubscriptionReader : ChannelReader<GatewayEvent>, IAsyncDisposable
{
    private readonly ChannelReader<GatewayEvent> _inner;
    private readonly Func<ValueTask> _close;
    private int _state = (int)SubscriptionState.Connecting;

    internal EventSubscriptionReader(string id, ChannelReader<GatewayEvent> inner, Func<ValueTask> close)
    {
        Id = id;
        _inner = inner;
        _close = close;
    }

    /// <summary>The subscription's id (also the name of its actor under <c>/user/sark/streams</c>).</summary>
    public string Id { get; }

    /// <summary>The subscription's state now.</summary>
    public SubscriptionState State => (SubscriptionState)Volatile.Read(ref _state);

    /// <summary>Raised (on a stream thread) when the state changes.</summary>
    public event Action<SubscriptionState>? StateChanged;

    public override Task Completion => _inner.Completion;

    public override bool CanCount => _inner.CanCount;

    public override int Count => _inner.Count;

    public override bool TryRead([MaybeNullWhen(false)] out GatewayEvent item) => _inner.TryRead(out item);

    public override ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken = default) => _inner.WaitToReadAsync(cancellationToken);

    public override ValueTask<GatewayEvent> ReadAsync(CancellationToken cancellationToken = default) => _inner.ReadAsync(cancellationToken);

    public ValueTask DisposeAsync() => _close();

    internal void OnState(SubscriptionState state)
    {
        Volatile.Write(ref _state, (int)state);
        StateChanged?.Invoke(state);
    }
}
