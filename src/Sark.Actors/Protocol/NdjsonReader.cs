using System.Buffers;
using System.IO.Pipelines;

namespace Sark.Actors.Protocol;

/// <summary>
/// Splits a byte stream into newline-delimited JSON-RPC messages with a hard size limit.
/// A line longer than the limit is never buffered whole: it is discarded as it streams past,
/// keeping only its first and last bytes to find the request id it answers.
/// </summary>
internal static class NdjsonReader
{
    private const int ProbeBytes = 4096;

    /// <summary>
    /// Reads until the stream ends (returns normally) or <paramref name="cancellationToken"/>
    /// fires. Each complete line is parsed and handed to <paramref name="onMessage"/>.
    /// </summary>
    public static async Task ReadAsync(
        Stream stream, int maxMessageBytes, Action<JsonRpcInbound> onMessage, CancellationToken cancellationToken)
    {
        var reader = PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: 64 * 1024, minimumReadSize: 16 * 1024));
        var oversized = new OversizedLine();
        try
        {
            while (true)
            {
                var read = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                var buffer = read.Buffer;
                var consumed = Process(ref buffer, maxMessageBytes, oversized, onMessage);
                if (read.IsCompleted)
                {
                    // A final line without a newline is still a message.
                    if (!buffer.IsEmpty && !oversized.Active)
                        Emit(buffer, onMessage);
                    reader.AdvanceTo(buffer.End);
                    return;
                }

                reader.AdvanceTo(consumed, buffer.End);
            }
        }
        finally
        {
            await reader.CompleteAsync().ConfigureAwait(false);
        }
    }

    private static SequencePosition Process(
        ref ReadOnlySequence<byte> buffer, int max, OversizedLine oversized, Action<JsonRpcInbound> onMessage)
    {
        while (true)
        {
            var newline = buffer.PositionOf((byte)'\n');
            if (newline is null)
            {
                if (oversized.Active)
                {
                    oversized.Feed(buffer);
                    buffer = buffer.Slice(buffer.End);
                }
                else if (buffer.Length > max)
                {
                    oversized.Start(buffer);
                    buffer = buffer.Slice(buffer.End);
                }

                return buffer.Start;
            }

            var line = buffer.Slice(0, newline.Value);
            buffer = buffer.Slice(buffer.GetPosition(1, newline.Value));
            if (oversized.Active)
            {
                oversized.Feed(line);
                onMessage(oversized.Finish());
            }
            else if (line.Length > max)
            {
                oversized.Start(line);
                onMessage(oversized.Finish());
            }
            else
            {
                Emit(line, onMessage);
            }
        }
    }

    private static void Emit(ReadOnlySequence<byte> line, Action<JsonRpcInbound> onMessage)
    {
        // Tolerate CRLF and blank lines.
        if (!line.IsEmpty && line.Slice(line.Length - 1).FirstSpan[0] == (byte)'\r')
            line = line.Slice(0, line.Length - 1);
        if (line.IsEmpty)
            return;
        onMessage(JsonRpcParser.Parse(line));
    }

    /// <summary>What is kept of a line being discarded: its head, a rolling tail and its length.</summary>
    private sealed class OversizedLine
    {
        private readonly byte[] _head = new byte[ProbeBytes];
        private readonly byte[] _tail = new byte[ProbeBytes];
        private int _headLength;
        private int _tailLength;
        private long _length;

        public bool Active { get; private set; }

        public void Start(ReadOnlySequence<byte> first)
        {
            Active = true;
            _length = 0;
            _tailLength = 0;
            _headLength = (int)Math.Min(ProbeBytes, first.Length);
            first.Slice(0, _headLength).CopyTo(_head);
            Feed(first);
        }

        public void Feed(ReadOnlySequence<byte> more)
        {
            _length += more.Length;
            if (more.Length >= ProbeBytes)
            {
                more.Slice(more.Length - ProbeBytes).CopyTo(_tail);
                _tailLength = ProbeBytes;
                return;
            }

            // Shift the rolling tail left and append.
            var keep = Math.Min(_tailLength, ProbeBytes - (int)more.Length);
            Buffer.BlockCopy(_tail, _tailLength - keep, _tail, 0, keep);
            more.CopyTo(_tail.AsSpan(keep));
            _tailLength = keep + (int)more.Length;
        }

        public JsonRpcInbound Finish()
        {
            Active = false;
            var (id, hasMethod) = JsonRpcParser.ProbeOversized(_head.AsSpan(0, _headLength), _tail.AsSpan(0, _tailLength));
            return new JsonRpcInbound.Oversized(id, hasMethod, _length);
        }
    }
}
