using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Sark.DemoServer;

/// <summary>
/// Newline-delimited JSON-RPC 2.0 over a pair of streams. Reads lines one by one, runs each
/// request concurrently on the thread pool, routes responses to the requests this side sent,
/// and serializes every outgoing message (one writer at a time, one flush per line).
/// </summary>
internal sealed class JsonRpcConnection
{
    private static readonly byte[] GarbageLine = "this is not json\n"u8.ToArray();

    private readonly StreamReader _reader;
    private readonly OutputBuffer _output;
    private readonly Utf8JsonWriter _writer;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly bool _garbage;
    private readonly bool _silent;
    private readonly ConcurrentDictionary<RequestId, CancellationTokenSource> _inFlight = new();
    private readonly ConcurrentDictionary<string, TaskCompletionSource<JsonElement>> _pendingOutgoing = new();
    private long _nextOutgoingId;
    private int _pendingWork;
    private bool _outputBroken;

    /// <summary>Creates a connection over <paramref name="input"/> and <paramref name="output"/>.</summary>
    /// <param name="garbage">Write a non-JSON line before every message.</param>
    /// <param name="silent">Read everything but never answer.</param>
    public JsonRpcConnection(Stream input, Stream output, bool garbage, bool silent)
    {
        _reader = new StreamReader(input, new UTF8Encoding(false), detectEncodingFromByteOrderMarks: false, 1 << 16);
        _output = new OutputBuffer(output);
        _writer = new Utf8JsonWriter(_output, new JsonWriterOptions
        {
            Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        });
        _garbage = garbage;
        _silent = silent;
    }

    private volatile Task _inputGate = Task.CompletedTask;

    /// <summary>Stops processing input lines for <paramref name="duration"/>, as a hung server would.</summary>
    public void PauseInput(TimeSpan duration) => _inputGate = Task.Delay(duration);

    /// <summary>Reads and dispatches messages until the input reaches end of stream.</summary>
    public async Task RunAsync(IJsonRpcHandler handler, CancellationToken cancellationToken)
    {
        while (await _reader.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
        {
            if (_silent || string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            await _inputGate.ConfigureAwait(false);
            ProcessLine(line, handler);
        }
    }

    /// <summary>
    /// Waits until every request read so far has been answered (or dropped), for at most
    /// <paramref name="timeout"/>. Returns false when some were still running.
    /// </summary>
    public async Task<bool> WaitForPendingWorkAsync(TimeSpan timeout)
    {
        var start = Stopwatch.GetTimestamp();
        while (Volatile.Read(ref _pendingWork) > 0)
        {
            if (Stopwatch.GetElapsedTime(start) >= timeout)
            {
                return false;
            }

            await Task.Delay(5).ConfigureAwait(false);
        }

        return true;
    }

    /// <summary>
    /// Cancels the in-flight request <paramref name="id"/>; it will send no response.
    /// Returns false when no such request is running.
    /// </summary>
    public bool TryCancel(RequestId id)
    {
        if (!_inFlight.TryRemove(id, out var cancellation))
        {
            return false;
        }

        // The token flips synchronously; callbacks (and the request's continuation) run on the pool.
        _ = cancellation.CancelAsync();
        return true;
    }

    /// <summary>Sends a notification (a message without id).</summary>
    public Task SendNotificationAsync(string method) =>
        SendAsync(OutgoingMessage.ForNotification(method), CancellationToken.None);

    /// <summary>
    /// Sends a request to the other side (ids are <c>srv-1</c>, <c>srv-2</c>, …) and waits for its
    /// result. A JSON-RPC error answer throws <see cref="JsonRpcException"/>.
    /// </summary>
    public async Task<JsonElement> SendRequestAsync(string method, CancellationToken cancellationToken)
    {
        var id = "srv-" + Interlocked.Increment(ref _nextOutgoingId).ToString(CultureInfo.InvariantCulture);
        var response = new TaskCompletionSource<JsonElement>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pendingOutgoing[id] = response;
        try
        {
            await SendAsync(OutgoingMessage.ForRequest(id, method), CancellationToken.None).ConfigureAwait(false);
            return await response.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _pendingOutgoing.TryRemove(id, out _);
        }
    }

    private void ProcessLine(string line, IJsonRpcHandler handler)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(line);
        }
        catch (JsonException ex)
        {
            Log.Info($"parse error: {ex.Message}");
            SendInBackground(OutgoingMessage.ForError(null, JsonRpcErrorCodes.ParseError, "Parse error"));
            return;
        }

        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
        {
            document.Dispose();
            SendInvalidRequest(null, "message is not a JSON object");
            return;
        }

        var hasIdMember = root.TryGetProperty("id", out var idElement);
        var hasId = RequestId.TryParse(idElement, out var id);
        root.TryGetProperty("params", out var parameters);

        if (root.TryGetProperty("method", out var methodElement) && methodElement.ValueKind == JsonValueKind.String)
        {
            var method = methodElement.GetString()!;
            if (hasId)
            {
                StartRequest(handler, document, method, parameters, id);
                return;
            }

            using (document)
            {
                if (hasIdMember)
                {
                    SendInvalidRequest(null, "id must be a string or a number");
                    return;
                }

                DispatchNotification(handler, method, parameters);
            }

            return;
        }

        using (document)
        {
            if (hasIdMember && (root.TryGetProperty("result", out _) || root.TryGetProperty("error", out _)))
            {
                RouteResponse(root, idElement);
            }
            else
            {
                SendInvalidRequest(hasId ? id : null, "message has neither a method nor a result");
            }
        }
    }

