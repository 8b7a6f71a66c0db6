using System.Collections.Immutable;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Sark.Actors.Ops;

/// <summary>
/// The console's wire protocol: newline-delimited JSON frames over TCP, UTF-8, one object a line
/// (docs/operations.md lists them). The host speaks first with <c>hello</c>; the catalogue follows,
/// after <c>auth</c> when a token is required. A command is a <c>run</c> frame; its answer is
/// <c>table</c>/<c>row</c>/<c>line</c> frames and one <c>final</c> frame.
/// </summary>
public static class OpsFrames
{
    /// <summary>The protocol's version, in <c>hello</c>.</summary>
    public const int ProtocolVersion = 1;

    /// <summary>The largest frame a client may send.</summary>
    public const int MaxInboundFrame = 64 * 1024;

    public static JsonObject Hello(string node, bool authRequired) => new()
    {
        ["type"] = "hello",
        ["protocol"] = ProtocolVersion,
        ["node"] = node,
        ["version"] = typeof(OpsFrames).Assembly.GetName().Version?.ToString(3) ?? "0",
        ["auth_required"] = authRequired,
    };

    public static JsonObject Catalogue(IEnumerable<PaletteDefinition> palettes) => new()
    {
        ["type"] = "catalogue",
        ["palettes"] = new JsonArray([.. palettes.Select(p => (JsonNode?)p.ToJson())]),
    };

    public static JsonObject Table(string? id, ImmutableArray<string> columns) => new()
    {
        ["type"] = "table",
        ["id"] = id,
        ["columns"] = new JsonArray([.. columns.Select(c => (JsonNode?)JsonValue.Create(c))]),
    };

    public static JsonObject Row(string? id, JsonObject data) => new() { ["type"] = "row", ["id"] = id, ["data"] = data };

    public static JsonObject Line(string? id, string text) => new() { ["type"] = "line", ["id"] = id, ["text"] = text };

    public static JsonObject Ok(string? id, string? message) => new() { ["type"] = "final", ["id"] = id, ["ok"] = true, ["message"] = message };

    public static JsonObject Error(string? id, string code, string message) =>
        new() { ["type"] = "final", ["id"] = id, ["ok"] = false, ["code"] = code, ["message"] = message };

    /// <summary>A frame as bytes: compact JSON and a newline.</summary>
    public static byte[] Encode(JsonObject frame) => Encoding.UTF8.GetBytes(frame.ToJsonString() + "\n");

    /// <summary>Reads an inbound frame; null when it is not a JSON object with a string <c>type</c>.</summary>
    public static JsonObject? Decode(string line)
    {
        try
        {
            return JsonNode.Parse(line) is JsonObject o && o["type"] is JsonValue t && t.TryGetValue<string>(out _) ? o : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    public static string? Text(this JsonObject frame, string name) =>
        frame[name] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
}

/// <summary>
/// Cuts a byte stream into lines (frames), bounded: a line longer than the limit is an error,
/// never an unbounded buffer. Pure; one per connection.
/// </summary>
public sealed class FrameSplitter(int maxFrame = OpsFrames.MaxInboundFrame)
{
    private readonly List<byte> _pending = [];

    /// <summary>True after a frame exceeded the limit; the connection should end.</summary>
    public bool Overflowed { get; private set; }

    /// <summary>Adds bytes and returns the complete lines they finish (without the newline; a CR before it is dropped).</summary>
    public IReadOnlyList<string> Push(ReadOnlySpan<byte> data)
    {
        var lines = new List<string>();
        foreach (var b in data)
        {
            if (b == (byte)'\n')
            {
                var count = _pending.Count > 0 && _pending[^1] == (byte)'\r' ? _pending.Count - 1 : _pending.Count;
                var line = Encoding.UTF8.GetString([.. _pending.GetRange(0, count)]);
                _pending.Clear();
                if (line.Length > 0)
                    lines.Add(line);
                continue;
            }

            if (_pending.Count >= maxFrame)
            {
                Overflowed = true;
                _pending.Clear();
                return lines;
            }

            _pending.Add(b);
        }

        return lines;
    }
}
