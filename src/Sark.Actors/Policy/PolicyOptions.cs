using System.Collections.Immutable;
using System.Text.RegularExpressions;
using Akka.Configuration;
using Akka.Configuration.Hocon;
using Sark.Actors.Configuration;

namespace Sark.Actors.Policy;

/// <summary>Which engine decides.</summary>
public enum PolicyEngineKind
{
    /// <summary>Rules from <c>sark.policy.embedded</c>, evaluated in process.</summary>
    Embedded,

    /// <summary>An Open Policy Agent server's Data API.</summary>
    Opa,
}

/// <summary>What a rule does when it matches.</summary>
public enum PolicyEffect
{
    Allow,
    Deny,
}

/// <summary>The <c>sark.policy</c> section (see <c>docs/policy.md</c> and <c>hocon/reference.conf</c>).</summary>
public sealed record PolicyOptions
{
    public PolicyEngineKind Engine { get; init; } = PolicyEngineKind.Embedded;

    /// <summary>TTL of an allow that names none (embedded rules without <c>cache-ttl</c>, OPA decisions without <c>cache_ttl</c>).</summary>
    public TimeSpan DefaultCacheTtl { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>The most decisions the cache holds.</summary>
    public int CacheMaxEntries { get; init; } = 10_000;

    /// <summary>How long the facade's <see cref="PolicyGate"/> waits for a decision before it fails closed.</summary>
    public TimeSpan DecideTimeout { get; init; } = TimeSpan.FromSeconds(2);

    public EmbeddedPolicyOptions Embedded { get; init; } = new();

    public OpaOptions Opa { get; init; } = new();

    /// <summary>The engine's name as metrics and logs write it.</summary>
    public string EngineName => Engine == PolicyEngineKind.Opa ? "opa" : "embedded";

    /// <summary>
    /// Reads <c>sark.policy</c> from a resolved configuration (the embedded defaults must be part
    /// of it, as in <see cref="SarkConfigLoader.Load"/>). Fails with a
    /// <see cref="SarkConfigException"/> that names the key.
    /// </summary>
    public static PolicyOptions Read(Config config) => PolicyOptionsReader.Read(config);

    /// <summary>Parses HOCON text on top of the embedded defaults and reads <c>sark.policy</c>.</summary>
    public static PolicyOptions Parse(string hocon)
    {
        Config config;
        try
        {
            config = ConfigurationFactory.ParseString(SarkConfigLoader.SubstituteEnvironment(hocon));
        }
        catch (Exception ex)
        {
            throw new SarkConfigException($"The configuration is not valid HOCON: {ex.Message}", ex);
        }

        return Read(config.WithFallback(SarkConfigLoader.Defaults));
    }
}

/// <summary><c>sark.policy.embedded</c>: ordered rules, the default effect and global argument filters.</summary>
public sealed record EmbeddedPolicyOptions
{
    /// <summary>The effect when no rule matches.</summary>
    public PolicyEffect Default { get; init; } = PolicyEffect.Deny;

    public ImmutableArray<PolicyRule> Rules { get; init; } = [];

    /// <summary>Applied to the arguments of every allowed <c>tool:invoke</c>.</summary>
    public ArgumentRules Filters { get; init; } = ArgumentRules.None;
}

/// <summary>
/// One embedded rule. Every selector that is set must match (an empty list means "any"); see
/// <c>docs/policy.md</c> for the exact semantics.
/// </summary>
public sealed record PolicyRule
{
    public required string Name { get; init; }

    public required PolicyEffect Effect { get; init; }

    /// <summary>Globs on the subject id.</summary>
    public ImmutableArray<Glob> Subjects { get; init; } = [];

    /// <summary>The caller holds at least one role matching one of these globs.</summary>
    public ImmutableArray<Glob> Roles { get; init; } = [];

    /// <summary>The rule does not apply to a caller holding any role matching one of these globs.</summary>
    public ImmutableArray<Glob> ExceptRoles { get; init; } = [];

    /// <summary>The caller is in at least one team matching one of these globs.</summary>
    public ImmutableArray<Glob> Teams { get; init; } = [];

    public ImmutableArray<Glob> Actions { get; init; } = [];

    public ImmutableArray<Glob> Servers { get; init; } = [];

    public ImmutableArray<Glob> Tools { get; init; } = [];

    /// <summary>The rule applies only at or below this level (the stricter of the server's and the tool's).</summary>
    public Sensitivity? MaxSensitivity { get; init; }

    /// <summary>The rule applies only at or above this level.</summary>
    public Sensitivity? MinSensitivity { get; init; }

