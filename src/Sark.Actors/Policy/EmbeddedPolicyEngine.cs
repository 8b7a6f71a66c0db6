using System.Buffers;
using System.Collections.Immutable;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Sark.Actors.Policy;

/// <summary>
/// The embedded engine: ordered rules from <c>sark.policy.embedded</c>, evaluated in process.
/// Pure and thread-safe (it holds only immutable compiled rules), so it is tested without
/// actors and can be called from anywhere.
/// </summary>
/// <remarks>
/// <see cref="Explain"/> also names the rule that decided (the ops console's <c>policy explain</c>).
/// Semantics (docs/policy.md has the full reference):
/// <list type="number">
/// <item>A rule applies when every selector it sets matches the input.</item>
/// <item>A deny that applies wins over every allow, whatever the order of the rules
/// (the original SARK's deny set did not override its allow). An allow rule whose
/// <c>deny-if-matches</c> matches an argument is such a deny too.</item>
/// <item>Otherwise an allow that applies allows; its reason and TTL come from the first
/// allowing rule (the TTL is the shortest of all allowing rules). The arguments of a
/// <c>tool:invoke</c> pass through the remove/redact filters of every allowing rule and the
/// global filters; <see cref="PolicyDecision.FilteredParameters"/> is set only when a filter
/// changed something.</item>
/// <item>Otherwise the default applies (deny unless configured); a default deny is never cached.</item>
/// </list>
/// Listings (<c>tool:list</c>, <c>server:list</c>) have no arguments: rules that deny on
/// arguments do not hide a tool, and for <c>server:list</c> an allow rule's <c>tools</c> is
/// ignored (a server is listed when some tool of it may be allowed) while a deny rule that
/// names <c>tools</c> does not hide the server.
/// </remarks>
public sealed class EmbeddedPolicyEngine
{
    /// <summary>What a redacted value becomes.</summary>
    public const string Redacted = "[REDACTED]";

    private readonly CompiledRule[] _rules;
    private readonly PolicyEffect _default;
    private readonly TimeSpan _defaultTtl;
    private readonly CompiledFilter _global;

    public EmbeddedPolicyEngine(EmbeddedPolicyOptions options, TimeSpan defaultCacheTtl)
    {
        ArgumentNullException.ThrowIfNull(options);
        _rules = new CompiledRule[options.Rules.Length];
        for (var i = 0; i < _rules.Length; i++)
            _rules[i] = new CompiledRule(options.Rules[i]);
        _default = options.Default;
        _defaultTtl = defaultCacheTtl;
        _global = new CompiledFilter(options.Filters);
        ReadsArguments = _global.Any || _rules.Any(r => r.Filter.Any || r.Rule.Arguments.DenyIfMatches.Length > 0);
    }

    /// <summary>
    /// Whether any decision depends on a call's arguments (a <c>deny-if-matches</c>, or a filter
    /// that removes or redacts). When none does, a decision holds for every set of arguments and
    /// the cache keys it without them.
    /// </summary>
    public bool ReadsArguments { get; }

    public EmbeddedPolicyEngine(PolicyOptions options)
        : this(options.Embedded, options.DefaultCacheTtl)
    {
    }

    /// <summary>What <see cref="Explain"/> names when no rule decided: the engine's default.</summary>
    public const string DefaultRule = "(default)";

    /// <summary>What <see cref="Explain"/> names when the action is not one the policy knows.</summary>
    public const string UnknownActionRule = "(unknown action)";

    public PolicyDecision Evaluate(PolicyInput input) => Decide(input, out _);

    /// <summary>The decision and the rule that made it: the deny that won, the first allowing rule, or <see cref="DefaultRule"/>.</summary>
    public PolicyExplanation Explain(PolicyInput input)
    {
        var decision = Decide(input, out var rule);
        return new PolicyExplanation(decision, rule, "embedded");
    }

