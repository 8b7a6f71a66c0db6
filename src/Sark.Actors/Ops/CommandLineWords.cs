namespace Sark.Actors.Ops;

/// <summary>
/// Words of a command line typed at the console's prompt. Shared as source by the host and the
/// <c>sark</c> client (which does not reference the runtime), so both split a line alike.
/// </summary>
internal static class CommandLineWords
{
    /// <summary>Splits a command line typed at a prompt into words: blanks separate, quotes ('…' or "…") group.</summary>
    public static IReadOnlyList<string> Split(string line)
    {
        var words = new List<string>();
        var current = new System.Text.StringBuilder();
        var inWord = false;
        char quote = '\0';
        foreach (var c in line)
        {
            if (quote != '\0')
            {
                if (c == quote)
                    quote = '\0';
                else
                    current.Append(c);
                continue;
            }

            if (c is '"' or '\'')
            {
                quote = c;
                inWord = true;
            }
            else if (char.IsWhiteSpace(c))
            {
                if (inWord)
                {
                    words.Add(current.ToString());
                    current.Clear();
                    inWord = false;
                }
            }
            else
            {
                current.Append(c);
                inWord = true;
            }
        }

        if (inWord)
            words.Add(current.ToString());
        return words;
    }
}
