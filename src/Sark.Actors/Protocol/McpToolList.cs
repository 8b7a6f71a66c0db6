using System.Collections.Immutable;
using System.Text.Json;

namespace Sark.Actors.Protocol;

/// <summary>
/// Collects <c>tools/list</c> pages (cursor / nextCursor) into one list, with a max-pages
/// guard and a guard against a server that repeats a cursor. Pure.
/// </summary>
internal sealed class McpToolList(string server, int maxPages)
{
    private readonly ImmutableArray<ToolInfo>.Builder _tools = ImmutableArray.CreateBuilder<ToolInfo>();
    private readonly HashSet<string> _cursors = new(StringComparer.Ordinal);
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private int _pages;

    /// <summary>The outcome of one page: the next cursor to ask for, the full list, or a failure.</summary>
    public readonly record struct Step(string? NextCursor, ImmutableArray<ToolInfo>? Tools, string? Error);

    public Step AddPage(JsonElement result)
    {
        _pages++;
        if (result.ValueKind != JsonValueKind.Object || !result.TryGetProperty("tools", out var tools) || tools.ValueKind != JsonValueKind.Array)
            return new Step(null, null, "tools/list result has no 'tools' array");

        foreach (var tool in tools.EnumerateArray())
        {
            if (ParseTool(tool) is { } info && _names.Add(info.ToolName))
                _tools.Add(info);
        }

        var next = result.TryGetProperty("nextCursor", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString() : null;
        if (string.IsNullOrEmpty(next))
            return new Step(null, _tools.ToImmutable(), null);
        if (!_cursors.Add(next))
            return new Step(null, null, $"tools/list repeated the cursor '{next}'; stopped paging");
        if (_pages >= maxPages)
            return new Step(null, null, $"tools/list has more than {maxPages} pages (max-list-pages)");
        return new Step(next, null, null);
    }

    private ToolInfo? ParseTool(JsonElement tool)
    {
        if (tool.ValueKind != JsonValueKind.Object || !tool.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.String)
            return null;
        var description = tool.TryGetProperty("description", out var d) && d.ValueKind == JsonValueKind.String ? d.GetString()! : string.Empty;
        JsonElement? schema = tool.TryGetProperty("inputSchema", out var s) && s.ValueKind == JsonValueKind.Object ? s : null;
        return new ToolInfo(
            ToolName: name.GetString()!,
            ServerName: server,
            Description: description,
            SensitivityLevel: "medium",
            Parameters: ParametersOf(schema),
            SensitiveParams: [],
            RequiredCapabilities: [],
            InputSchema: schema);
    }

    private static ImmutableArray<ToolParameter> ParametersOf(JsonElement? schema)
    {
        if (schema is not { } s || !s.TryGetProperty("properties", out var props) || props.ValueKind != JsonValueKind.Object)
            return [];
        var required = new HashSet<string>(StringComparer.Ordinal);
        if (s.TryGetProperty("required", out var req) && req.ValueKind == JsonValueKind.Array)
        {
            foreach (var r in req.EnumerateArray())
            {
                if (r.ValueKind == JsonValueKind.String)
                    required.Add(r.GetString()!);
            }
        }

        var builder = ImmutableArray.CreateBuilder<ToolParameter>();
        foreach (var p in props.EnumerateObject())
        {
            var type = p.Value.ValueKind == JsonValueKind.Object && p.Value.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String
                ? t.GetString()!
                : "any";
            var description = p.Value.ValueKind == JsonValueKind.Object && p.Value.TryGetProperty("description", out var pd) && pd.ValueKind == JsonValueKind.String
                ? pd.GetString()
                : null;
            builder.Add(new ToolParameter(p.Name, type, required.Contains(p.Name), description));
        }

        return builder.ToImmutable();
    }
}
