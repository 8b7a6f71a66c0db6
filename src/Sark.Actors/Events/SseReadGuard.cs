namespace Sark.Actors.Events;

/// <summary>
/// Wraps the body of an SSE response, under the parser, to enforce what the parser cannot:
/// <list type="bullet">
/// <item>a <b>read timeout</b>: no byte for <c>read-timeout</c> means a silent dead connection
/// (a half-open TCP connection sends nothing, not even a FIN). Any byte resets it, comments
/// included, so a server's keep-alive comments keep a quiet stream alive;</item>
/// <item>a <b>maximum event size</b>: the bytes since the last blank line (the end of an event)
/// may not exceed <c>max-event-size</c>, so a 10 MB event fails the read instead of being
/// buffered whole.</item>
/// </list>
/// </summary>
internal sealed class SseReadGuard(Stream inner, TimeSpan readTimeout, long maxEventBytes) : Stream
{
    private long _eventBytes;
    private int _newlines;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(readTimeout);
        int read;
        try
        {
            read = await inner.ReadAsync(buffer, timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new SseStreamException($"no data for {readTimeout.TotalSeconds:0.###}s (read-timeout); the connection is taken for dead", fatal: false);
        }

        Count(buffer.Span[..read]);
        return read;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("SSE bodies are read asynchronously.");

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
            inner.Dispose();
        base.Dispose(disposing);
    }

    /// <summary>Counts the bytes of the current event; a blank line ("\n\n", CRs ignored) ends it.</summary>
    private void Count(ReadOnlySpan<byte> data)
    {
        foreach (var b in data)
        {
            if (b == (byte)'\n')
            {
                if (++_newlines >= 2)
                    _eventBytes = 0;
                continue;
            }

            if (b != (byte)'\r')
                _newlines = 0;
            if (++_eventBytes > maxEventBytes)
                throw new SseStreamException($"an event is larger than {maxEventBytes} bytes (max-event-size)", fatal: true, Errors.SarkErrorCode.TooLarge);
        }
    }
}

/// <summary>
/// A subscription's stream failed. <see cref="Fatal"/> failures (a 4xx, an event over the size
/// limit, a body that is not an event stream) end the subscription as <c>failed</c>; the others
/// reconnect after the backoff.
/// </summary>
internal sealed class SseStreamException(string message, bool fatal, Errors.SarkErrorCode code = Errors.SarkErrorCode.UpstreamError, int? status = null)
    : Exception(message)
{
    public bool Fatal { get; } = fatal;

    public Errors.SarkErrorCode Code { get; } = code;

    public int? Status { get; } = status;
}
