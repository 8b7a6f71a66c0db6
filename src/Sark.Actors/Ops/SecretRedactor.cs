using System.Text;
using System.Text.RegularExpressions;

namespace Sark.Actors.Ops;

/// <summary>
/// Takes secrets out of what the console shows. Pure. <see cref="RedactHocon"/> works on
/// rendered HOCON: the value of any key that names a secret (api-key, token, password, secret,
/// connection-string, authorization, sha256, ...) and every value inside <c>headers { }</c> and
/// <c>env { }</c> blocks becomes <see cref="Redacted"/>. <see cref="RedactText"/> works on free
/// text (log lines): bearer tokens, <c>key=value</c> pairs with a secret key, passwords in
/// connection strings.
/// </summary>
public static partial class SecretRedactor
{
    public const string Redacted = "<redacted>";

    /// <summary>Whether a configuration key names a secret.</summary>
    public static bool IsSecretKey(string key) => SecretKey().IsMatch(key);

    public static string RedactHocon(string hocon)
    {
        var output = new StringBuilder(hocon.Length);
        var blocks = new Stack<bool>();
        foreach (var raw in hocon.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            var trimmed = line.TrimStart();
            var insideSecretBlock = blocks.Count > 0 && blocks.Peek();
            var open = BlockOpen().Match(trimmed);
            if (open.Success)
            {
                var key = Unquote(open.Groups["key"].Value);
                blocks.Push(insideSecretBlock || IsSecretBlock(key) || IsSecretKey(key));
                output.Append(line).Append('\n');
                continue;
            }

            if (trimmed.StartsWith('}'))
            {
                if (blocks.Count > 0)
                    blocks.Pop();
                output.Append(line).Append('\n');
                continue;
            }

            var pair = KeyValue().Match(line);
            if (pair.Success && (insideSecretBlock || IsSecretKey(Unquote(pair.Groups["key"].Value))) && !IsEmptyValue(pair.Groups["value"].Value))
            {
                output.Append(pair.Groups["lead"].Value).Append(Redacted);
                output.Append('\n');
                continue;
            }

            output.Append(line).Append('\n');
        }

        return output.ToString().TrimEnd('\n');
    }

    public static string RedactText(string text)
    {
        if (string.IsNullOrEmpty(text))
            return text;
        text = Bearer().Replace(text, m => m.Groups["scheme"].Value + " " + Redacted);
        text = TextPair().Replace(text, m => m.Groups["lead"].Value + Redacted);
        return text;
    }

    private static bool IsSecretBlock(string key) => key is "headers" or "env";

    private static bool IsEmptyValue(string value)
    {
        var v = value.Trim().TrimEnd(',').Trim();
        return v is "\"\"" or "[]" or "" or "null";
    }

    private static string Unquote(string key) => key.Trim().Trim('"');

    [GeneratedRegex(@"(api[-_]?key|token|password|passwd|secret|connection[-_]?string|authorization|credential|private[-_]?key|sha256|cookie)", RegexOptions.IgnoreCase)]
    private static partial Regex SecretKey();

    [GeneratedRegex(@"^(?<key>""[^""]*""|[A-Za-z0-9_.\-]+)\s*[:=]?\s*\{\s*$")]
    private static partial Regex BlockOpen();

    [GeneratedRegex(@"^(?<lead>\s*(?<key>""[^""]*""|[A-Za-z0-9_.\-]+)\s*[:=]\s*)(?<value>.+)$")]
    private static partial Regex KeyValue();

    [GeneratedRegex(@"(?<scheme>Bearer|ApiKey|Basic)\s+[A-Za-z0-9\-._~+/=]{8,}", RegexOptions.IgnoreCase)]
    private static partial Regex Bearer();

    [GeneratedRegex(@"(?<lead>\b(?:api[-_]?key|x-api-key|token|password|pwd|secret|authorization)\s*[=:]\s*)[^\s;,&""']+", RegexOptions.IgnoreCase)]
    private static partial Regex TextPair();
}
