using System.Collections.Immutable;
using System.Text.Json.Nodes;

namespace Sark.Cli;

/// <summary>One argument of a command, as the node's catalogue describes it.</summary>
internal sealed record CatalogueArgument(string Name, string Help, string? Switch, string? Alias, bool Flag, bool Mandatory, string? Default, ImmutableArray<string> Values);

/// <summary>One command of a palette, as the catalogue describes it. An empty name: the palette is the command.</summary>
internal sealed record CatalogueCommand(string Name, string Help, string Usage, ImmutableArray<CatalogueArgument> Arguments, string? Follow);

internal sealed record CataloguePalette(string Name, string Help, ImmutableArray<CatalogueCommand> Commands)
{
    public bool IsCommand => Commands.Length == 1 && Commands[0].Name.Length == 0;
}

/// <summary>The palettes a node offers, downloaded on connect: the client is programmed by it (help, completion, follow).</summary>
internal sealed class Catalogue(ImmutableArray<CataloguePalette> palettes)
{
    public ImmutableArray<CataloguePalette> Palettes { get; } = palettes;

    public CataloguePalette? Find(string name) => Palettes.FirstOrDefault(p => p.Name == name);

    /// <summary>The command a command line names, if any.</summary>
    public CatalogueCommand? CommandOf(IReadOnlyList<string> words)
    {
        if (words.Count == 0 || Find(words[0]) is not { } palette)
            return null;
        if (palette.IsCommand)
            return palette.Commands[0];
        return words.Count > 1 ? palette.Commands.FirstOrDefault(c => c.Name == words[1]) : null;
    }

    /// <summary>Whether the command line asks the command to follow (its follow flag is among the words).</summary>
    public bool Follows(IReadOnlyList<string> words)
    {
        if (CommandOf(words) is not { Follow: { } follow } command)
            return false;
        var flag = command.Arguments.FirstOrDefault(a => a.Name == follow);
        return flag is not null && words.Any(w => w == flag.Switch || w == flag.Alias);
    }

    public static Catalogue Parse(JsonObject frame)
    {
        var palettes = ImmutableArray.CreateBuilder<CataloguePalette>();
        foreach (var p in frame["palettes"]?.AsArray() ?? [])
        {
            var commands = ImmutableArray.CreateBuilder<CatalogueCommand>();
            foreach (var c in p!["commands"]?.AsArray() ?? [])
            {
                var args = ImmutableArray.CreateBuilder<CatalogueArgument>();
                foreach (var a in c!["arguments"]?.AsArray() ?? [])
                {
                    args.Add(new CatalogueArgument(
                        Str(a, "name") ?? "", Str(a, "help") ?? "", Str(a, "switch"), Str(a, "alias"),
                        a!["flag"]?.GetValue<bool>() ?? false, a["mandatory"]?.GetValue<bool>() ?? false, Str(a, "default"),
                        [.. (a["values"]?.AsArray() ?? []).Select(v => v!.GetValue<string>())]));
                }

                commands.Add(new CatalogueCommand(Str(c, "name") ?? "", Str(c, "help") ?? "", Str(c, "usage") ?? "", args.ToImmutable(), Str(c, "follow")));
            }

            palettes.Add(new CataloguePalette(Str(p, "name") ?? "", Str(p, "help") ?? "", commands.ToImmutable()));
        }

        return new Catalogue(palettes.ToImmutable());
    }

    private static string? Str(JsonNode? node, string name) => node?[name] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
}

/// <summary>Tab completion from the catalogue. Pure.</summary>
internal static class Completion
{
    /// <summary>Words the console itself knows, beside the palettes.</summary>
    public static readonly ImmutableArray<string> BuiltIns = ["help", "exit"];

    /// <summary>The candidates for the last word of <paramref name="line"/> (an empty last word when the line ends with a blank), sorted.</summary>
    public static IReadOnlyList<string> Candidates(string line, Catalogue catalogue)
    {
        var words = Sark.Actors.Ops.CommandLineWords.Split(line).ToList();
        var current = line.Length == 0 || char.IsWhiteSpace(line[^1]) ? "" : words[^1];
        if (current.Length > 0)
            words.RemoveAt(words.Count - 1);

        IEnumerable<string> options;
        if (words.Count == 0)
        {
            options = catalogue.Palettes.Select(p => p.Name).Concat(BuiltIns);
        }
        else if (words[0] == "help" && words.Count == 1)
        {
            options = catalogue.Palettes.Select(p => p.Name);
        }
        else if (catalogue.Find(words[0]) is not { } palette)
        {
            options = [];
        }
        else if (!palette.IsCommand && words.Count == 1)
        {
            options = palette.Commands.Select(c => c.Name);
        }
        else if (catalogue.CommandOf(words) is { } command)
        {
            var previous = command.Arguments.FirstOrDefault(a => !a.Flag && a.Switch is not null && (a.Switch == words[^1] || a.Alias == words[^1]));
            options = previous is not null
                ? previous.Values
                : command.Arguments.Where(a => a.Switch is not null && !words.Contains(a.Switch) && (a.Alias is null || !words.Contains(a.Alias))).Select(a => a.Switch!);
        }
        else
        {
            options = [];
        }

        return [.. options.Where(o => o.StartsWith(current, StringComparison.Ordinal)).Distinct().Order(StringComparer.Ordinal)];
    }

    /// <summary>The longest common prefix of the candidates.</summary>
    public static string CommonPrefix(IReadOnlyList<string> candidates)
    {
        if (candidates.Count == 0)
            return "";
        var prefix = candidates[0];
        foreach (var c in candidates)
        {
            var n = 0;
            while (n < prefix.Length && n < c.Length && prefix[n] == c[n])
                n++;
            prefix = prefix[..n];
        }

        return prefix;
    }
}
