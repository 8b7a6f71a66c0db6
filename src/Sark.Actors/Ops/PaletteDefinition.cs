using System.Collections.Immutable;
using System.Text.Json.Nodes;

namespace Sark.Actors.Ops;

/// <summary>
/// One argument of a command: positional (no <see cref="Switch"/>), a switch that takes a value
/// (<c>-d 3</c>), or a flag (<c>-f</c>, <see cref="IsFlag"/>). <see cref="Suggestions"/> feed the
/// client's completion.
/// </summary>
public sealed record ArgumentDefinition(string Name, string Help)
{
    /// <summary>The switch (<c>--depth</c>); null for a positional argument.</summary>
    public string? Switch { get; init; }

    /// <summary>A short form of the switch (<c>-d</c>).</summary>
    public string? Alias { get; init; }

    /// <summary>A switch that takes no value.</summary>
    public bool IsFlag { get; init; }

    public bool Mandatory { get; init; }

    /// <summary>The value used when the argument is absent.</summary>
    public string? Default { get; init; }

    public ImmutableArray<string> Suggestions { get; init; } = [];

    public static ArgumentDefinition Positional(string name, string help, bool mandatory = true) => new(name, help) { Mandatory = mandatory };

    public static ArgumentDefinition Option(string name, string @switch, string help, string? alias = null, string? @default = null) =>
        new(name, help) { Switch = @switch, Alias = alias, Default = @default };

    public static ArgumentDefinition Flag(string name, string @switch, string help, string? alias = null) =>
        new(name, help) { Switch = @switch, Alias = alias, IsFlag = true };

    internal JsonObject ToJson()
    {
        var o = new JsonObject { ["name"] = Name, ["help"] = Help, ["mandatory"] = Mandatory, ["flag"] = IsFlag };
        if (Switch is not null)
            o["switch"] = Switch;
        if (Alias is not null)
            o["alias"] = Alias;
        if (Default is not null)
            o["default"] = Default;
        if (!Suggestions.IsDefaultOrEmpty)
            o["values"] = new JsonArray([.. Suggestions.Select(s => (JsonNode?)JsonValue.Create(s))]);
        return o;
    }
}

/// <summary>One command of a palette (<c>upstream restart</c>), its arguments, help and timeout.</summary>
public sealed record CommandDefinition(string Name, string Help, ImmutableArray<ArgumentDefinition> Arguments)
{
    /// <summary>How long the command may run; null takes <c>sark.node.ops.default-timeout</c>.</summary>
    public TimeSpan? Timeout { get; init; }

    /// <summary>A command that follows (<c>audit tail -f</c>): it may run up to <c>max-timeout</c> when this flag is given.</summary>
    public string? FollowFlag { get; init; }

    /// <summary>The usage line: <c>upstream restart &lt;name&gt;</c>.</summary>
    public string Usage(string palette)
    {
        var parts = new List<string> { palette };
        if (Name.Length > 0)
            parts.Add(Name);
        foreach (var a in Arguments)
        {
            var text = a.Switch is null ? $"<{a.Name}>" : a.IsFlag ? a.Alias ?? a.Switch : $"{a.Alias ?? a.Switch} {a.Name.ToUpperInvariant()}";
            parts.Add(a.Mandatory || a.Switch is null && a.Mandatory ? text : $"[{text}]");
        }

        return string.Join(' ', parts);
    }

    internal JsonObject ToJson(string palette)
    {
        var o = new JsonObject
        {
            ["name"] = Name,
            ["help"] = Help,
            ["usage"] = Usage(palette),
            ["arguments"] = new JsonArray([.. Arguments.Select(a => (JsonNode?)a.ToJson())]),
        };
        if (Timeout is { } t)
            o["timeout_ms"] = (long)t.TotalMilliseconds;
        if (FollowFlag is not null)
            o["follow"] = FollowFlag;
        return o;
    }
}

/// <summary>A palette: a name (<c>upstream</c>), what it is for, and its commands.</summary>
public sealed record PaletteDefinition(string Name, string Help, ImmutableArray<CommandDefinition> Commands)
{
    public CommandDefinition? Find(string command)
    {
        foreach (var c in Commands)
        {
            if (string.Equals(c.Name, command, StringComparison.Ordinal))
                return c;
        }

        return null;
    }

    internal JsonObject ToJson() => new()
    {
        ["name"] = Name,
        ["help"] = Help,
        ["commands"] = new JsonArray([.. Commands.Select(c => (JsonNode?)c.ToJson(Name))]),
    };
}
