using System.Collections.Immutable;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Sark.Actors.Policy;

/// <summary>The actions a policy decides on (DESIGN.md section 7).</summary>
public static class PolicyActions
{
    /// <summary>Call one tool of one server. The only action that carries parameters.</summary>
    public const string ToolInvoke = "tool:invoke";

    /// <summary>See one tool in a listing: a caller sees only the tools it may call.</summary>
    public const string ToolList = "tool:list";

    /// <summary>See one server in a listing.</summary>
    public const string ServerList = "server:list";

    /// <summary>Read one resource of one server (the MCP front door's <c>resources/read</c>); <c>tool.name</c> is the resource's URI.</summary>
    public const string ResourceRead = "resource:read";

    /// <summary>Get one prompt of one server (the MCP front door's <c>prompts/get</c>); <c>tool.name</c> is the prompt's name.</summary>
    public const string PromptGet = "prompt:get";

    /// <summary>Every action, for messages and configuration checks.</summary>
    public static readonly ImmutableArray<string> All = [ToolInvoke, ToolList, ServerList, ResourceRead, PromptGet];

    public static bool IsKnown(string action) => action is ToolInvoke or ToolList or ServerList or ResourceRead or PromptGet;
}

/// <summary>Sensitivity levels of servers and tools, in increasing order.</summary>
public enum Sensitivity
{
    Low = 0,
    Medium = 1,
    High = 2,
    Critical = 3,
}

/// <summary>Parsing of sensitivity levels as the catalog and the configuration write them.</summary>
public static class Sensitivities
{
    /// <summary>
    /// Reads <c>low|medium|high|critical</c> (ASCII case-insensitive). Anything else, including a
    /// missing level, counts as <see cref="Sensitivity.Critical"/>: an unknown level is never
    /// treated as harmless.
    /// </summary>
    public static Sensitivity ParseOrCritical(string? level) =>
        TryParse(level, out var value) ? value : Sensitivity.Critical;

    public static bool TryParse(string? level, out Sensitivity value)
    {
        switch (level)
        {
            case not null when level.Equals("low", StringComparison.OrdinalIgnoreCase):
                value = Sensitivity.Low;
                return true;
            case not null when level.Equals("medium", StringComparison.OrdinalIgnoreCase):
                value = Sensitivity.Medium;
                return true;
            case not null when level.Equals("high", StringComparison.OrdinalIgnoreCase):
                value = Sensitivity.High;
                return true;
            case not null when level.Equals("critical", StringComparison.OrdinalIgnoreCase):
                value = Sensitivity.Critical;
                return true;
            default:
                value = Sensitivity.Critical;
                return false;
        }
    }

    public static string ToWire(this Sensitivity level) => level switch
    {
        Sensitivity.Low => "low",
        Sensitivity.Medium => "medium",
        Sensitivity.High => "high",
        _ => "critical",
    };
}

/// <summary>Who asks: the caller's id, roles and teams. Never a token.</summary>
public sealed record PolicySubject(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("roles")] ImmutableArray<string> Roles,
    [property: JsonPropertyName("teams")] ImmutableArray<string> Teams)
{
    /// <summary>The subject of a <see cref="Caller"/>. The bearer token stays behind.</summary>
    public static PolicySubject From(Caller caller)
    {
        ArgumentNullException.ThrowIfNull(caller);
        return new PolicySubject(
            caller.Id,
            caller.Roles.IsDefault ? [] : caller.Roles,
            caller.Teams.IsDefault ? [] : caller.Teams);
    }
}

/// <summary>The server a decision is about, with its sensitivity level (<c>low|medium|high|critical</c>).</summary>
public sealed record PolicyServer(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("sensitivity")] string Sensitivity);

/// <summary>The tool a decision is about, with its sensitivity level.</summary>
public sealed record PolicyTool(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("sensitivity")] string Sensitivity);

/// <summary>Where the request came from: its id, when it was made (UTC) and the entry point (<c>mcp</c>, <c>rest</c>, <c>library</c>).</summary>
public sealed record PolicyContext(
    [property: JsonPropertyName("request_id")] string RequestId,
    [property: JsonPropertyName("timestamp")] DateTimeOffset Timestamp,
    [property: JsonPropertyName("source")] string Source);

