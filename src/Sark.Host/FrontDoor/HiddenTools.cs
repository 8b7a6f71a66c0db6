using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Text;
using Microsoft.Extensions.Logging;
using Sark.Actors.Telemetry;

namespace Sark.Host.FrontDoor;

/// <summary>What a front-door listing left out for its name.</summary>
internal enum HiddenKind
{
    /// <summary>A tool, left out of <c>tools/list</c>.</summary>
    Tool,

    /// <summary>A prompt, left out of <c>prompts/list</c> at <c>/mcp</c> (its front-door name follows the tool-name rules).</summary>
    Prompt,
}

/// <summary>
/// Tools that <c>tools/list</c> and prompts that <c>prompts/list</c> leave out because their name
/// does not fit MCP's tool-name rules (<see cref="ToolNames"/>): each (kind, server, name) is
/// logged at Warning and counted (<c>sark.frontdoor.tools.hidden</c> or
/// <c>sark.frontdoor.prompts.hidden</c>, by server) the first time a listing meets it, so that a
/// listing storm writes nothing more. Called only for the items left out, never for a listed one.
/// Thread-safe; the memory of reported items is cleared past <see cref="MaxRemembered"/>, after
/// which an item still hidden is reported once more.
/// </summary>
internal sealed class HiddenTools(ToolNames names, ILogger<HiddenTools> logger)
{
    /// <summary>(kind, server, name) triples remembered as reported, at most.</summary>
    internal const int MaxRemembered = 10_000;

    /// <summary>Characters of a tool name shown in the log, at most.</summary>
    internal const int ShownLength = 160;

    internal static readonly Counter<long> Hidden = SarkTelemetry.Meter.CreateCounter<long>(
        "sark.frontdoor.tools.hidden", "{tool}",
        "Tools left out of the front door's tools/list because their name does not fit MCP's tool-name rules, counted once per server and tool, by server.");

    internal static readonly Counter<long> HiddenPrompts = SarkTelemetry.Meter.CreateCounter<long>(
        "sark.frontdoor.prompts.hidden", "{prompt}",
        "Prompts left out of the front door's prompts/list at /mcp because their front-door name does not fit MCP's tool-name rules, counted once per server and prompt, by server.");

    private static readonly Action<ILogger, string, int, string, string, Exception?> LogHidden = LoggerMessage.Define<string, int, string, string>(
        LogLevel.Warning, new EventId(705, "ToolHidden"),
        "Front door: tool {Tool} ({Length} characters) of server {Server} is left out of tools/list: {Reason}. Logged once per server and tool");

    private static readonly Action<ILogger, string, int, string, string, Exception?> LogHiddenPrompt = LoggerMessage.Define<string, int, string, string>(
        LogLevel.Warning, new EventId(706, "PromptHidden"),
        "Front door: prompt {Prompt} ({Length} characters) of server {Server} is left out of prompts/list: {Reason}. Logged once per server and prompt");

    private readonly ConcurrentDictionary<(HiddenKind Kind, string Server, string Name), byte> _reported = new();

    /// <summary>Items reported and remembered now.</summary>
    public int Remembered => _reported.Count;

    /// <summary>
    /// Reports that <paramref name="tool"/> of <paramref name="server"/> was left out of a listing:
    /// under its front-door name (<paramref name="qualified"/>, at <c>/mcp</c>) or under its own
    /// (at <c>/servers/{name}/mcp</c>). True when this was the first report of the pair (logged and counted).
    /// </summary>
    public bool Report(string server, string tool, bool qualified) => Report(HiddenKind.Tool, server, tool, qualified);

    /// <summary>
    /// As <see cref="Report(string, string, bool)"/> for a tool or a prompt; a prompt is only left
    /// out at <c>/mcp</c> (<paramref name="qualified"/>), since <c>/servers/{name}/mcp</c> keeps its name.
    /// </summary>
    public bool Report(HiddenKind kind, string server, string name, bool qualified)
    {
        if (_reported.Count >= MaxRemembered)
            _reported.Clear();
        if (!_reported.TryAdd((kind, server, name), 0))
            return false;
        (kind == HiddenKind.Prompt ? HiddenPrompts : Hidden).Add(1, new KeyValuePair<string, object?>("server", server));
        if (logger.IsEnabled(LogLevel.Warning))
            (kind == HiddenKind.Prompt ? LogHiddenPrompt : LogHidden)(logger, Printable(name), name.Length, server, Reason(kind, server, name, qualified), null);
        return true;
    }

    /// <summary>Why the tool's name does not fit, and where the tool can still be reached, for the log.</summary>
    internal string Reason(string server, string tool, bool qualified) => Reason(HiddenKind.Tool, server, tool, qualified);

    /// <summary>Why the name does not fit, and where the tool or prompt can still be reached, for the log.</summary>
    internal string Reason(HiddenKind kind, string server, string name, bool qualified)
    {
        var problem = qualified ? names.Qualify(server, name, out _) : ToolNames.Check(name);
        var what = kind == HiddenKind.Prompt ? "prompt" : "tool";
        // A prompt keeps its own name, whatever it is, at the single-server endpoint.
        var own = kind == HiddenKind.Prompt ? !string.IsNullOrEmpty(name) : ToolNames.IsValidName(name);
        var there = qualified && own ? $"; it is listed at /servers/{server}/mcp under its own name" : "";
        return problem switch
        {
            ToolNameProblem.ServerHasSeparator =>
                $"the server's name contains the separator '{names.Separator}' (sark.front-door.separator), so no {what} of it has a front-door name at /mcp; its {what}s are listed at /servers/{server}/mcp",
            ToolNameProblem.TooLong when qualified && own =>
                $"its front-door name '{server}{names.Separator}…' would be {server.Length + names.Separator.Length + name.Length} characters, over MCP's {ToolNames.MaxLength}{there}",
            ToolNameProblem.TooLong => $"the name is over MCP's {ToolNames.MaxLength} characters",
            ToolNameProblem.BadCharacter when kind == HiddenKind.Prompt => $"the name has a character outside A-Z a-z 0-9 _ - . (front-door names follow MCP's tool-name rules){there}",
            ToolNameProblem.BadCharacter => "the name has a character outside MCP's A-Z a-z 0-9 _ - .",
            ToolNameProblem.Empty => "the name is empty",
            _ => "the name does not fit MCP's tool-name rules",
        };
    }

    /// <summary>The name cut to <see cref="ShownLength"/> characters, anything but printable ASCII shown as '?'.</summary>
    internal static string Printable(string value)
    {
        var shown = value.AsSpan(0, Math.Min(value.Length, ShownLength));
        var builder = new StringBuilder(shown.Length + 1);
        foreach (var ch in shown)
            builder.Append(ch is >= ' ' and <= '~' ? ch : '?');
        if (value.Length > ShownLength)
            builder.Append('…');
        return builder.ToString();
    }
}
