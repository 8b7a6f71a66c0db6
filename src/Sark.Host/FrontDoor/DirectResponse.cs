using Microsoft.AspNetCore.Http;

namespace Sark.Host.FrontDoor;

/// <summary>
/// The HTTP response of a <see cref="DirectToolCall"/> at <c>/mcp</c> while its call runs. The
/// SDK sends a call's headers before it runs the call, so that a client's timeout for the headers
/// (100 s in .NET's <c>HttpClient</c>) cannot run out on a long call; a direct call sends them with
/// its answer, one write for a call that finishes in time. One still running at a tick of the
/// front door's <see cref="KeepAliveTicker"/> (<c>sark.front-door.keep-alive</c>) gets its headers
/// then (200, <c>text/event-stream</c>, and the <paramref name="preamble"/> that the SDK writes first
/// on the stream), and a keep-alive comment at every tick after, as every SSE stream of the front
/// door does.
/// </summary>
internal sealed class DirectResponse(HttpContext context, ReadOnlyMemory<byte> preamble) : IKeepAlive
{
    private const int Idle = 0;
    private const int Ticking = 1;
    private const int Answering = 2;

    private int _state;
    private bool _started;
    private Task _tick = Task.CompletedTask;

    public Task TickQuietlyAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.CompareExchange(ref _state, Ticking, Idle) != Idle)
            return Task.CompletedTask;
        var tick = TickAsync(cancellationToken);
        Volatile.Write(ref _tick, tick);
        return tick;
    }

    /// <summary>
    /// Takes the response from the ticker (waiting for a tick being written) for the answer.
    /// Returns whether the headers have gone: then the status is 200 and the stream has begun.
    /// </summary>
    public async ValueTask<bool> BeginAnswerAsync()
    {
        while (Interlocked.CompareExchange(ref _state, Answering, Idle) != Idle)
        {
            var tick = Volatile.Read(ref _tick);
            if (tick.IsCompleted)
                await Task.Yield();
            else
                await tick.ConfigureAwait(false);
        }

        return _started;
    }

    private async Task TickAsync(CancellationToken cancellationToken)
    {
        try
        {
            if (!_started)
            {
                _started = true;
                SseResponse.Start(context);
                if (preamble.IsEmpty)
                    await context.Response.BodyWriter.FlushAsync(cancellationToken).ConfigureAwait(false);
                else
                    await context.Response.BodyWriter.WriteAsync(preamble, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await context.Response.BodyWriter.WriteAsync(KeepAliveStream.Comment, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or ObjectDisposedException or InvalidOperationException)
        {
            // The client went away: its request ends on its own.
        }
        finally
        {
            Volatile.Write(ref _state, Idle);
        }
    }
}
