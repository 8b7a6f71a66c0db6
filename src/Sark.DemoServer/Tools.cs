using System.Globalization;
using System.Text.Json;

namespace Sark.DemoServer;

/// <summary>Runs a tool with its arguments.</summary>
internal delegate ValueTask<ToolResult> ToolHandler(ToolArguments arguments, CancellationToken cancellationToken);

/// <summary>A tool: its name, one-line description, JSON Schema of its input and its handler.</summary>
internal sealed class ToolDefinition
{
    /// <summary>Creates a tool; <paramref name="inputSchemaJson"/> must be a JSON object.</summary>
    public ToolDefinition(string name, string description, string inputSchemaJson, ToolHandler handler)
    {
        Name = name;
        Description = description;
        using var schema = JsonDocument.Parse(inputSchemaJson);
        InputSchema = schema.RootElement.Clone();
        Handler = handler;
    }

    /// <summary>The tool name.</summary>
    public string Name { get; }

    /// <summary>A one-line description.</summary>
    public string Description { get; }

    /// <summary>The JSON Schema of the arguments.</summary>
    public JsonElement InputSchema { get; }

    /// <summary>Runs the tool.</summary>
    public ToolHandler Handler { get; }

    /// <summary>Writes the tool as an entry of <c>tools/list</c>.</summary>
    public void WriteTo(Utf8JsonWriter writer)
    {
        writer.WriteStartObject();
        writer.WriteString("name"u8, Name);
        writer.WriteString("description"u8, Description);
        writer.WritePropertyName("inputSchema"u8);
        InputSchema.WriteTo(writer);
        writer.WriteEndObject();
    }
}

/// <summary>The thread-safe, ordered list of tools (built-in ones first, then those added at runtime).</summary>
internal sealed class ToolRegistry
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, ToolDefinition> _byName = new(StringComparer.Ordinal);
    private ToolDefinition[] _ordered = [];

    /// <summary>Adds a tool; false when one with that name exists already.</summary>
    public bool TryAdd(ToolDefinition tool)
    {
        lock (_lock)
        {
            if (!_byName.TryAdd(tool.Name, tool))
            {
                return false;
            }

            _ordered = [.. _ordered, tool];
            return true;
        }
    }

    /// <summary>Finds a tool by name.</summary>
    public bool TryGet(string name, out ToolDefinition tool)
    {
        lock (_lock)
        {
            return _byName.TryGetValue(name, out tool!);
        }
    }

    /// <summary>An immutable snapshot of all tools in order.</summary>
    public IReadOnlyList<ToolDefinition> Snapshot() => Volatile.Read(ref _ordered);
}

/// <summary>Thrown when a tool's arguments are invalid; reported as a tool result with <c>isError</c>.</summary>
internal sealed class ToolArgumentException(string message) : Exception(message);

