using System.Collections.Concurrent;

namespace Sark.Host.FrontDoor;

/// <summary>
/// One timer for every open SSE stream of the front door (<c>sark.front-door.keep-alive</c>): each
/// period it ticks every registered <see cref="IKeepAlive"/>: a <see cref="KeepAliveStream"/> writes a
/// comment where the stream was quiet, a <see cref="DirectResponse"/> sends its headers. A stream costs a dictionary entry, not a timer of its own, so a
/// tool call's short response stream and thousands of idle sessions are both cheap.
/// </summary>
internal sealed class KeepAliveTicker : IAsyncDisposable
{
    private readonly ConcurrentDictionary<IKeepAlive, byte> _streams = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public KeepAliveTicker(TimeSpan period, TimeProvider? time = null) =>
        _loop = period > TimeSpan.Zero ? RunAsync(period, time ?? TimeProvider.System) : Task.CompletedTask;

    /// <summary>Streams registered now.</summary>
    public int Count => _streams.Count;

    /// <summary>Ticks <paramref name="stream"/> until the registration is disposed (close the stream first).</summary>
    public IDisposable Register(IKeepAlive stream)
    {
        _streams.TryAdd(stream, 0);
        return new Registration(this, stream);
    }

    private async Task RunAsync(TimeSpan period, TimeProvider time)
    {
        using var timer = new PeriodicTimer(period, time);
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false))
            {
                // Not awaited one by one: a client that reads slowly must not hold the others' comments.
                foreach (var stream in _streams.Keys)
                    _ = stream.TickQuietlyAsync(_stop.Token);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        _stop.Dispose();
    }

    private sealed class Registration(KeepAliveTicker ticker, IKeepAlive stream) : IDisposable
    {
        public void Dispose() => ticker._streams.TryRemove(stream, out _);
    }
}

/// <summary>Something the <see cref="KeepAliveTicker"/> ticks once a period.</summary>
internal interface IKeepAlive
{
    /// <summary>One period; never fails (a client that went away ends its request on its own).</summary>
    Task TickQuietlyAsync(CancellationToken cancellationToken);
}
