using System.Threading.Channels;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;
using Sark.Actors;

namespace Sark.Host.FrontDoor;

/// <summary>
/// Relays an upstream call's progress to the downstream caller under the caller's own
/// <c>progressToken</c>. <see cref="Report"/> runs on a connection actor's (or the upstream
/// client's) thread, so it only writes to a small channel; one task sends the notifications in
/// order. When the channel is full the oldest update is dropped: progress is a hint, and the
/// newest says the most. Disposing waits (briefly) until what was reported is sent, so progress
/// goes out before the call's result.
/// </summary>
internal sealed class ProgressRelay : IProgress<ToolProgress>, IAsyncDisposable
{
    private const int Capacity = 32;
    private static readonly TimeSpan FlushTimeout = TimeSpan.FromSeconds(2);

    private readonly Channel<ToolProgress> _updates = Channel.CreateBounded<ToolProgress>(new BoundedChannelOptions(Capacity)
    {
        FullMode = BoundedChannelFullMode.DropOldest,
        SingleReader = true,
    });

    private readonly Task _pump;

    public ProgressRelay(McpServer session, ProgressToken token, CancellationToken cancellationToken)
    {
        _pump = PumpAsync(session, token, cancellationToken);
    }

    public void Report(ToolProgress value) => _updates.Writer.TryWrite(value);

    public async ValueTask DisposeAsync()
    {
        _updates.Writer.TryComplete();
        try
        {
            await _pump.WaitAsync(FlushTimeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // A stuck stream: the result does not wait for it any longer.
        }
    }

    private async Task PumpAsync(McpServer session, ProgressToken token, CancellationToken cancellationToken)
    {
        await Task.Yield();
        try
        {
            await foreach (var update in _updates.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                var value = new ProgressNotificationValue { Progress = (float)update.Progress, Total = (float?)update.Total, Message = update.Message };
                await session.NotifyProgressAsync(token, value, cancellationToken: cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception)
        {
            // Cancelled, or the caller's stream is gone: progress is best effort.
        }
    }
}
