using System.Text;

namespace Sark.Cli;

/// <summary>
/// The interactive console: a prompt <c>[HOST:PORT] sark&gt;</c>, history (Up/Down) and tab
/// completion from the catalogue; <c>exit</c>, <c>quit</c> or Ctrl+D leave. Without a terminal
/// (input redirected) it reads plain lines.
/// </summary>
internal sealed class Repl(OpsClient client, ConsoleSettings settings)
{
    private readonly List<string> _history = [];

    public async Task<int> RunAsync(CancellationToken ct)
    {
        Console.Out.WriteLine($"Connected to {client.Node} at {client.Address}: {client.Catalogue.Palettes.Length} palettes downloaded. Type 'help' to see them, 'exit' to leave.");
        var prompt = $"[{client.Address}] sark> ";
        while (!ct.IsCancellationRequested)
        {
            var line = Console.IsInputRedirected ? ReadPlain(prompt) : ReadInteractive(prompt);
            if (line is null)
                break;
            var words = Sark.Actors.Ops.CommandLineWords.Split(line).ToList();
            if (words.Count == 0)
                continue;
            if (_history.Count == 0 || _history[^1] != line)
                _history.Add(line);
            if (words[0] is "exit" or "quit")
                break;
            var json = settings.Json || words.Remove("--json");
            await ConsoleRunner.RunOneAsync(client, settings, words, json, ct).ConfigureAwait(false);
        }

        Console.Out.WriteLine("bye");
        return ExitCodes.Ok;
    }

    private static string? ReadPlain(string prompt)
    {
        Console.Out.Write(prompt);
        return Console.In.ReadLine();
    }

    /// <summary>A small line editor: insert, Backspace/Delete, Left/Right/Home/End, Up/Down history, Tab completion, Ctrl+C clears, Ctrl+D on an empty line leaves.</summary>
    private string? ReadInteractive(string prompt)
    {
        // At the prompt Ctrl+C is a key (it clears the line); while a command runs it cancels that command.
        Console.TreatControlCAsInput = true;
        try
        {
            return ReadKeys(prompt);
        }
        finally
        {
            Console.TreatControlCAsInput = false;
        }
    }

    private string? ReadKeys(string prompt)
    {
        var buffer = new StringBuilder();
        var cursor = 0;
        var recall = _history.Count;
        var lastWasTab = false;
        Console.Out.Write(prompt);
        while (true)
        {
            var key = Console.ReadKey(intercept: true);
            var tab = key.Key == ConsoleKey.Tab;
            switch (key.Key)
            {
                case ConsoleKey.Enter:
                    Console.Out.WriteLine();
                    return buffer.ToString();
                case ConsoleKey.Tab:
                    Complete(prompt, buffer, ref cursor, lastWasTab);
                    break;
                case ConsoleKey.Backspace when cursor > 0:
                    buffer.Remove(--cursor, 1);
                    break;
                case ConsoleKey.Delete when cursor < buffer.Length:
                    buffer.Remove(cursor, 1);
                    break;
                case ConsoleKey.LeftArrow when cursor > 0:
                    cursor--;
                    break;
                case ConsoleKey.RightArrow when cursor < buffer.Length:
                    cursor++;
                    break;
                case ConsoleKey.Home:
                    cursor = 0;
                    break;
                case ConsoleKey.End:
                    cursor = buffer.Length;
                    break;
                case ConsoleKey.UpArrow when recall > 0:
                    Replace(buffer, _history[--recall], ref cursor);
                    break;
                case ConsoleKey.DownArrow when recall < _history.Count:
                    recall++;
                    Replace(buffer, recall < _history.Count ? _history[recall] : "", ref cursor);
                    break;
                case ConsoleKey.D when key.Modifiers.HasFlag(ConsoleModifiers.Control) && buffer.Length == 0:
                    Console.Out.WriteLine();
                    return null;
                case ConsoleKey.C when key.Modifiers.HasFlag(ConsoleModifiers.Control):
                    buffer.Clear();
                    cursor = 0;
                    Console.Out.WriteLine("^C");
                    Console.Out.Write(prompt);
                    break;
                default:
                    if (!char.IsControl(key.KeyChar))
                        buffer.Insert(cursor++, key.KeyChar);
                    break;
            }

            lastWasTab = tab;
            Redraw(prompt, buffer, cursor);
        }
    }

    /// <summary>Completes the word before the cursor: one candidate fills it in; several fill their common prefix and are listed.</summary>
    private void Complete(string prompt, StringBuilder buffer, ref int cursor, bool again)
    {
        var before = buffer.ToString(0, cursor);
        var candidates = Completion.Candidates(before, client.Catalogue);
        if (candidates.Count == 0)
            return;
        var start = before.Length == 0 || char.IsWhiteSpace(before[^1]) ? before.Length : before.LastIndexOf(' ') + 1;
        var word = before[start..];
        var fill = candidates.Count == 1 ? candidates[0] + " " : Completion.CommonPrefix(candidates);
        if (fill.Length > word.Length)
        {
            buffer.Remove(start, word.Length).Insert(start, fill);
            cursor = start + fill.Length;
        }

        if (candidates.Count > 1 && (again || fill.Length <= word.Length))
        {
            Console.Out.WriteLine();
            Console.Out.WriteLine(string.Join("  ", candidates));
            Console.Out.Write(prompt);
        }
    }

    private static void Replace(StringBuilder buffer, string text, ref int cursor)
    {
        buffer.Clear().Append(text);
        cursor = buffer.Length;
    }

    private static void Redraw(string prompt, StringBuilder buffer, int cursor)
    {
        var back = buffer.Length - cursor;
        Console.Out.Write($"\r{prompt}{buffer}\u001b[K{(back > 0 ? $"\u001b[{back}D" : "")}");
    }
}
