using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Sark.DemoServer;

/// <summary>The MCP methods of the demo server: lifecycle, ping, logging and tools.</summary>
internal sealed class McpServer : IJsonRpcHandler
{
    private const string DefaultProtocolVersion = "2025-06-18";

    private const string Instructions =
        "Sark demo server for tests and benchmarks. Tools: echo, add, slow, fail, crash, large, noisy, "
        + "stats, ping_client, add_tool, env. Call stats to see what this process has served.";

    private static readonly string[] SupportedProtocolVersions = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];

    private readonly JsonRpcConnection _connection;
    private readonly ToolRegistry _tools;
    private readonly ServerStats _stats;
    private readonly int _pageSize;

    /// <summary>Creates the server; <paramref name="pageSize"/> is the <c>tools/list</c> page size.</summary>
    public McpServer(JsonRpcConnection connection, ToolRegistry tools, ServerStats stats, int pageSize)
    {
        _connection = connection;
        _tools = tools;
        _stats = stats;
        _pageSize = pageSize;
    }

    public ValueTask<RpcResult> HandleRequestAsync(
        string method, JsonElement parameters, RequestId id, CancellationToken cancellationToken) => method switch
    {
        "tools/call" => CallToolAsync(parameters, cancellationToken),
        "tools/list" => ValueTask.FromResult(ListTools(parameters)),
        "initialize" => ValueTask.FromResult(Initialize(parameters)),
        "ping" => ValueTask.FromResult(RpcResult.Empty),
        "logging/setLevel" => ValueTask.FromResult(RpcResult.Empty),
        _ => throw new JsonRpcException(JsonRpcErrorCodes.MethodNotFound, $"Method not found: {method}"),
    };

    public void HandleNotification(string method, JsonElement parameters)
    {
        switch (method)
        {
            case "notifications/initialized":
                break;
            case "notifications/cancelled":
                Cancel(parameters);
                break;
            default:
                Log.Info($"ignoring notification {method}");
                break;
        }
    }

    private void Cancel(JsonElement parameters)
    {
        if (parameters.ValueKind != JsonValueKind.Object
            || !parameters.TryGetProperty("requestId", out var idElement)
            || !RequestId.TryParse(idElement, out var id))
        {
            Log.Info("notifications/cancelled without a valid requestId");
            return;
        }

        if (_connection.TryCancel(id))
        {
            _stats.RecordCancellation(id);
            var reason = parameters.TryGetProperty("reason", out var r) && r.ValueKind == JsonValueKind.String
                ? r.GetString()
                : null;
            Log.Info($"cancelled request {id}: {reason ?? "(no reason)"}");
        }
        else
        {
            Log.Info($"cancellation of request {id} that is not in flight");
        }
    }

    private RpcResult Initialize(JsonElement parameters)
    {
        _stats.RecordInitialize();
        var requested = parameters.ValueKind == JsonValueKind.Object
            && parameters.TryGetProperty("protocolVersion", out var version)
            && version.ValueKind == JsonValueKind.String
                ? version.GetString()
                : null;
        var protocolVersion = Array.IndexOf(SupportedProtocolVersions, requested) >= 0
            ? requested!
            : DefaultProtocolVersion;

        return RpcResult.Create(writer =>
        {
            writer.WriteStartObject();
            writer.WriteString("protocolVersion"u8, protocolVersion);
            writer.WriteStartObject("capabilities"u8);
            writer.WriteStartObject("tools"u8);
            writer.WriteBoolean("listChanged"u8, true);
            writer.WriteEndObject();
            writer.WriteStartObject("logging"u8);
            writer.WriteEndObject();
            writer.WriteEndObject();
            writer.WriteStartObject("serverInfo"u8);
            writer.WriteString("name"u8, "sark-demo"u8);
            writer.WriteString("version"u8, "1.0.0"u8);
            writer.WriteEndObject();
            writer.WriteString("instructions"u8, Instructions);
            writer.WriteEndObject();
        });
    }

    private RpcResult ListTools(JsonElement parameters)
    {
        var tools = _tools.Snapshot();
        var offset = 0;
        if (parameters.ValueKind == JsonValueKind.Object
            && parameters.TryGetProperty("cursor", out var cursor)
            && cursor.ValueKind != JsonValueKind.Null)
        {
            if (cursor.ValueKind != JsonValueKind.String || !TryDecodeCursor(cursor.GetString()!, out offset)
                || offset >= tools.Count)
            {
                throw new JsonRpcException(JsonRpcErrorCodes.InvalidParams, "Invalid cursor");
            }
        }

        var end = Math.Min(tools.Count, offset + _pageSize);
        var nextCursor = end < tools.Count ? EncodeCursor(end) : null;
        return RpcResult.Create(writer =>
        {
            writer.WriteStartObject();
            writer.WriteStartArray("tools"u8);
            for (var i = offset; i < end; i++)
            {
                tools[i].WriteTo(writer);
            }

            writer.WriteEndArray();
            if (nextCursor is not null)
            {
                writer.WriteString("nextCursor"u8, nextCursor);
            }

            writer.WriteEndObject();
        });
    }

    private static string EncodeCursor(int offset) =>
        Convert.ToBase64String(Encoding.ASCII.GetBytes(offset.ToString(CultureInfo.InvariantCulture)));

    private static bool TryDecodeCursor(string cursor, out int offset)
    {
        Span<byte> bytes = stackalloc byte[16];
        offset = 0;
        return cursor.Length <= 24
            && Convert.TryFromBase64String(cursor, bytes, out var length)
            && int.TryParse(bytes[..length], NumberStyles.None, CultureInfo.InvariantCulture, out offset);
    }

    private async ValueTask<RpcResult> CallToolAsync(JsonElement parameters, CancellationToken cancellationToken)
    {
        if (parameters.ValueKind != JsonValueKind.Object
            || !parameters.TryGetProperty("name", out var nameElement)
            || nameElement.ValueKind != JsonValueKind.String)
        {
            throw new JsonRpcException(JsonRpcErrorCodes.InvalidParams, "Invalid params: 'name' (string) is required");
        }

        var name = nameElement.GetString()!;
        if (!_tools.TryGet(name, out var tool))
        {
            throw new JsonRpcException(JsonRpcErrorCodes.InvalidParams, $"Unknown tool: {name}");
        }

        parameters.TryGetProperty("arguments", out var arguments);
        if (arguments.ValueKind is not (JsonValueKind.Undefined or JsonValueKind.Null or JsonValueKind.Object))
        {
            throw new JsonRpcException(JsonRpcErrorCodes.InvalidParams, "Invalid params: 'arguments' must be an object");
        }

        _stats.RecordCall(name);
        try
        {
            return await tool.Handler(new ToolArguments(arguments), cancellationToken).ConfigureAwait(false);
        }
        catch (ToolArgumentException ex)
        {
            return ToolResult.Error($"Invalid arguments for tool {name}: {ex.Message}");
        }
    }
}