    /// <summary>TTL of the decisions this rule makes. For a deny, only a TTL given here caches it.</summary>
    public TimeSpan? CacheTtl { get; init; }

    /// <summary>The reason a decision of this rule carries; by default one naming the rule.</summary>
    public string? Reason { get; init; }

    public ArgumentRules Arguments { get; init; } = ArgumentRules.None;
}

/// <summary>A regular expression on the value of an argument, found by key at any depth.</summary>
public sealed record ArgumentPattern(string Key, Regex Pattern)
{
    internal byte[] KeyUtf8 { get; } = System.Text.Encoding.UTF8.GetBytes(Key);
}

/// <summary>
/// Argument rules: deny when an argument matches, remove keys, redact keys to
/// <c>"[REDACTED]"</c>. Keys are matched ASCII case-insensitively at any depth (nested objects
/// and objects inside arrays included).
/// </summary>
public sealed record ArgumentRules(ImmutableArray<ArgumentPattern> DenyIfMatches, ImmutableArray<string> Remove, ImmutableArray<string> Redact)
{
    public static ArgumentRules None { get; } = new([], [], []);

    public bool HasFilters => Remove.Length > 0 || Redact.Length > 0;
}

/// <summary><c>sark.policy.opa</c>.</summary>
public sealed record OpaOptions
{
    public Uri Url { get; init; } = new("http://127.0.0.1:8181");

    /// <summary>The document's path under <c>/v1/data/</c>, for example <c>sark/authz/decision</c>.</summary>
    public string Path { get; init; } = "sark/authz/decision";

    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(1);

    public int MaxConnections { get; init; } = 64;

    /// <summary>The full query URL: <c>{url}/v1/data/{path}</c>.</summary>
    public Uri DataUri => new(Url.AbsoluteUri.TrimEnd('/') + "/v1/data/" + Path);
}

/// <summary>The HOCON reader of <see cref="PolicyOptions"/>, in the style of <see cref="SarkConfigLoader"/>.</summary>
internal static partial class PolicyOptionsReader
{
    private const string Root = "sark.policy";

    /// <summary>Regular expressions of argument rules give up after this, and the call is denied.</summary>
    internal static readonly TimeSpan RegexTimeout = TimeSpan.FromMilliseconds(100);

    private static readonly string[] RuleKeys =
    [
        "name", "effect", "subjects", "roles", "except-roles", "teams", "actions", "servers", "tools",
        "max-sensitivity", "min-sensitivity", "cache-ttl", "reason", "arguments",
    ];

    private static readonly string[] ArgumentKeys = ["deny-if-matches", "remove", "redact"];

    public static PolicyOptions Read(Config config)
    {
        var c = config.HasPath(Root) ? config.GetConfig(Root) : null;
        if (c is null)
            throw new SarkConfigException($"{Root}: missing; the embedded defaults were not applied.");

        var engine = Require(c, "engine", Root).GetString() switch
        {
            "embedded" => PolicyEngineKind.Embedded,
            "opa" => PolicyEngineKind.Opa,
            var other => throw new SarkConfigException($"{Root}.engine: '{other}' is not an engine; use embedded or opa."),
        };

        var opaUrl = Require(c, "opa.url", Root).GetString();
        if (!Uri.TryCreate(opaUrl, UriKind.Absolute, out var url) || (url.Scheme != "http" && url.Scheme != "https") || url.Query.Length > 0)
            throw new SarkConfigException($"{Root}.opa.url: '{opaUrl}' must be an absolute http(s) URL without a query, like http://127.0.0.1:8181.");
        var opaPath = Require(c, "opa.path", Root).GetString().Trim('/');
        if (!OpaPath().IsMatch(opaPath))
            throw new SarkConfigException($"{Root}.opa.path: '{opaPath}' must be a document path like sark/authz/decision (letters, digits, '_', '-', separated by '/').");

        var embedded = c.GetConfig("embedded") ?? Config.Empty;
        return new PolicyOptions
        {
            Engine = engine,
            DefaultCacheTtl = ReadDuration(c, "default-cache-ttl", Root),
            CacheMaxEntries = ReadInt(c, "cache-max-entries", 16, 10_000_000, Root),
            DecideTimeout = ReadPositiveDuration(c, "decide-timeout", Root),
            Embedded = new EmbeddedPolicyOptions
            {
                Default = ReadEffect(c, "embedded.default", Root),
                Rules = ReadRules(c),
                Filters = ReadArguments(embedded, "filters", $"{Root}.embedded", allowDeny: false),
            },
            Opa = new OpaOptions
            {
                Url = url,
                Path = opaPath,
                Timeout = ReadPositiveDuration(c, "opa.timeout", Root),
                MaxConnections = ReadInt(c, "opa.max-connections", 1, 10_000, Root),
            },
        };
    }

