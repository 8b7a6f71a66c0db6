using System.Text.Json.Nodes;
using Akka.Actor;
using Akka.Event;
using Akka.IO;

namespace Sark.Actors.Ops;

/// <summary>
/// The session's writes: one Akka.IO write in flight at a time, acknowledged; frames that come
/// meanwhile wait in a queue of at most 8 MiB (a client that does not read is disconnected), and
/// go out together on the next acknowledgement. A close waits for the queue to drain.
/// </summary>
internal sealed partial class OpsSession
{
    private const long MaxQueuedBytes = 8 * 1024 * 1024;

    private readonly Queue<byte[]> _outbox = new();
    private long _queuedBytes;
    private bool _writing;
    private bool _closing;

    private sealed class Ack : Tcp.Event
    {
        public static readonly Ack Instance = new();
    }

    private void Send(JsonObject frame)
    {
        var bytes = OpsFrames.Encode(frame);
        if (!_writing)
        {
            _writing = true;
            _connection.Tell(Tcp.Write.Create(ByteString.FromBytes(bytes), Ack.Instance));
            return;
        }

        _queuedBytes += bytes.Length;
        if (_queuedBytes > MaxQueuedBytes)
        {
            _log.Warning("Ops console: the client at {Remote} does not read its output; closing the session", _remote);
            _connection.Tell(Tcp.Abort.Instance);
            Context.Stop(Self);
            return;
        }

        _outbox.Enqueue(bytes);
    }

    private void OnAck()
    {
        if (_outbox.Count == 0)
        {
            _writing = false;
            if (_closing)
                _connection.Tell(Tcp.Close.Instance);
            return;
        }

        var batch = new List<byte>((int)Math.Min(_queuedBytes, int.MaxValue));
        while (_outbox.TryDequeue(out var next))
            batch.AddRange(next);
        _queuedBytes = 0;
        _connection.Tell(Tcp.Write.Create(ByteString.FromBytes([.. batch]), Ack.Instance));
    }

    private void Close()
    {
        _closing = true;
        if (!_writing)
            _connection.Tell(Tcp.Close.Instance);
    }
}
