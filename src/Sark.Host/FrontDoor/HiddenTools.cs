using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Text;
using Microsoft.Extensions.Logging;
using Sark.Actors.Telemetry;

namespace Sark.Host.FrontDoor;

/// <summary>
/// Tools that <c>tools/list</c> leaves out because their name does not fit MCP's tool-name rules
/// (<see cref="ToolNames"/>): each (server, tool) is logged at Warning and counted
/// (<c>sark.frontdoor.tools.hidden</c>, by server) the first time a listing meets it, so that a
/// listing storm writes nothing more. Called only for the tools left out, never for a listed one.
/// Thread-safe; the memory of reported tools is cleared past <see cref="MaxRemembered"/>, after
/// which a tool still hidden is reported once more.
/// </summary>
internal sealed class HiddenTools(ToolNames names, ILogger<HiddenTools> logger)
{
    /// <summary>(server, tool) pairs remembered as reported, at most.</summary>
    internal const int MaxRemembered = 10_000;

    /// <summary>Characters of a tool name shown in the log, at most.</summary>
    internal const int ShownLength = 160;

    internal static readonly Counter<long> Hidden = SarkTelemetry.Meter.CreateCounter<long>(
        "sark.frontdoor.tools.hidden", "{tool}",
        "Tools left out of the front door's tools/list because their name does not fit MCP's tool-name rules, counted once per server and tool, by server.");

    private static readonly Action<ILogger, string, int, string, string, Exception?> LogHidden = LoggerMessage.Define<string, int, string, string>(
        LogLevel.Warning, new EventId(705, "ToolHidden"),
        "Front door: tool {Tool} ({Length} characters) of server {Server} is left out of tools/list: {Reason}. Logged once per server and tool");

    private readonly ConcurrentDictionary<(string Server, string Tool), byte> _reported = new();

    /// <summary>Tools reported and remembered now.</summary>
    public int Remembered => _reported.Count;

    /// <summary>
    /// Reports that <paramref name="tool"/> of <paramref name="server"/> was left out of a listing:
    /// under its front-door name (<paramref name="qualified"/>, at <c>/mcp</c>) or under its own
    /// (at <c>/servers/{name}/mcp</c>). True when this was the first report of the pair (logged and counted).
    /// </summary>
    public bool Report(string server, string tool, bool qualified)
    {
        if (_reported.Count >= MaxRemembered)
            _reported.Clear();
        if (!_reported.TryAdd((server, tool), 0))
            return false;
        Hidden.Add(1, new KeyValuePair<string, object?>("server", server));
        if (logger.IsEnabled(LogLevel.Warning))
            LogHidden(logger, Printable(tool), tool.Length, server, Reason(server, tool, qualified), null);
        return true;
    }

    /// <summary>Why the name does not fit, and where the tool can still be reached, for the log.</summary>
    internal string Reason(string server, string tool, bool qualified)
    {
        var problem = qualified ? names.Qualify(server, tool, out _) : ToolNames.Check(tool);
        var own = ToolNames.IsValidName(tool);
        return problem switch
        {
            ToolNameProblem.ServerHasSeparator =>
                $"the server's name contains the separator '{names.Separator}' (sark.front-door.separator), so no tool of it has a front-door name at /mcp; its tools are listed at /servers/{server}/mcp",
            ToolNameProblem.TooLong when qualified && own =>
                $"its front-door name '{server}{names.Separator}…' would be {server.Length + names.Separator.Length + tool.Length} characters, over MCP's {ToolNames.MaxLength}; it is listed at /servers/{server}/mcp under its own name",
            ToolNameProblem.TooLong => $"the name is over MCP's {ToolNames.MaxLength} characters",
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