    private PolicyDecision Decide(PolicyInput input, out string rule)
    {
        ArgumentNullException.ThrowIfNull(input);
        rule = UnknownActionRule;
        if (!PolicyActions.IsKnown(input.Action))
            return PolicyDecision.Denied($"'{input.Action}' is not an action; use one of {string.Join(", ", PolicyActions.All)}.");

        var level = Sensitivities.ParseOrCritical(input.Server.Sensitivity);
        if (input.Tool is { } tool)
        {
            var toolLevel = Sensitivities.ParseOrCritical(tool.Sensitivity);
            if (toolLevel > level)
                level = toolLevel;
        }

        JsonElement? args = input.Action == PolicyActions.ToolInvoke ? input.Parameters : null;
        var rented = _rules.Length > 64 ? ArrayPool<int>.Shared.Rent(_rules.Length) : null;
        var allowing = rented is null ? stackalloc int[_rules.Length] : rented.AsSpan(0, _rules.Length);
        try
        {
            var count = 0;
            for (var i = 0; i < _rules.Length; i++)
            {
                var compiled = _rules[i];
                if (!compiled.Applies(input, level))
                    continue;
                rule = compiled.Rule.Name;
                var patterns = compiled.Rule.Arguments.DenyIfMatches;
                if (compiled.Rule.Effect == PolicyEffect.Deny)
                {
                    if (patterns.Length == 0)
                        return PolicyDecision.Denied(compiled.DenyReason, compiled.Rule.CacheTtl);
                    if (args is { } a && FirstMatch(patterns, a) is { } key)
                        return DeniedOnArgument(compiled, key);
                    continue;
                }

                if (patterns.Length > 0 && args is { } b && FirstMatch(patterns, b) is { } k)
                    return DeniedOnArgument(compiled, k);
                allowing[count++] = i;
            }

            if (count == 0)
            {
                rule = DefaultRule;
                return _default == PolicyEffect.Deny
                    ? PolicyDecision.Denied(NoRuleReason(input))
                    : PolicyDecision.Allowed("Allowed by the default of the embedded policy.", _defaultTtl, Filter(args, allowing[..0]));
            }

            var first = _rules[allowing[0]];
            rule = first.Rule.Name;
            var ttl = first.Rule.CacheTtl ?? _defaultTtl;
            for (var i = 1; i < count; i++)
            {
                var other = _rules[allowing[i]].Rule.CacheTtl ?? _defaultTtl;
                if (other < ttl)
                    ttl = other;
            }

            return PolicyDecision.Allowed(first.AllowReason, ttl, Filter(args, allowing[..count]));
        }
        finally
        {
            if (rented is not null)
                ArrayPool<int>.Shared.Return(rented);
        }
    }

    private static PolicyDecision DeniedOnArgument(CompiledRule rule, string key) => key.Length == 0
        ? PolicyDecision.Denied($"Denied by rule '{rule.Rule.Name}': an argument could not be checked in time.")
        : PolicyDecision.Denied(rule.Rule.Reason ?? $"Denied by rule '{rule.Rule.Name}': argument '{key}' is not allowed.", rule.Rule.CacheTtl);

    private static string NoRuleReason(PolicyInput input) => input.Tool is { } tool
        ? $"No policy rule allows {input.Action} of '{tool.Name}' on '{input.Server.Name}' for this caller."
        : $"No policy rule allows {input.Action} of '{input.Server.Name}' for this caller.";

    /// <summary>The key of the first argument that matches its pattern; "" when a match timed out (deny); null when none matches.</summary>
    private static string? FirstMatch(ImmutableArray<ArgumentPattern> patterns, JsonElement args)
    {
        foreach (var pattern in patterns)
        {
            try
            {
                if (AnyValueMatches(args, pattern.KeyUtf8, pattern))
                    return pattern.Key;
            }
            catch (RegexMatchTimeoutException)
            {
                return "";
            }
        }

        return null;
    }

