using System.Buffers;
using System.Text.Json;

namespace Sark.Actors.Protocol;

/// <summary>A JSON-RPC error object as an upstream sent it.</summary>
public sealed record JsonRpcErrorInfo(int Code, string Message, JsonElement? Data);

/// <summary>One message read from an upstream, already parsed off the actor's thread.</summary>
internal abstract record JsonRpcInbound : Akka.Actor.INoSerializationVerificationNeeded
{
    /// <summary>A response to one of our requests. Our ids are numbers, so others are not ours.</summary>
    public sealed record Response(long? Id, JsonElement? Result, JsonRpcErrorInfo? Error) : JsonRpcInbound;

    /// <summary>A request from the server to us (ping, roots/list, ...). <see cref="Id"/> is echoed verbatim.</summary>
    public sealed record Request(JsonElement Id, string Method, JsonElement? Params) : JsonRpcInbound;

    public sealed record Notification(string Method, JsonElement? Params) : JsonRpcInbound;

    /// <summary>A line that is not a JSON-RPC message.</summary>
    public sealed record Invalid(string Reason) : JsonRpcInbound;

    /// <summary>
    /// A line longer than the limit; it was discarded. <see cref="Id"/> is the numeric id if it
    /// could be found; <see cref="HasMethod"/> says the line was a request or notification, not a response.
    /// </summary>
    public sealed record Oversized(long? Id, bool HasMethod, long Length) : JsonRpcInbound;
}

/// <summary>
/// Parses one JSON-RPC 2.0 line. The parsed values own their memory (no pooled document to
/// dispose), so they can travel in messages.
/// </summary>
internal static class JsonRpcParser
{
    public static JsonRpcInbound Parse(ReadOnlySequence<byte> line)
    {
        JsonElement root;
        try
        {
            var reader = new Utf8JsonReader(line, new JsonReaderOptions { MaxDepth = 128 });
            root = JsonElement.ParseValue(ref reader);
        }
        catch (JsonException ex)
        {
            return new JsonRpcInbound.Invalid($"not JSON: {ex.Message}");
        }

        if (root.ValueKind != JsonValueKind.Object)
            return new JsonRpcInbound.Invalid("not a JSON object");

        var hasId = root.TryGetProperty("id", out var id) && id.ValueKind != JsonValueKind.Null;
        if (root.TryGetProperty("method", out var method))
        {
            if (method.ValueKind != JsonValueKind.String)
                return new JsonRpcInbound.Invalid("'method' is not a string");
            JsonElement? parameters = root.TryGetProperty("params", out var p) ? p : null;
            return hasId
                ? new JsonRpcInbound.Request(id, method.GetString()!, parameters)
                : new JsonRpcInbound.Notification(method.GetString()!, parameters);
        }

        long? numericId = hasId && id.ValueKind == JsonValueKind.Number && id.TryGetInt64(out var n) ? n : null;
        if (root.TryGetProperty("error", out var error))
            return new JsonRpcInbound.Response(numericId, null, ParseError(error));
        if (root.TryGetProperty("result", out var result))
            return new JsonRpcInbound.Response(numericId, result, null);
        return new JsonRpcInbound.Invalid("neither a request, a notification nor a response");
    }

    private static JsonRpcErrorInfo ParseError(JsonElement error)
    {
        var code = error.TryGetProperty("code", out var c) && c.TryGetInt32(out var ci) ? ci : -32603;
        var message = error.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String
            ? m.GetString()!
            : "unknown error";
        JsonElement? data = error.TryGetProperty("data", out var d) ? d : null;
        return new JsonRpcErrorInfo(code, message, data);
    }

    /// <summary>
    /// Finds our numeric id in what was kept of an oversized line: first in its head (the
    /// top-level properties before the first one too large to skip), then in its tail (a
    /// trailing <c>"id":N}</c>, as most serializers write it last).
    /// </summary>
    /// <summary>
    /// What can be told of an oversized line from its head and tail: our id, and whether it is a
    /// request or notification (a top-level <c>method</c> before the first value too large to skip).
    /// </summary>
    public static (long? Id, bool HasMethod) ProbeOversized(ReadOnlySpan<byte> head, ReadOnlySpan<byte> tail) =>
        (FindIdInOversized(head, tail), HasTopLevelMethod(head));