/// <summary>
/// The one input document of every decision (DESIGN.md section 7), the same for the embedded
/// engine and for OPA, where it is sent as <c>{"input": ...}</c>. The context is not part of
/// the decision cache key: a policy that decides on the time or the request id must not be cached.
/// </summary>
public sealed record PolicyInput(
    [property: JsonPropertyName("subject")] PolicySubject Subject,
    [property: JsonPropertyName("action")] string Action,
    [property: JsonPropertyName("server")] PolicyServer Server,
    [property: JsonPropertyName("tool")] PolicyTool? Tool,
    [property: JsonPropertyName("parameters")] JsonElement? Parameters,
    [property: JsonPropertyName("context")] PolicyContext Context)
{
    private static readonly JsonElement EmptyObject = JsonElement.Parse("{}");

    /// <summary>The input of a tool call. Absent arguments are sent as <c>{}</c>.</summary>
    public static PolicyInput ForInvoke(
        Caller caller, ServerInfo server, ToolInfo tool, JsonElement? arguments, string requestId, DateTimeOffset timestamp, string source)
    {
        ArgumentNullException.ThrowIfNull(server);
        ArgumentNullException.ThrowIfNull(tool);
        return ForInvoke(caller, server.ServerName, server.SensitivityLevel, tool.ToolName, tool.SensitivityLevel, arguments, requestId, timestamp, source);
    }

    /// <inheritdoc cref="ForInvoke(Caller, ServerInfo, ToolInfo, JsonElement?, string, DateTimeOffset, string)"/>
    public static PolicyInput ForInvoke(
        Caller caller, string server, string serverSensitivity, string tool, string toolSensitivity,
        JsonElement? arguments, string requestId, DateTimeOffset timestamp, string source) =>
        new(PolicySubject.From(caller), PolicyActions.ToolInvoke, new PolicyServer(server, serverSensitivity),
            new PolicyTool(tool, toolSensitivity),
            arguments is { ValueKind: not (JsonValueKind.Undefined or JsonValueKind.Null) } a ? a : EmptyObject,
            new PolicyContext(requestId, timestamp, source));

    /// <summary>Whether <paramref name="tool"/> shows in the caller's tool listing. No parameters.</summary>
    public static PolicyInput ForToolList(Caller caller, ServerInfo server, ToolInfo tool, string requestId, DateTimeOffset timestamp, string source)
    {
        ArgumentNullException.ThrowIfNull(server);
        ArgumentNullException.ThrowIfNull(tool);
        return new(PolicySubject.From(caller), PolicyActions.ToolList, new PolicyServer(server.ServerName, server.SensitivityLevel),
            new PolicyTool(tool.ToolName, tool.SensitivityLevel), null, new PolicyContext(requestId, timestamp, source));
    }

    /// <summary>
    /// Reading a resource (<see cref="PolicyActions.ResourceRead"/>) or getting a prompt
    /// (<see cref="PolicyActions.PromptGet"/>): <c>tool</c> is the URI or the prompt name, with the
    /// server's sensitivity. No parameters.
    /// </summary>
    public static PolicyInput ForServerItem(
        Caller caller, string action, ServerInfo server, string item, string requestId, DateTimeOffset timestamp, string source)
    {
        ArgumentNullException.ThrowIfNull(server);
        return new(PolicySubject.From(caller), action, new PolicyServer(server.ServerName, server.SensitivityLevel),
            new PolicyTool(item, server.SensitivityLevel), null, new PolicyContext(requestId, timestamp, source));
    }

    /// <summary>Whether <paramref name="server"/> shows in the caller's server listing. No tool, no parameters.</summary>
    public static PolicyInput ForServerList(Caller caller, ServerInfo server, string requestId, DateTimeOffset timestamp, string source)
    {
        ArgumentNullException.ThrowIfNull(server);
        return new(PolicySubject.From(caller), PolicyActions.ServerList, new PolicyServer(server.ServerName, server.SensitivityLevel),
            null, null, new PolicyContext(requestId, timestamp, source));
    }
}

/// <summary>
/// A decision (DESIGN.md section 7). <see cref="FilteredParameters"/> absent (null) means
/// "send the caller's arguments as they are"; present means "send exactly this", even when it
/// is <c>{}</c>. <see cref="CacheTtl"/> is how long the decision may be reused for the same
/// subject, action, server, tool and arguments; zero means never. On the wire it is
/// <c>cache_ttl</c> in seconds.
/// </summary>
public sealed record PolicyDecision(
    [property: JsonPropertyName("allow")] bool Allow,
    [property: JsonPropertyName("reason")] string Reason,
    [property: JsonPropertyName("filtered_parameters")] JsonElement? FilteredParameters,
    [property: JsonPropertyName("audit_id")] string? AuditId,
    [property: JsonPropertyName("cache_ttl"), JsonConverter(typeof(SecondsConverter))] TimeSpan CacheTtl)
{
    public static PolicyDecision Allowed(string reason, TimeSpan cacheTtl, JsonElement? filteredParameters = null) =>
        new(true, reason, filteredParameters, null, cacheTtl);

    public static PolicyDecision Denied(string reason, TimeSpan? cacheTtl = null) =>
        new(false, reason, null, null, cacheTtl ?? TimeSpan.Zero);

    /// <summary>The arguments to send upstream: the filtered ones when the policy gave them, else the caller's.</summary>
    public JsonElement? EffectiveArguments(JsonElement? callerArguments) => FilteredParameters ?? callerArguments;
}

/// <summary>A <see cref="TimeSpan"/> as a number of seconds (fractions allowed), as OPA policies write <c>cache_ttl</c>.</summary>
public sealed class SecondsConverter : JsonConverter<TimeSpan>
{
    /// <summary>The longest TTL accepted from a policy document: one day.</summary>
    public static readonly TimeSpan Max = TimeSpan.FromDays(1);

    public override TimeSpan Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType != JsonTokenType.Number || !reader.TryGetDouble(out var seconds) || double.IsNaN(seconds) || seconds < 0)
            throw new JsonException("cache_ttl must be a non-negative number of seconds.");
        return seconds >= Max.TotalSeconds ? Max : TimeSpan.FromSeconds(seconds);
    }

    public override void Write(Utf8JsonWriter writer, TimeSpan value, JsonSerializerOptions options) =>
        writer.WriteNumberValue(Math.Round(value.TotalSeconds, 3));
}

/// <summary>The body of an OPA Data API query: <c>{"input": ...}</c>.</summary>
public sealed record OpaRequest([property: JsonPropertyName("input")] PolicyInput Input);

/// <summary>Source-generated JSON for the policy documents (what goes to OPA and what comes back).</summary>
[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(PolicyInput))]
[JsonSerializable(typeof(PolicyDecision))]
[JsonSerializable(typeof(OpaRequest))]
public sealed partial class PolicyJsonContext : JsonSerializerContext;
