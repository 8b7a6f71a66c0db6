using System.Text.Json;
using System.Text.Json.Nodes;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Sark.Cli;

/// <summary>
/// Prints a command's frames: a table by default (rows are collected and drawn at the end; a
/// following command prints each row as it comes), or with <c>--json</c> one JSON object a line
/// (each row's data, <c>{"line": ...}</c> for text, <c>{"error": {...}}</c> for a failure).
/// </summary>
internal sealed class Output(IAnsiConsole console, TextWriter stdout, bool json, bool follow)
{
    private static readonly JsonSerializerOptions JsonOptions = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly List<string> _columns = [];
    private readonly List<JsonObject> _rows = [];
    private bool _headerPrinted;

    /// <summary>A console for stdout that keeps long rows when the output is not a terminal.</summary>
    public static IAnsiConsole CreateConsole()
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Out) });
        if (Console.IsOutputRedirected)
            console.Profile.Width = 250;
        return console;
    }

    public void OnFrame(JsonObject frame)
    {
        switch (frame.Text("type"))
        {
            case "table":
                _columns.Clear();
                _columns.AddRange((frame["columns"]?.AsArray() ?? []).Select(c => c!.GetValue<string>()));
                break;
            case "row" when frame["data"] is JsonObject data:
                if (json)
                    WriteJson(data);
                else if (follow)
                    WriteFollowRow(data);
                else
                    _rows.Add(data);
                break;
            case "line":
                var text = frame.Text("text") ?? "";
                if (json)
                    WriteJson(new JsonObject { ["line"] = text });
                else
                    stdout.WriteLine(text);
                break;
        }
    }

    /// <summary>Prints what is left after the final frame; returns the exit code.</summary>
    public int OnFinal(JsonObject final, TextWriter stderr)
    {
        var ok = final["ok"]?.GetValue<bool>() == true;
        if (!json && _rows.Count > 0)
            console.Write(BuildTable());
        else if (!json && !follow && _columns.Count > 0 && ok)
            stdout.WriteLine("(no rows)");
        if (ok)
        {
            if (!json && final.Text("message") is { Length: > 0 } message)
                stdout.WriteLine(message);
            _rows.Clear();
            return 0;
        }

        var code = final.Text("code") ?? "error";
        var error = final.Text("message") ?? "";
        if (json)
            WriteJson(new JsonObject { ["error"] = new JsonObject { ["code"] = code, ["message"] = error } });
        stderr.WriteLine($"sark: {code}: {error}");
        _rows.Clear();
        return code == "cancelled" && follow ? 0 : ExitCodes.CommandFailed;
    }

    private Table BuildTable()
    {
        var table = new Table().Border(Console.IsOutputRedirected ? TableBorder.Ascii : TableBorder.Rounded);
        foreach (var column in _columns)
            table.AddColumn(new TableColumn(new Text(column, new Style(decoration: Decoration.Bold))));
        foreach (var row in _rows)
            table.AddRow(_columns.Select(c => (IRenderable)new Text(Cell(row[c]))).ToArray());
        return table;
    }

    private void WriteFollowRow(JsonObject data)
    {
        if (!_headerPrinted)
        {
            stdout.WriteLine(string.Join("  ", _columns));
            _headerPrinted = true;
        }

        stdout.WriteLine(string.Join("  ", _columns.Select(c => Cell(data[c]))));
        stdout.Flush();
    }

    private void WriteJson(JsonNode node)
    {
        stdout.WriteLine(node.ToJsonString(JsonOptions));
        stdout.Flush();
    }

    /// <summary>A value as a table cell: text as it is, null as "-", anything else as compact JSON.</summary>
    internal static string Cell(JsonNode? value) => value switch
    {
        null => "-",
        JsonValue v when v.TryGetValue<string>(out var s) => s,
        _ => value.ToJsonString(),
    };
}

internal static class ExitCodes
{
    public const int Ok = 0;
    public const int CommandFailed = 1;
    public const int Usage = 2;
    public const int Unreachable = 3;
}