    private static bool HasTopLevelMethod(ReadOnlySpan<byte> head)
    {
        var reader = new Utf8JsonReader(head, isFinalBlock: false, state: default);
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
                return false;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("method"u8))
                    return true;
                if (!reader.Read() || !reader.TrySkip())
                    return false;
            }
        }
        catch (JsonException)
        {
            // A prefix that does not parse says nothing either way.
        }

        return false;
    }

    public static long? FindIdInOversized(ReadOnlySpan<byte> head, ReadOnlySpan<byte> tail)
    {
        var reader = new Utf8JsonReader(head, isFinalBlock: false, state: default);
        try
        {
            if (reader.Read() && reader.TokenType == JsonTokenType.StartObject)
            {
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    var isId = reader.ValueTextEquals("id"u8);
                    if (!reader.Read())
                        break;
                    if (isId)
                        return reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var v) ? v : null;
                    if (!reader.TrySkip())
                        break;
                }
            }
        }
        catch (JsonException)
        {
            // The head is only a prefix; a parse error there just means we look at the tail.
        }

        var at = tail.LastIndexOf("\"id\""u8);
        if (at < 0)
            return null;
        var rest = tail[(at + 4)..].TrimStart(" \t"u8);
        if (rest.IsEmpty || rest[0] != (byte)':')
            return null;
        rest = rest[1..].TrimStart(" \t"u8);
        var len = 0;
        while (len < rest.Length && rest[len] is >= (byte)'0' and <= (byte)'9')
            len++;
        return len > 0 && System.Buffers.Text.Utf8Parser.TryParse(rest[..len], out long parsed, out _) ? parsed : null;
    }
}

/// <summary>Writes JSON-RPC messages as single NDJSON lines, reusing one buffer per owner.</summary>
internal sealed class JsonRpcWriter
{
    private readonly ArrayBufferWriter<byte> _buffer = new(1024);
    private readonly Utf8JsonWriter _writer;

    public JsonRpcWriter()
    {
        _writer = new Utf8JsonWriter(_buffer, new JsonWriterOptions { SkipValidation = true });
    }

    public byte[] Request(long id, string method, Action<Utf8JsonWriter>? writeParams)
    {
        Begin();
        _writer.WriteNumber("id"u8, id);
        _writer.WriteString("method"u8, method);
        if (writeParams is not null)
        {
            _writer.WritePropertyName("params"u8);
            writeParams(_writer);
        }

        return End();
    }

    public byte[] Notification(string method, Action<Utf8JsonWriter>? writeParams)
    {
        Begin();
        _writer.WriteString("method"u8, method);
        if (writeParams is not null)
        {
            _writer.WritePropertyName("params"u8);
            writeParams(_writer);
        }

        return End();
    }

    public byte[] Result(JsonElement id, Action<Utf8JsonWriter> writeResult)
    {
        Begin();
        _writer.WritePropertyName("id"u8);
        id.WriteTo(_writer);
        _writer.WritePropertyName("result"u8);
        writeResult(_writer);
        return End();
    }

    public byte[] Error(JsonElement id, int code, string message)
    {
        Begin();
        _writer.WritePropertyName("id"u8);
        id.WriteTo(_writer);
        _writer.WriteStartObject("error"u8);
        _writer.WriteNumber("code"u8, code);
        _writer.WriteString("message"u8, message);
        _writer.WriteEndObject();
        return End();
    }

    /// <summary>
    /// A <c>tools/call</c> request. Its <c>_meta</c> carries <paramref name="progressToken"/> (which
    /// asks for progress) and <paramref name="traceParent"/> (W3C trace context), when given.
    /// </summary>
    public byte[] CallTool(long id, string tool, JsonElement? arguments, string? traceParent = null, long? progressToken = null) =>
        Request(id, "tools/call", w =>
        {
            w.WriteStartObject();
            w.WriteString("name"u8, tool);
            if (progressToken is not null || traceParent is not null)
            {
                w.WriteStartObject("_meta"u8);
                if (progressToken is { } token)
                    w.WriteNumber("progressToken"u8, token);
                if (traceParent is not null)
                    w.WriteString("traceparent"u8, traceParent);
                w.WriteEndObject();
            }

            w.WritePropertyName("arguments"u8);
            if (arguments is { ValueKind: JsonValueKind.Object } args)
                args.WriteTo(w);
            else
            {
                w.WriteStartObject();
                w.WriteEndObject();
            }

            w.WriteEndObject();
        });

    private void Begin()
    {
        _buffer.ResetWrittenCount();
        _writer.Reset(_buffer);
        _writer.WriteStartObject();
        _writer.WriteString("jsonrpc"u8, "2.0");
    }

    private byte[] End()
    {
        _writer.WriteEndObject();
        _writer.Flush();
        var span = _buffer.WrittenSpan;
        var line = new byte[span.Length + 1];
        span.CopyTo(line);
        line[^1] = (byte)'\n';
        return line;
    }
}
