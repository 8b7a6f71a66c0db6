using System.Diagnostics.CodeAnalysis;

namespace Sark.Host.FrontDoor;

/// <summary>
/// Front-door tool names: <c>&lt;server&gt;&lt;separator&gt;&lt;tool&gt;</c>, within MCP's tool-name rules
/// (1 to 128 characters among <c>A-Z a-z 0-9 _ - .</c>). The mapping is reversible: a name is split
/// at the first separator, so a server whose name contains the separator has no front-door name,
/// while a tool's may. Pure: no I/O, no state but the separator.
/// </summary>
internal sealed class ToolNames
{
    /// <summary>The longest tool name MCP allows.</summary>
    public const int MaxLength = 128;

    /// <summary>The separator of <c>sark.front-door.separator</c> by default.</summary>
    public const string DefaultSeparator = "__";

    /// <summary>Makes the naming for one separator.</summary>
    /// <exception cref="ArgumentException">The separator is empty or has a character MCP does not allow in tool names.</exception>
    public ToolNames(string separator)
    {
        if (string.IsNullOrEmpty(separator) || !IsValidName(separator))
            throw new ArgumentException($"The separator '{separator}' must be 1 to {MaxLength} of the characters A-Z a-z 0-9 _ - .", nameof(separator));
        Separator = separator;
    }

    public string Separator { get; }

    /// <summary>Whether <paramref name="name"/> fits MCP's tool-name rules.</summary>
    public static bool IsValidName([NotNullWhen(true)] string? name) => name is not null && Check(name) == ToolNameProblem.None;

    /// <summary>What keeps <paramref name="name"/> out of MCP's tool-name rules, or <see cref="ToolNameProblem.None"/>.</summary>
    public static ToolNameProblem Check(string? name)
    {
        if (string.IsNullOrEmpty(name))
            return ToolNameProblem.Empty;
        if (name.Length > MaxLength)
            return ToolNameProblem.TooLong;
        foreach (var c in name)
        {
            if (!IsAllowed(c))
                return ToolNameProblem.BadCharacter;
        }

        return ToolNameProblem.None;
    }

    /// <summary>
    /// The front-door name of <paramref name="tool"/> on <paramref name="server"/>, or false when there is
    /// none: an empty part, a server name that contains the separator, or a result outside MCP's rules.
    /// </summary>
    public bool TryQualify(string server, string tool, [NotNullWhen(true)] out string? name)
    {
        name = Qualify(server, tool, out var candidate) == ToolNameProblem.None ? candidate : null;
        return name is not null;
    }

    /// <summary>
    /// As <see cref="TryQualify"/>, saying why there is no front-door name: an empty part, a server
    /// name that contains the separator, or a result too long or with a character outside MCP's rules.
    /// </summary>
    public ToolNameProblem Qualify(string? server, string? tool, out string? name)
    {
        name = null;
        if (string.IsNullOrEmpty(server) || string.IsNullOrEmpty(tool))
            return ToolNameProblem.Empty;
        if (server.Contains(Separator, StringComparison.Ordinal))
            return ToolNameProblem.ServerHasSeparator;
        var candidate = string.Concat(server, Separator, tool);
        var problem = Check(candidate);
        if (problem == ToolNameProblem.None)
            name = candidate;
        return problem;
    }

    /// <summary>
    /// Splits a front-door name at its first separator; false when it has none, when either part
    /// is empty, or when it is not a valid MCP tool name.
    /// </summary>
    public bool TryParse(string? name, [NotNullWhen(true)] out string? server, [NotNullWhen(true)] out string? tool)
    {
        server = null;
        tool = null;
        if (!IsValidName(name))
            return false;
        var at = name.IndexOf(Separator, StringComparison.Ordinal);
        if (at <= 0 || at + Separator.Length >= name.Length)
            return false;
        server = name[..at];
        tool = name[(at + Separator.Length)..];
        return true;
    }

    private static bool IsAllowed(char c) =>
        c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '_' or '-' or '.';
}

/// <summary>Why a tool has no front-door name (<see cref="ToolNames.Check"/>, <see cref="ToolNames.Qualify"/>).</summary>
internal enum ToolNameProblem
{
    /// <summary>The name fits MCP's rules.</summary>
    None,

    /// <summary>The name, the server or the tool is empty.</summary>
    Empty,

    /// <summary>The server's name contains the separator, so the name would not split back into server and tool.</summary>
    ServerHasSeparator,

    /// <summary>The name is longer than <see cref="ToolNames.MaxLength"/> characters.</summary>
    TooLong,

    /// <summary>The name has a character outside <c>A-Z a-z 0-9 _ - .</c>.</summary>
    BadCharacter,
}
