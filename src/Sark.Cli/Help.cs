namespace Sark.Cli;

/// <summary><c>help</c> and <c>help PALETTE</c>, from the downloaded catalogue.</summary>
internal static class Help
{
    public static void Print(Catalogue catalogue, string? palette, TextWriter output)
    {
        if (palette is not null)
        {
            if (catalogue.Find(palette) is not { } found)
            {
                output.WriteLine($"No palette '{palette}'. Palettes: {string.Join(", ", catalogue.Palettes.Select(p => p.Name))}.");
                return;
            }

            output.WriteLine($"{found.Name}: {found.Help}");
            foreach (var command in found.Commands)
            {
                output.WriteLine($"  {command.Usage}");
                output.WriteLine($"      {command.Help}");
                foreach (var argument in command.Arguments)
                {
                    var name = argument.Switch is null ? $"<{argument.Name}>" : argument.Alias is null ? argument.Switch : $"{argument.Alias}, {argument.Switch}";
                    var @default = argument.Default is null ? "" : $" (default {argument.Default})";
                    output.WriteLine($"      {name,-18} {argument.Help}{@default}");
                }
            }

            return;
        }

        output.WriteLine("Palettes (help PALETTE for details):");
        foreach (var p in catalogue.Palettes)
        {
            var commands = p.IsCommand ? p.Commands[0].Usage : $"{p.Name} {string.Join("|", p.Commands.Select(c => c.Name))}";
            output.WriteLine($"  {commands,-44} {p.Help}");
        }

        output.WriteLine("  help [PALETTE]                               this text");
        output.WriteLine("  exit                                         leave the console");
    }
}
