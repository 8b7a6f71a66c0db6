using System.Collections.Immutable;
using System.Globalization;

namespace Sark.Actors.Ops;

/// <summary>A command line the host parsed against its palettes: which command, and its values.</summary>
public sealed record OpsCommand(string Palette, CommandDefinition Definition, ImmutableDictionary<string, string> Values)
{
    public string Name => Definition.Name;

    /// <summary>The value of an argument (or its default); null when absent.</summary>
    public string? Get(string name) => Values.GetValueOrDefault(name);

    /// <summary>The same command with one value set.</summary>
    public OpsCommand SetItem(string name, string value) => this with { Values = Values.SetItem(name, value) };

    /// <summary>Whether a flag was given.</summary>
    public bool Has(string flag) => Values.ContainsKey(flag);

    /// <summary>An integer argument within bounds, or its default; a bad value was refused by the parser already.</summary>
    public int GetInt(string name, int fallback) =>
        Get(name) is { } text && int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : fallback;
}

/// <summary>The outcome of <see cref="OpsCommandParser.Parse"/>: a command, or an error code and message.</summary>
public sealed record OpsParse(OpsCommand? Command, string? Code, string? Error);

/// <summary>
/// Parses a command line (<c>upstream show demo</c>, <c>actor hierarchy -d 3</c>) against the
/// palettes. Pure: the host and its specs use it alike. Errors are <c>not_found</c> (no such
/// palette or command) and <c>invalid_request</c> (arguments), with the usage in the message.
/// </summary>
public static class OpsCommandParser
{
    /// <summary>The name of a palette's only command when the palette is the command itself (<c>call &lt;server&gt; &lt;tool&gt;</c>).</summary>
    public const string PaletteCommand = "";

    public static OpsParse Parse(IReadOnlyList<string> argv, IReadOnlyDictionary<string, PaletteDefinition> palettes)
    {
        if (argv.Count == 0)
            return Fail("invalid_request", "No command given. Type 'help' in the console, or see the catalogue.");
        if (!palettes.TryGetValue(argv[0], out var palette))
            return Fail("not_found", $"No palette '{argv[0]}'. Palettes: {string.Join(", ", palettes.Keys.Order(StringComparer.Ordinal))}.");
        var first = 2;
        var definition = palette.Find(PaletteCommand);
        if (definition is not null)
        {
            first = 1;
        }
        else
        {
            if (argv.Count < 2)
                return Fail("invalid_request", $"'{palette.Name}' needs a command: {string.Join(", ", palette.Commands.Select(c => c.Name))}.");
            definition = palette.Find(argv[1]);
            if (definition is null)
                return Fail("not_found", $"'{palette.Name}' has no command '{argv[1]}'. Commands: {string.Join(", ", palette.Commands.Select(c => c.Name))}.");
        }

        var usage = $"Usage: {definition.Usage(palette.Name)}";
        var values = ImmutableDictionary.CreateBuilder<string, string>(StringComparer.Ordinal);
        var positional = definition.Arguments.Where(a => a.Switch is null).ToList();
        var next = 0;
        for (var i = first; i < argv.Count; i++)
        {
            var token = argv[i];
            if (token.Length > 1 && token[0] == '-' && !IsNumber(token))
            {
                var (name, inline) = SplitInline(token);
                var argument = definition.Arguments.FirstOrDefault(a => a.Switch is not null && (a.Switch == name || a.Alias == name));
                if (argument is null)
                    return Fail("invalid_request", $"Unknown switch '{name}'. {usage}");
                if (argument.IsFlag)
                {
                    if (inline is not null)
                        return Fail("invalid_request", $"'{name}' takes no value. {usage}");
                    values[argument.Name] = "true";
                    continue;
                }

                var value = inline;
                if (value is null)
                {
                    if (i + 1 >= argv.Count)
                        return Fail("invalid_request", $"'{name}' needs a value. {usage}");
                    value = argv[++i];
                }

                values[argument.Name] = value;
                continue;
            }

            if (next >= positional.Count)
                return Fail("invalid_request", $"Unexpected argument '{token}'. {usage}");
            values[positional[next++].Name] = token;
        }

        foreach (var argument in definition.Arguments)
        {
            if (values.ContainsKey(argument.Name))
                continue;
            if (argument.Mandatory)
                return Fail("invalid_request", $"Missing {(argument.Switch is null ? $"<{argument.Name}>" : argument.Switch)}: {argument.Help}. {usage}");
            if (argument.Default is not null)
                values[argument.Name] = argument.Default;
        }

        return new OpsParse(new OpsCommand(palette.Name, definition, values.ToImmutable()), null, null);
    }

    /// <summary>Splits a command line typed at a prompt into words (<see cref="CommandLineWords.Split"/>).</summary>
    public static IReadOnlyList<string> Split(string line) => CommandLineWords.Split(line);

    private static bool IsNumber(string token) => double.TryParse(token, NumberStyles.Float, CultureInfo.InvariantCulture, out _);

    private static (string Name, string? Inline) SplitInline(string token)
    {
        if (!token.StartsWith("--", StringComparison.Ordinal))
            return (token, null);
        var equals = token.IndexOf('=', StringComparison.Ordinal);
        return equals < 0 ? (token, null) : (token[..equals], token[(equals + 1)..]);
    }

    private static OpsParse Fail(string code, string message) => new(null, code, message);
}