    private static bool AnyValueMatches(JsonElement element, byte[] key, ArgumentPattern pattern)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    if (KeyEquals(property, key) && pattern.Pattern.IsMatch(ValueText(property.Value)))
                        return true;
                    if (AnyValueMatches(property.Value, key, pattern))
                        return true;
                }

                return false;
            case JsonValueKind.Array:
                foreach (var item in element.EnumerateArray())
                {
                    if (AnyValueMatches(item, key, pattern))
                        return true;
                }

                return false;
            default:
                return false;
        }
    }

    private static string ValueText(JsonElement value) =>
        value.ValueKind == JsonValueKind.String ? value.GetString()! : value.GetRawText();

    private static bool KeyEquals(JsonProperty property, byte[] key)
    {
        var raw = JsonMarshal.GetRawUtf8PropertyName(property);
        return raw.IndexOf((byte)'\\') < 0
            ? System.Text.Ascii.EqualsIgnoreCase(raw, key)
            : System.Text.Ascii.EqualsIgnoreCase(Encoding.UTF8.GetBytes(property.Name), key);
    }

    /// <summary>Applies the global filters and those of the allowing rules; null when nothing changed.</summary>
    private JsonElement? Filter(JsonElement? args, ReadOnlySpan<int> allowing)
    {
        if (args is not { ValueKind: JsonValueKind.Object } a)
            return null;
        var filters = new Filters(_global, _rules, allowing);
        if (!filters.Any || !Touches(a, ref filters))
            return null;
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
            WriteFiltered(writer, a, ref filters);
        return JsonElement.Parse(buffer.WrittenSpan);
    }

    private static bool Touches(JsonElement element, ref Filters filters)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    if (filters.ActionFor(property) != FilterAction.Keep || Touches(property.Value, ref filters))
                        return true;
                }

                return false;
            case JsonValueKind.Array:
                foreach (var item in element.EnumerateArray())
                {
                    if (Touches(item, ref filters))
                        return true;
                }

                return false;
            default:
                return false;
        }
    }

    private static void WriteFiltered(Utf8JsonWriter writer, JsonElement element, ref Filters filters)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                writer.WriteStartObject();
                foreach (var property in element.EnumerateObject())
                {
                    switch (filters.ActionFor(property))
                    {
                        case FilterAction.Remove:
                            break;
                        case FilterAction.Redact:
                            writer.WriteString(property.Name, Redacted);
                            break;
                        default:
                            writer.WritePropertyName(property.Name);
                            WriteFiltered(writer, property.Value, ref filters);
                            break;
                    }
                }

                writer.WriteEndObject();
                break;
            case JsonValueKind.Array:
                writer.WriteStartArray();
                foreach (var item in element.EnumerateArray())
                    WriteFiltered(writer, item, ref filters);
                writer.WriteEndArray();
                break;
            default:
                element.WriteTo(writer);
                break;
        }
    }

    private enum FilterAction
    {
        Keep,
        Redact,
        Remove,
    }

    /// <summary>The filters in force for one decision: the global ones and those of the allowing rules.</summary>
    private readonly ref struct Filters(CompiledFilter global, CompiledRule[] rules, ReadOnlySpan<int> allowing)
    {
        private readonly ReadOnlySpan<int> _allowing = allowing;

        public bool Any
        {
            get
            {
                if (global.Any)
                    return true;
                foreach (var i in _allowing)
                {
                    if (rules[i].Filter.Any)
                        return true;
                }

                return false;
            }
        }

        public FilterAction ActionFor(JsonProperty property)
        {
            var action = global.ActionFor(property);
            foreach (var i in _allowing)
            {
                if (action == FilterAction.Remove)
                    break;
                var other = rules[i].Filter.ActionFor(property);
                if (other > action)
                    action = other;
            }

            return action;
        }
    }

    private sealed class CompiledFilter(ArgumentRules rules)
    {
        private readonly byte[][] _remove = [.. rules.Remove.Select(Encoding.UTF8.GetBytes)];
        private readonly byte[][] _redact = [.. rules.Redact.Select(Encoding.UTF8.GetBytes)];

        public bool Any => _remove.Length > 0 || _redact.Length > 0;

        public FilterAction ActionFor(JsonProperty property)
        {
            foreach (var key in _remove)
            {
                if (KeyEquals(property, key))
                    return FilterAction.Remove;
            }

            foreach (var key in _redact)
            {
                if (KeyEquals(property, key))
                    return FilterAction.Redact;
            }

            return FilterAction.Keep;
        }
    }

    private sealed class CompiledRule
    {
        public CompiledRule(PolicyRule rule)
        {
            Rule = rule;
            Filter = new CompiledFilter(rule.Arguments);
            AllowReason = rule.Reason ?? $"Allowed by rule '{rule.Name}'.";
            DenyReason = rule.Reason ?? $"Denied by rule '{rule.Name}'.";
        }

        public PolicyRule Rule { get; }

        public CompiledFilter Filter { get; }

        public string AllowReason { get; }

        public string DenyReason { get; }

        public bool Applies(PolicyInput input, Sensitivity level)
        {
            var rule = Rule;
            if (!AnyMatch(rule.Actions, input.Action)
                || !AnyMatch(rule.Subjects, input.Subject.Id)
                || !AnyMatchAny(rule.Roles, input.Subject.Roles)
                || !AnyMatchAny(rule.Teams, input.Subject.Teams)
                || !AnyMatch(rule.Servers, input.Server.Name))
                return false;
            if (rule.ExceptRoles.Length > 0 && AnyMatchAny(rule.ExceptRoles, input.Subject.Roles))
                return false;
            if (rule.Tools.Length > 0)
            {
                if (input.Tool is { } tool)
                {
                    if (!AnyMatch(rule.Tools, tool.Name))
                        return false;
                }
                else if (rule.Effect == PolicyEffect.Deny)
                {
                    return false;
                }
            }

            return (rule.MaxSensitivity is not { } max || level <= max)
                && (rule.MinSensitivity is not { } min || level >= min);
        }

        /// <summary>An empty selector matches anything.</summary>
        private static bool AnyMatch(ImmutableArray<Glob> globs, string value)
        {
            if (globs.Length == 0)
                return true;
            foreach (var glob in globs)
            {
                if (glob.IsMatch(value))
                    return true;
            }

            return false;
        }

        /// <summary>An empty selector matches anything; otherwise one of the values must match one of the globs.</summary>
        private static bool AnyMatchAny(ImmutableArray<Glob> globs, ImmutableArray<string> values)
        {
            if (globs.Length == 0)
                return true;
            if (values.IsDefaultOrEmpty)
                return false;
            foreach (var value in values)
            {
                foreach (var glob in globs)
                {
                    if (glob.IsMatch(value))
                        return true;
                }
            }

            return false;
        }
    }
}

/// <summary>A decision with the rule that made it (<c>policy explain</c>).</summary>
/// <param name="Rule">The deciding rule's name, <see cref="EmbeddedPolicyEngine.DefaultRule"/>, or for OPA <c>opa:&lt;path&gt;</c>.</param>
/// <param name="Engine"><c>embedded</c> or <c>opa</c>.</param>
public sealed record PolicyExplanation(PolicyDecision Decision, string Rule, string Engine);