    private static ImmutableArray<PolicyRule> ReadRules(Config c)
    {
        var key = $"{Root}.embedded.rules";
        var value = c.HasPath("embedded.rules") ? c.GetValue("embedded.rules") : null;
        if (value is null || value.IsEmpty)
            return [];
        var items = AsList(value)
            ?? throw new SarkConfigException($"{key}: must be a list of rule objects, like [ {{ name = admins, effect = allow, roles = [admin] }} ].");

        var rules = ImmutableArray.CreateBuilder<PolicyRule>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < items.Count; i++)
        {
            var item = items[i];
            if (!item.IsObject())
                throw new SarkConfigException($"{key}[{i}]: must be an object.");
            var rule = new Config(new HoconRoot(item));
            var name = rule.HasPath("name") ? rule.GetString("name", null) : null;
            if (string.IsNullOrWhiteSpace(name))
                throw new SarkConfigException($"{key}[{i}].name: missing; every rule needs a name (it is the reason decisions give).");
            var prefix = $"{key}[{i}] ('{name}')";
            if (!names.Add(name))
                throw new SarkConfigException($"{prefix}.name: another rule has the same name.");
            foreach (var field in item.GetObject().Items.Keys)
            {
                if (Array.IndexOf(RuleKeys, field) < 0)
                    throw new SarkConfigException($"{prefix}.{field}: not a rule key; use one of {string.Join(", ", RuleKeys)}. (An unknown key is refused: a misspelt selector would widen the rule.)");
            }

            var actions = ReadGlobs(rule, "actions", prefix);
            foreach (var action in actions)
            {
                if (!PolicyActions.All.Any(action.IsMatch))
                    throw new SarkConfigException($"{prefix}.actions: '{action}' matches none of {string.Join(", ", PolicyActions.All)}.");
            }

            var effect = ReadEffect(rule, "effect", prefix);
            var max = ReadSensitivity(rule, "max-sensitivity", prefix);
            var min = ReadSensitivity(rule, "min-sensitivity", prefix);
            if (min is { } lo && max is { } hi && lo > hi)
                throw new SarkConfigException($"{prefix}.min-sensitivity: must not be above max-sensitivity.");
            rules.Add(new PolicyRule
            {
                Name = name,
                Effect = effect,
                Subjects = ReadGlobs(rule, "subjects", prefix),
                Roles = ReadGlobs(rule, "roles", prefix),
                ExceptRoles = ReadGlobs(rule, "except-roles", prefix),
                Teams = ReadGlobs(rule, "teams", prefix),
                Actions = actions,
                Servers = ReadGlobs(rule, "servers", prefix),
                Tools = ReadGlobs(rule, "tools", prefix),
                MaxSensitivity = max,
                MinSensitivity = min,
                CacheTtl = rule.HasPath("cache-ttl") ? ReadDuration(rule, "cache-ttl", prefix) : null,
                Reason = rule.HasPath("reason") ? rule.GetString("reason") : null,
                Arguments = ReadArguments(rule, "arguments", prefix, allowDeny: true),
            });
        }

        return rules.ToImmutable();
    }

    private static ArgumentRules ReadArguments(Config c, string path, string prefix, bool allowDeny)
    {
        var value = c.HasPath(path) ? c.GetValue(path) : null;
        if (value is null || value.IsEmpty)
            return ArgumentRules.None;
        if (!value.IsObject())
            throw new SarkConfigException($"{prefix}.{path}: must be an object with {(allowDeny ? "deny-if-matches, " : "")}remove and redact.");
        foreach (var field in value.GetObject().Items.Keys)
        {
            if (Array.IndexOf(ArgumentKeys, field) < 0 || (!allowDeny && field == "deny-if-matches"))
                throw new SarkConfigException($"{prefix}.{path}.{field}: not a key here; use {(allowDeny ? "deny-if-matches, " : "")}remove or redact.");
        }

        var block = c.GetConfig(path);
        var patterns = ImmutableArray.CreateBuilder<ArgumentPattern>();
        var deny = block.HasPath("deny-if-matches") ? block.GetValue("deny-if-matches") : null;
        if (deny is not null && !deny.IsEmpty)
        {
            if (!deny.IsObject())
                throw new SarkConfigException($"{prefix}.{path}.deny-if-matches: must be an object of \"argument\" = \"regex\" pairs.");
            foreach (var (argument, regexValue) in deny.GetObject().Items)
            {
                var key = $"{prefix}.{path}.deny-if-matches.{argument}";
                if (!regexValue.IsString())
                    throw new SarkConfigException($"{key}: must be a regular expression string.");
                try
                {
                    patterns.Add(new ArgumentPattern(argument,
                        new Regex(regexValue.GetString(), RegexOptions.CultureInvariant, RegexTimeout)));
                }
                catch (ArgumentException ex)
                {
                    throw new SarkConfigException($"{key}: not a valid regular expression ({ex.Message}).", ex);
                }
            }
        }

        return new ArgumentRules(
            patterns.ToImmutable(),
            [.. ReadStringList(block, "remove", $"{prefix}.{path}")],
            [.. ReadStringList(block, "redact", $"{prefix}.{path}")]);
    }

