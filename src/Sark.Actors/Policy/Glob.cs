namespace Sark.Actors.Policy;

/// <summary>
/// A name pattern of the embedded policy: <c>*</c> matches any run of characters (also none),
/// <c>?</c> exactly one character, everything else itself. Case-sensitive and anchored: the
/// whole name must match. There are no character classes and no escapes, so a name containing
/// <c>*</c> or <c>?</c> can only be matched by a wildcard. Compiled once: exact names, prefixes
/// (<c>github-*</c>) and <c>*</c> take a fast path.
/// </summary>
public sealed class Glob
{
    private enum Kind
    {
        Any,
        Exact,
        Prefix,
        Suffix,
        General,
    }

    private readonly Kind _kind;
    private readonly string _literal;

    public Glob(string pattern)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        Pattern = pattern;
        var stars = pattern.AsSpan().Count('*');
        var hasQuestion = pattern.Contains('?', StringComparison.Ordinal);
        if (stars == pattern.Length && stars > 0)
        {
            _kind = Kind.Any;
            _literal = "";
        }
        else if (stars == 0 && !hasQuestion)
        {
            _kind = Kind.Exact;
            _literal = pattern;
        }
        else if (stars == 1 && !hasQuestion && pattern[^1] == '*')
        {
            _kind = Kind.Prefix;
            _literal = pattern[..^1];
        }
        else if (stars == 1 && !hasQuestion && pattern[0] == '*')
        {
            _kind = Kind.Suffix;
            _literal = pattern[1..];
        }
        else
        {
            _kind = Kind.General;
            _literal = pattern;
        }
    }

    public string Pattern { get; }

    public bool IsMatch(string? name)
    {
        if (name is null)
            return false;
        return _kind switch
        {
            Kind.Any => true,
            Kind.Exact => string.Equals(name, _literal, StringComparison.Ordinal),
            Kind.Prefix => name.StartsWith(_literal, StringComparison.Ordinal),
            Kind.Suffix => name.EndsWith(_literal, StringComparison.Ordinal),
            _ => MatchGeneral(_literal, name),
        };
    }

    /// <summary>Linear-time wildcard match with one backtrack point (the last <c>*</c> seen).</summary>
    private static bool MatchGeneral(string pattern, string name)
    {
        int p = 0, n = 0, star = -1, mark = 0;
        while (n < name.Length)
        {
            if (p < pattern.Length && (pattern[p] == '?' || (pattern[p] != '*' && pattern[p] == name[n])))
            {
                p++;
                n++;
            }
            else if (p < pattern.Length && pattern[p] == '*')
            {
                star = p++;
                mark = n;
            }
            else if (star >= 0)
            {
                p = star + 1;
                n = ++mark;
            }
            else
            {
                return false;
            }
        }

        while (p < pattern.Length && pattern[p] == '*')
            p++;
        return p == pattern.Length;
    }

    public override string ToString() => Pattern;
}
