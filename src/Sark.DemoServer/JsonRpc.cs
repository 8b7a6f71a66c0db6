using System.Globalization;
using System.Text.Json;

namespace Sark.DemoServer;

/// <summary>The standard JSON-RPC 2.0 error codes used by the demo server.</summary>
internal static class JsonRpcErrorCodes
{
    public const int ParseError = -32700;
    public const int InvalidRequest = -32600;
    public const int MethodNotFound = -32601;
    public const int InvalidParams = -32602;
    public const int InternalError = -32603;
}

/// <summary>Thrown by a request handler to answer with a JSON-RPC error instead of a result.</summary>
internal sealed class JsonRpcException(int code, string message) : Exception(message)
{
    /// <summary>The JSON-RPC error code.</summary>
    public int Code { get; } = code;
}

/// <summary>
/// A JSON-RPC request id: either a string or a number (kept as its JSON text so that it
/// round-trips exactly). Usable as a dictionary key.
/// </summary>
internal readonly record struct RequestId(string Value, bool IsString)
{
    /// <summary>Reads an id; only strings and numbers are valid ids.</summary>
    public static bool TryParse(JsonElement element, out RequestId id)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.String:
                id = new RequestId(element.GetString()!, IsString: true);
                return true;
            case JsonValueKind.Number:
                id = new RequestId(element.GetRawText(), IsString: false);
                return true;
            default:
                id = default;
                return false;
        }
    }

    /// <summary>Writes the id as a JSON value.</summary>
    public void WriteTo(Utf8JsonWriter writer)
    {
        if (IsString)
        {
            writer.WriteStringValue(Value);
        }
        else
        {
            writer.WriteRawValue(Value, skipInputValidation: true);
        }
    }

    public override string ToString() =>
        IsString ? string.Create(CultureInfo.InvariantCulture, $"\"{Value}\"") : Value;
}

/// <summary>
/// The body of a successful JSON-RPC response (the value of its <c>result</c> member).
/// It is written straight into the output, so large results can be streamed.
/// </summary>
internal abstract class RpcResult
{
    /// <summary>The empty result <c>{}</c> (for <c>ping</c> and the like).</summary>
    public static RpcResult Empty { get; } = Create(static writer =>
    {
        writer.WriteStartObject();
        writer.WriteEndObject();
    });

    /// <summary>Wraps a delegate that writes the result value.</summary>
    public static RpcResult Create(Action<Utf8JsonWriter> write) => new DelegateResult(write);

    /// <summary>Writes exactly one JSON value. The writer may be flushed at any time.</summary>
    public abstract void WriteTo(Utf8JsonWriter writer);

    /// <summary>A result written by a delegate.</summary>
    private sealed class DelegateResult(Action<Utf8JsonWriter> write) : RpcResult
    {
        public override void WriteTo(Utf8JsonWriter writer) => write(writer);
    }
}

/// <summary>Receives the requests and notifications read by a <see cref="JsonRpcConnection"/>.</summary>
internal interface IJsonRpcHandler
{
    /// <summary>
    /// Handles a request. Throw <see cref="JsonRpcException"/> to answer with an error; when
    /// <paramref name="cancellationToken"/> is cancelled no response is sent at all.
    /// </summary>
    ValueTask<RpcResult> HandleRequestAsync(
        string method, JsonElement parameters, RequestId id, CancellationToken cancellationToken);

    /// <summary>Handles a notification, synchronously and in the order they were read.</summary>
    void HandleNotification(string method, JsonElement parameters);
}