    private static ImmutableArray<Glob> ReadGlobs(Config c, string path, string prefix)
    {
        var list = ReadStringList(c, path, prefix);
        var globs = ImmutableArray.CreateBuilder<Glob>(list.Count);
        foreach (var item in list)
            globs.Add(new Glob(item));
        return globs.MoveToImmutable();
    }

    private static List<string> ReadStringList(Config c, string path, string prefix)
    {
        if (!c.HasPath(path))
            return [];
        var v = c.GetValue(path);
        if (v is null || v.IsEmpty)
            return [];
        var items = AsList(v) ?? throw new SarkConfigException($"{prefix}.{path}: must be a list of strings, like [\"a\", \"b\"].");
        var list = new List<string>(items.Count);
        foreach (var item in items)
        {
            if (!item.IsString())
                throw new SarkConfigException($"{prefix}.{path}: must be a list of strings, like [\"a\", \"b\"].");
            var text = item.GetString();
            if (string.IsNullOrEmpty(text))
                throw new SarkConfigException($"{prefix}.{path}: must not contain empty strings.");
            list.Add(text);
        }

        return list;
    }

    /// <summary>
    /// The elements of a HOCON list, or null when the value is not one. Akka's parser reads
    /// <c>[]</c> as a value that is not an array and <c>[ ]</c> as an array of one empty value;
    /// both are the empty list here.
    /// </summary>
    private static List<HoconValue>? AsList(HoconValue value)
    {
        if (value.Values.Count == 1 && value.Values[0] is HoconArray array)
            return [.. array.Where(item => !item.IsEmpty)];
        return value.IsArray() ? [.. value.GetArray().Where(item => !item.IsEmpty)] : null;
    }

    private static PolicyEffect ReadEffect(Config c, string path, string prefix) => Require(c, path, prefix).GetString() switch
    {
        "allow" => PolicyEffect.Allow,
        "deny" => PolicyEffect.Deny,
        var other => throw new SarkConfigException($"{prefix}.{path}: '{other}' must be allow or deny."),
    };

    private static Sensitivity? ReadSensitivity(Config c, string path, string prefix)
    {
        if (!c.HasPath(path))
            return null;
        var text = c.GetString(path);
        return Sensitivities.TryParse(text, out var level)
            ? level
            : throw new SarkConfigException($"{prefix}.{path}: '{text}' must be low, medium, high or critical.");
    }

    private static HoconValue Require(Config c, string path, string prefix)
    {
        var v = c.HasPath(path) ? c.GetValue(path) : null;
        if (v is null || v.IsEmpty)
            throw new SarkConfigException($"{prefix}.{path}: missing.");
        return v;
    }

    private static TimeSpan ReadDuration(Config c, string path, string prefix)
    {
        Require(c, path, prefix);
        TimeSpan t;
        try
        {
            t = c.GetTimeSpan(path, null, allowInfinite: false);
        }
        catch (Exception ex)
        {
            throw new SarkConfigException($"{prefix}.{path}: '{c.GetString(path)}' is not a duration (for example 30s, 500ms, 2m).", ex);
        }

        if (t < TimeSpan.Zero)
            throw new SarkConfigException($"{prefix}.{path}: must not be negative.");
        return t;
    }

    private static TimeSpan ReadPositiveDuration(Config c, string path, string prefix)
    {
        var t = ReadDuration(c, path, prefix);
        return t > TimeSpan.Zero ? t : throw new SarkConfigException($"{prefix}.{path}: must be more than zero.");
    }

    private static int ReadInt(Config c, string path, int min, int max, string prefix)
    {
        var text = Require(c, path, prefix).GetString();
        if (!int.TryParse(text, out var v) || v < min || v > max)
            throw new SarkConfigException($"{prefix}.{path}: '{text}' must be a whole number from {min} to {max}.");
        return v;
    }

    [GeneratedRegex("^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$")]
    private static partial Regex OpaPath();
}