/// <summary>Typed, validating access to the <c>arguments</c> object of a <c>tools/call</c>.</summary>
internal readonly struct ToolArguments(JsonElement arguments)
{
    /// <summary>The arguments exactly as received (<c>{}</c> when the request had none).</summary>
    public string Raw => arguments.ValueKind == JsonValueKind.Undefined ? "{}" : arguments.GetRawText();

    /// <summary>A required string argument.</summary>
    public string RequireString(string name) =>
        GetString(name) ?? throw new ToolArgumentException($"missing required argument '{name}' (string)");

    /// <summary>An optional string argument (absent or null gives null).</summary>
    public string? GetString(string name)
    {
        if (!TryGet(name, out var value))
        {
            return null;
        }

        return value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : throw new ToolArgumentException($"argument '{name}' must be a string, got {Describe(value)}");
    }

    /// <summary>An optional boolean argument (absent or null gives false).</summary>
    public bool GetBoolean(string name)
    {
        if (!TryGet(name, out var value))
        {
            return false;
        }

        return value.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw new ToolArgumentException($"argument '{name}' must be a boolean, got {Describe(value)}"),
        };
    }

    /// <summary>A required number argument.</summary>
    public JsonElement RequireNumber(string name)
    {
        if (!TryGet(name, out var value))
        {
            throw new ToolArgumentException($"missing required argument '{name}' (number)");
        }

        return value.ValueKind == JsonValueKind.Number
            ? value
            : throw new ToolArgumentException($"argument '{name}' must be a number, got {Describe(value)}");
    }

    /// <summary>An optional integer argument within [<paramref name="minimum"/>, <paramref name="maximum"/>].</summary>
    public int GetInt32(string name, int defaultValue, int minimum = int.MinValue, int maximum = int.MaxValue)
    {
        if (!TryGet(name, out var value))
        {
            return defaultValue;
        }

        return ReadInt32(name, value, minimum, maximum);
    }

    /// <summary>A required integer argument within [<paramref name="minimum"/>, <paramref name="maximum"/>].</summary>
    public int RequireInt32(string name, int minimum = int.MinValue, int maximum = int.MaxValue)
    {
        if (!TryGet(name, out var value))
        {
            throw new ToolArgumentException($"missing required argument '{name}' (integer)");
        }

        return ReadInt32(name, value, minimum, maximum);
    }

    private static int ReadInt32(string name, JsonElement value, int minimum, int maximum)
    {
        // 1000 and 1000.0 are both integers in JSON Schema.
        if (value.ValueKind != JsonValueKind.Number
            || !value.TryGetDouble(out var number)
            || number != Math.Floor(number))
        {
            throw new ToolArgumentException($"argument '{name}' must be an integer, got {Describe(value)}");
        }

        if (number < minimum || number > maximum)
        {
            throw new ToolArgumentException(string.Create(
                CultureInfo.InvariantCulture,
                $"argument '{name}' must be between {minimum} and {maximum}, got {value.GetRawText()}"));
        }

        return (int)number;
    }

    private bool TryGet(string name, out JsonElement value)
    {
        if (arguments.ValueKind == JsonValueKind.Object
            && arguments.TryGetProperty(name, out value)
            && value.ValueKind != JsonValueKind.Null)
        {
            return true;
        }

        value = default;
        return false;
    }

    private static string Describe(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Array => "an array",
        JsonValueKind.Object => "an object",
        _ => "null",
    };
}

/// <summary>
/// A <c>tools/call</c> result: <c>{"content":[{"type":"text","text":…}],"isError":…}</c>.
/// The text is either a string or a run of one repeated ASCII byte, which is streamed.
/// </summary>
internal sealed class ToolResult : RpcResult
{
    private const int SegmentLength = 1 << 14;
    private static readonly byte[] FillSegment = CreateFillSegment();

    private readonly string? _text;
    private readonly long _repeatCount;
    private readonly bool _isError;

    private ToolResult(string? text, long repeatCount, bool isError)
    {
        _text = text;
        _repeatCount = repeatCount;
        _isError = isError;
    }

    /// <summary>A successful result with one text content.</summary>
    public static ToolResult Text(string text) => new(text, 0, isError: false);

    /// <summary>A failed result (<c>isError: true</c>) with one text content.</summary>
    public static ToolResult Error(string text) => new(text, 0, isError: true);

    /// <summary>A successful result whose text is <paramref name="length"/> times <c>x</c>.</summary>
    public static ToolResult Filler(long length) => new(null, length, isError: false);

    public override void WriteTo(Utf8JsonWriter writer)
    {
        writer.WriteStartObject();
        writer.WriteStartArray("content"u8);
        writer.WriteStartObject();
        writer.WriteString("type"u8, "text"u8);
        writer.WritePropertyName("text"u8);
        if (_text is not null)
        {
            writer.WriteStringValue(_text);
        }
        else
        {
            WriteFiller(writer, _repeatCount);
        }

        writer.WriteEndObject();
        writer.WriteEndArray();
        writer.WriteBoolean("isError"u8, _isError);
        writer.WriteEndObject();
    }

    private static void WriteFiller(Utf8JsonWriter writer, long length)
    {
        var remaining = length;
        do
        {
            var segment = (int)Math.Min(remaining, SegmentLength);
            remaining -= segment;
            writer.WriteStringValueSegment(FillSegment.AsSpan(0, segment), isFinalSegment: remaining == 0);

            // Hands the bytes to the output, which drains them into the stream in chunks.
            writer.Flush();
        }
        while (remaining > 0);
    }

    private static byte[] CreateFillSegment()
    {
        var segment = new byte[SegmentLength];
        segment.AsSpan().Fill((byte)'x');
        return segment;
    }
}