    private void StartRequest(
        IJsonRpcHandler handler, JsonDocument document, string method, JsonElement parameters, RequestId id)
    {
        // Registered before the next line is read, so a cancellation that follows always finds it.
        var cancellation = new CancellationTokenSource();
        if (!_inFlight.TryAdd(id, cancellation))
        {
            Log.Info($"duplicate in-flight request id {id}; it cannot be cancelled");
        }

        Interlocked.Increment(ref _pendingWork);
        _ = Task.Run(() => RunRequestAsync(handler, document, method, parameters, id, cancellation));
    }

    private async Task RunRequestAsync(
        IJsonRpcHandler handler,
        JsonDocument document,
        string method,
        JsonElement parameters,
        RequestId id,
        CancellationTokenSource cancellation)
    {
        // The token source is never disposed: a concurrent TryCancel may still be using it,
        // and without timers or linked tokens it holds nothing that needs disposing.
        var token = cancellation.Token;
        try
        {
            var result = await handler.HandleRequestAsync(method, parameters, id, token).ConfigureAwait(false);
            await SendAsync(OutgoingMessage.ForResult(id, result), token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // Cancelled by the client: the MCP spec says no response is sent.
        }
        catch (JsonRpcException ex)
        {
            await SendAsync(OutgoingMessage.ForError(id, ex.Code, ex.Message), token).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Log.Info($"request {id} ({method}) failed: {ex}");
            await SendAsync(
                OutgoingMessage.ForError(id, JsonRpcErrorCodes.InternalError, "Internal error: " + ex.Message),
                token).ConfigureAwait(false);
        }
        finally
        {
            _inFlight.TryRemove(new KeyValuePair<RequestId, CancellationTokenSource>(id, cancellation));
            document.Dispose();
            Interlocked.Decrement(ref _pendingWork);
        }
    }

    private static void DispatchNotification(IJsonRpcHandler handler, string method, JsonElement parameters)
    {
        try
        {
            handler.HandleNotification(method, parameters);
        }
        catch (Exception ex)
        {
            Log.Info($"notification {method} failed: {ex}");
        }
    }

    private void RouteResponse(JsonElement root, JsonElement idElement)
    {
        var id = idElement.ValueKind == JsonValueKind.String ? idElement.GetString() : null;
        if (id is null || !_pendingOutgoing.TryRemove(id, out var pending))
        {
            Log.Info($"ignoring response with unknown id {idElement.GetRawText()}");
            return;
        }

        if (root.TryGetProperty("result", out var result))
        {
            pending.TrySetResult(result.Clone());
            return;
        }

        var error = root.GetProperty("error");
        var code = error.ValueKind == JsonValueKind.Object
            && error.TryGetProperty("code", out var codeElement)
            && codeElement.TryGetInt32(out var value) ? value : JsonRpcErrorCodes.InternalError;
        var message = error.ValueKind == JsonValueKind.Object
            && error.TryGetProperty("message", out var messageElement)
            && messageElement.ValueKind == JsonValueKind.String ? messageElement.GetString()! : "error";
        pending.TrySetException(new JsonRpcException(code, message));
    }

    private void SendInvalidRequest(RequestId? id, string reason)
    {
        Log.Info($"invalid request: {reason}");
        SendInBackground(OutgoingMessage.ForError(id, JsonRpcErrorCodes.InvalidRequest, "Invalid Request: " + reason));
    }

    private void SendInBackground(OutgoingMessage message)
    {
        Interlocked.Increment(ref _pendingWork);
        _ = SendThenCompleteAsync(message);
    }

    private async Task SendThenCompleteAsync(OutgoingMessage message)
    {
        try
        {
            await SendAsync(message, CancellationToken.None).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Decrement(ref _pendingWork);
        }
    }

    /// <summary>
    /// Writes one message as one line. A message whose <paramref name="cancellationToken"/> is
    /// cancelled by the time it gets the output is dropped. Output failures are logged, never thrown.
    /// </summary>
    private async Task SendAsync(OutgoingMessage message, CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            if (cancellationToken.IsCancellationRequested || _outputBroken)
            {
                return;
            }

            Write(message);
        }
        catch (IOException ex)
        {
            _outputBroken = true;
            Log.Info($"stdout is gone, dropping all further output: {ex.Message}");
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private void Write(OutgoingMessage message)
    {
        _output.Discard();
        if (_garbage)
        {
            _output.Write(GarbageLine);
        }

        var writer = _writer;
        writer.Reset();
        writer.WriteStartObject();
        writer.WriteString("jsonrpc"u8, "2.0"u8);
        if (message.Method is not null)
        {
            if (message.OutgoingId is not null)
            {
                writer.WriteString("id"u8, message.OutgoingId);
            }

            writer.WriteString("method"u8, message.Method);
        }
        else
        {
            writer.WritePropertyName("id"u8);
            if (message.Id is { } id)
            {
                id.WriteTo(writer);
            }
            else
            {
                writer.WriteNullValue();
            }

            if (message.Result is not null)
            {
                writer.WritePropertyName("result"u8);
                message.Result.WriteTo(writer);
            }
            else
            {
                writer.WriteStartObject("error"u8);
                writer.WriteNumber("code"u8, message.ErrorCode);
                writer.WriteString("message"u8, message.ErrorMessage);
                writer.WriteEndObject();
            }
        }

        writer.WriteEndObject();
        writer.Flush();
        _output.Write("\n"u8);
        _output.FlushToStream();
    }

    /// <summary>One outgoing message: a response (result or error), a notification or a request.</summary>
    private readonly record struct OutgoingMessage(
        RequestId? Id,
        RpcResult? Result,
        int ErrorCode,
        string? ErrorMessage,
        string? Method,
        string? OutgoingId)
    {
        public static OutgoingMessage ForResult(RequestId id, RpcResult result) =>
            new(id, result, 0, null, null, null);

        public static OutgoingMessage ForError(RequestId? id, int code, string message) =>
            new(id, null, code, message, null, null);

        public static OutgoingMessage ForNotification(string method) =>
            new(null, null, 0, null, method, null);

        public static OutgoingMessage ForRequest(string id, string method) =>
            new(null, null, 0, null, method, id);
    }

    /// <summary>
    /// A reusable buffer in front of the output stream. Once it holds more than
    /// <see cref="FlushThreshold"/> bytes it drains itself into the stream, so huge messages are
    /// streamed in chunks while small ones go out in a single write.
    /// </summary>
    private sealed class OutputBuffer(Stream stream) : IBufferWriter<byte>
    {
        private const int FlushThreshold = 1 << 16;
        private readonly ArrayBufferWriter<byte> _buffer = new(FlushThreshold);

        public void Advance(int count)
        {
            _buffer.Advance(count);
            if (_buffer.WrittenCount >= FlushThreshold)
            {
                Drain();
            }
        }

        public Memory<byte> GetMemory(int sizeHint = 0) => _buffer.GetMemory(sizeHint);

        public Span<byte> GetSpan(int sizeHint = 0) => _buffer.GetSpan(sizeHint);

        /// <summary>Drops whatever a failed write left behind.</summary>
        public void Discard() => _buffer.ResetWrittenCount();

        /// <summary>Writes everything buffered to the stream and flushes it.</summary>
        public void FlushToStream()
        {
            Drain();
            stream.Flush();
        }

        private void Drain()
        {
            if (_buffer.WrittenCount > 0)
            {
                stream.Write(_buffer.WrittenSpan);
                _buffer.ResetWrittenCount();
            }
        }
    }
}
