namespace Sark.Host.FrontDoor;

/// <summary>
/// A response body that adds SSE comment lines (<c>: keep-alive</c>) when a stream has been quiet
/// for one period, so that proxies and load balancers do not cut an idle stream. Writes are
/// serialized with the comments, and a comment goes out only between two events (the SDK writes
/// each event in one call), so it never splits one.
/// </summary>
internal sealed class KeepAliveStream(Stream inner, Func<bool> isEventStream) : Stream, IKeepAlive
{
    internal static readonly byte[] Comment = ": keep-alive\n\n"u8.ToArray();

    private readonly SemaphoreSlim _lock = new(1, 1);
    private byte _last = (byte)'\n';
    private byte _beforeLast = (byte)'\n';
    private bool _wroteSinceTick;
    private bool _closed;

    /// <summary>Comments written so far.</summary>
    public int CommentsWritten { get; private set; }

    /// <summary>
    /// One period: a comment when the response is an event stream, nothing was written since the
    /// last tick, and the last write ended an event. Returns whether a comment went out.
    /// </summary>
    internal async Task<bool> TickAsync(CancellationToken cancellationToken)
    {
        if (_closed || !isEventStream())
            return false;
        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_closed || _wroteSinceTick || _last != '\n' || _beforeLast != '\n')
            {
                _wroteSinceTick = false;
                return false;
            }

            await inner.WriteAsync(Comment, cancellationToken).ConfigureAwait(false);
            await inner.FlushAsync(cancellationToken).ConfigureAwait(false);
            CommentsWritten++;
            return true;
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>
    /// One period of the <see cref="KeepAliveTicker"/>, which never fails: a client that went away
    /// ends its request on its own.
    /// </summary>
    public async Task TickQuietlyAsync(CancellationToken cancellationToken)
    {
        try
        {
            await TickAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or ObjectDisposedException or InvalidOperationException)
        {
        }
    }

    /// <summary>No comment is written from now on (the response is ending); waits for one being written.</summary>
    public async Task CloseAsync()
    {
        await _lock.WaitAsync().ConfigureAwait(false);
        try
        {
            _closed = true;
        }
        finally
        {
            _lock.Release();
        }
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await inner.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
            Track(buffer.Span);
        }
        finally
        {
            _lock.Release();
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count)
    {
        _lock.Wait();
        try
        {
            inner.Write(buffer, offset, count);
            Track(buffer.AsSpan(offset, count));
        }
        finally
        {
            _lock.Release();
        }
    }

    public override async Task FlushAsync(CancellationToken cancellationToken)
    {
        // Kestrel's body does not take a flush concurrent with a write: flushes queue with the comments too.
        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await inner.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _lock.Release();
        }
    }

    public override void Flush()
    {
        _lock.Wait();
        try
        {
            inner.Flush();
        }
        finally
        {
            _lock.Release();
        }
    }

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    private void Track(ReadOnlySpan<byte> written)
    {
        if (written.IsEmpty)
            return;
        _wroteSinceTick = true;
        _beforeLast = written.Length > 1 ? written[^2] : _last;
        _last = written[^1];
    }
}
