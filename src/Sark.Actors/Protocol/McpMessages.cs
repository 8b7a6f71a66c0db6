using System.Text.Json;
using Sark.Actors.Configuration;

namespace Sark.Actors.Protocol;

/// <summary>
/// The MCP client messages and answers a connection writes, and what it reads out of the
/// handshake. Pure: no actor state, so the connection actors stay small.
/// </summary>
internal static class McpMessages
{
    public const string ProtocolVersion = "2025-06-18";

    /// <summary>The <c>initialize</c> params: our protocol version and client info. We offer no client capabilities.</summary>
    public static void InitializeParams(Utf8JsonWriter w) => WriteInitializeParams(w, relay: false);

    /// <summary>The <c>initialize</c> params offering <c>sampling</c> and <c>elicitation</c> (relayed to front-door clients).</summary>
    public static void InitializeParamsWithRelay(Utf8JsonWriter w) => WriteInitializeParams(w, relay: true);

    private static void WriteInitializeParams(Utf8JsonWriter w, bool relay)
    {
        w.WriteStartObject();
        w.WriteString("protocolVersion"u8, ProtocolVersion);
        w.WriteStartObject("capabilities"u8);
        if (relay)
        {
            w.WriteStartObject("sampling"u8);
            w.WriteEndObject();
            w.WriteStartObject("elicitation"u8);
            w.WriteEndObject();
        }

        w.WriteEndObject();
        w.WriteStartObject("clientInfo"u8);
        w.WriteString("name"u8, "sark-actors");
        w.WriteString("version"u8, "0.1.0");
        w.WriteEndObject();
        w.WriteEndObject();
    }

    public static Action<Utf8JsonWriter>? CursorParams(string? cursor) => cursor is null ? null : w =>
    {
        w.WriteStartObject();
        w.WriteString("cursor"u8, cursor);
        w.WriteEndObject();
    };

    public static Action<Utf8JsonWriter> CancelledParams(long requestId, string reason) => w =>
    {
        w.WriteStartObject();
        w.WriteNumber("requestId"u8, requestId);
        w.WriteString("reason"u8, reason);
        w.WriteEndObject();
    };

    /// <summary>Our answer to a request from the server: <c>ping</c> and <c>roots/list</c> are answered, the rest refused.</summary>
    public static byte[] AnswerServerRequest(JsonRpcWriter writer, JsonRpcInbound.Request request) => request.Method switch
    {
        "ping" => writer.Result(request.Id, static w =>
        {
            w.WriteStartObject();
            w.WriteEndObject();
        }),
        "roots/list" => writer.Result(request.Id, static w =>
        {
            w.WriteStartObject();
            w.WriteStartArray("roots"u8);
            w.WriteEndArray();
            w.WriteEndObject();
        }),
        _ => writer.Error(request.Id, -32601, $"Method not supported by the gateway: {request.Method}"),
    };

    /// <summary>The server as the catalog lists it, from the <c>initialize</c> result.</summary>
    public static ServerInfo ServerInfoFrom(UpstreamOptions options, JsonElement result, string transport, string url)
    {
        var info = result.ValueKind == JsonValueKind.Object && result.TryGetProperty("serverInfo", out var si) ? si : default;
        var name = Text(info, "name");
        var version = Text(info, "version");
        return new ServerInfo(
            ServerId: options.Name,
            ServerName: options.Name,
            ServerUrl: url,
            SensitivityLevel: "medium",
            AuthorizedTeams: [],
            HealthStatus: "healthy",
            ToolsCount: 0,
            Upstream: options.Name,
            Transport: transport,
            Description: Text(result, "instructions"),
            ServerVersion: name is null && version is null ? null : $"{name} {version}".Trim(),
            ProtocolVersion: Text(result, "protocolVersion"),
            UpdatedAt: DateTimeOffset.UtcNow);
    }

    /// <summary>
    /// Reads a <c>notifications/progress</c> whose token is one of our numeric ids (we send the
    /// JSON-RPC id of the call as its token); false for anything else.
    /// </summary>
    public static bool TryReadProgress(JsonElement? parameters, out long token, out ToolProgress progress)
    {
        token = 0;
        progress = null!;
        if (parameters is not { ValueKind: JsonValueKind.Object } p
            || !p.TryGetProperty("progressToken", out var t) || t.ValueKind != JsonValueKind.Number || !t.TryGetInt64(out token)
            || !p.TryGetProperty("progress", out var value) || value.ValueKind != JsonValueKind.Number)
            return false;
        double? total = p.TryGetProperty("total", out var tt) && tt.ValueKind == JsonValueKind.Number ? tt.GetDouble() : null;
        progress = new ToolProgress(value.GetDouble(), total, Text(p, "message"));
        return true;
    }

    /// <summary>Whether a <c>tools/call</c> result says the tool failed (<c>isError: true</c>).</summary>
    public static bool IsToolError(JsonElement result) =>
        result.ValueKind == JsonValueKind.Object && result.TryGetProperty("isError", out var e) && e.ValueKind == JsonValueKind.True;

    private static string? Text(JsonElement o, string name) =>
        o.ValueKind == JsonValueKind.Object && o.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
}
