using System.Collections.Immutable;
using Akka.Configuration;
using Akka.Configuration.Hocon;
using Sark.Actors.Configuration;

namespace Sark.Actors.Identity;

/// <summary>
/// Small HOCON readers for the identity settings, in the style of <see cref="SarkConfigLoader"/>:
/// every failure is a <see cref="SarkConfigException"/> whose message starts with the full key.
/// </summary>
internal static class HoconReading
{
    public static bool ReadBool(Config c, string path, string prefix, bool fallback)
    {
        var v = Value(c, path);
        if (v is null)
            return fallback;
        var text = v.GetString();
        return text switch
        {
            "true" or "on" or "yes" => true,
            "false" or "off" or "no" => false,
            _ => throw new SarkConfigException($"{prefix}.{path}: '{text}' must be true or false."),
        };
    }

    /// <summary>A string, or null when the key is absent, empty or an unset <c>${?VAR}</c>.</summary>
    public static string? ReadOptionalString(Config c, string path, string prefix)
    {
        var v = Value(c, path);
        if (v is null)
            return null;
        // An unset ${?VAR}: Akka keeps the unresolved substitution (and calls it an object).
        if (v.Values.Count > 0 && v.Values[0] is HoconSubstitution substitution)
            return substitution.ResolvedValue is { } resolved && resolved.IsString() && resolved.GetString() is { Length: > 0 } value ? value : null;
        if (v.IsObject() || IsList(v))
            throw new SarkConfigException($"{prefix}.{path}: must be a string.");
        string? text;
        try
        {
            text = v.GetString();
        }
        catch (Exception)
        {
            // An unset ${?VAR} that HOCON could not resolve: the key is not set.
            text = null;
        }

        return string.IsNullOrEmpty(text) ? null : text;
    }

    public static ImmutableArray<string> ReadStringList(Config c, string path, string prefix)
    {
        var v = Value(c, path);
        if (v is null)
            return [];
        if (!IsList(v))
            throw new SarkConfigException($"{prefix}.{path}: must be a list of strings, like [\"a\", \"b\"].");
        var builder = ImmutableArray.CreateBuilder<string>();
        foreach (var item in v.GetArray())
        {
            if (!item.IsString() || string.IsNullOrWhiteSpace(item.GetString()))
                throw new SarkConfigException($"{prefix}.{path}: every item must be a non-empty string.");
            builder.Add(item.GetString());
        }

        return builder.ToImmutable();
    }

    public static TimeSpan ReadDuration(Config c, string path, string prefix, TimeSpan fallback)
    {
        if (Value(c, path) is null)
            return fallback;
        TimeSpan t;
        try
        {
            t = c.GetTimeSpan(path, null, allowInfinite: false);
        }
        catch (Exception ex)
        {
            throw new SarkConfigException($"{prefix}.{path}: '{c.GetString(path)}' is not a duration (for example 30s, 500ms, 2m).", ex);
        }

        return t < TimeSpan.Zero ? throw new SarkConfigException($"{prefix}.{path}: must not be negative.") : t;
    }

    /// <summary>The items of a list of objects, each as a <see cref="Config"/>.</summary>
    public static IReadOnlyList<Config> ReadObjectList(Config c, string path, string prefix)
    {
        var v = Value(c, path);
        if (v is null)
            return [];
        if (!IsList(v))
            throw new SarkConfigException($"{prefix}.{path}: must be a list of objects, like [ {{ ... }}, {{ ... }} ].");
        var items = new List<Config>();
        var index = 0;
        foreach (var item in v.GetArray())
        {
            if (!item.IsObject())
                throw new SarkConfigException($"{prefix}.{path}[{index}]: must be an object {{ ... }}.");
            items.Add(new Config(new HoconRoot(item)));
            index++;
        }

        return items;
    }

    /// <summary>Akka's <c>IsArray</c> is false for an empty list (<c>[]</c>), which is still a list.</summary>
    private static bool IsList(HoconValue v) => v.IsArray() || (v.Values.Count > 0 && v.Values.TrueForAll(x => x is HoconArray));

    private static HoconValue? Value(Config c, string path)
    {
        if (!c.HasPath(path))
            return null;
        var v = c.GetValue(path);
        return v is null || v.IsEmpty ? null : v;
    }
}
