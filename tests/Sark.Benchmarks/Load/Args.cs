using System.Globalization;

namespace Sark.Benchmarks.Load;

/// <summary>Tiny <c>--name value</c> parsing with bounds; a bad value is an <see cref="ArgumentException"/>.</summary>
internal sealed class Args(IReadOnlyList<string> args)
{
    public int Int(string name, int fallback, int min, int max)
    {
        if (Value(name) is not { } text)
            return fallback;
        return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max
            ? value
            : throw new ArgumentException($"{name} must be a whole number from {min} to {max}, not '{text}'.");
    }

    public double Double(string name, double fallback, double min, double max)
    {
        if (Value(name) is not { } text)
            return fallback;
        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max
            ? value
            : throw new ArgumentException($"{name} must be a number from {min} to {max}, not '{text}'.");
    }

    public int[] IntList(string name, int[] fallback, int min, int max) =>
        Value(name) is { } text
            ? [.. text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(part =>
                int.TryParse(part, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) && v >= min && v <= max
                    ? v
                    : throw new ArgumentException($"{name}: '{part}' is not a whole number from {min} to {max}."))]
            : fallback;

    public string[] StringList(string name, string[] fallback) =>
        Value(name) is { } text ? text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) : fallback;

    public string? String(string name) => Value(name);

    /// <summary><c>NAME=VALUE,...</c> (for example runtime knobs for a child process), added to <paramref name="into"/>.</summary>
    public Dictionary<string, string>? Environment(string name, Dictionary<string, string>? into = null)
    {
        foreach (var pair in StringList(name, []))
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
                throw new ArgumentException($"{name}: '{pair}' is not NAME=VALUE.");
            into ??= [];
            into[pair[..eq]] = pair[(eq + 1)..];
        }

        return into;
    }

    private string? Value(string name)
    {
        for (var i = 0; i < args.Count; i++)
        {
            if (args[i] == name)
                return i + 1 < args.Count ? args[i + 1] : throw new ArgumentException($"{name} needs a value.");
            if (args[i].StartsWith(name + "=", StringComparison.Ordinal))
                return args[i][(name.Length + 1)..];
        }

        return null;
    }
}
