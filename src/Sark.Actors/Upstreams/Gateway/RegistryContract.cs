using System.Collections.Immutable;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Sark.Actors.Upstreams.Gateway;

/// <summary>
/// <c>ServerInfo</c> on the wire (original spec section 1.5). Everything is nullable here so that a missing
/// field becomes a sentence from <see cref="RegistryContract"/>, not a serializer exception.
/// The last five fields are those <c>Sark.Host</c> adds; a plain registry leaves them out.
/// </summary>
internal sealed record ServerInfoDto(
    string? ServerId,
    string? ServerName,
    string? ServerUrl,
    string? SensitivityLevel,
    IReadOnlyList<string>? AuthorizedTeams,
    JsonElement? AccessRestrictions,
    string? HealthStatus,
    int? ToolsCount,
    DateTimeOffset? CreatedAt,
    DateTimeOffset? UpdatedAt,
    string? Description = null,
    string? ServerVersion = null,
    string? ProtocolVersion = null,
    string? Upstream = null,
    string? Transport = null);

/// <summary>One entry of <c>ToolInfo.parameters</c>: <c>{"name","type","required","description"}</c>.</summary>
internal sealed record ToolParameterDto(string? Name, string? Type, bool? Required, string? Description);

/// <summary><c>ToolInfo</c> on the wire (original spec section 1.5), plus the MCP <c>input_schema</c> that <c>Sark.Host</c> adds.</summary>
internal sealed record ToolInfoDto(
    string? ToolName,
    string? ServerName,
    string? Description,
    string? SensitivityLevel,
    IReadOnlyList<ToolParameterDto>? Parameters,
    IReadOnlyList<string>? SensitiveParams,
    IReadOnlyList<string>? RequiredCapabilities,
    JsonElement? InputSchema = null);

/// <summary>One page of <c>GET /api/v1/servers</c>: <c>{"servers":[…],"next_offset"?,"total"?}</c>.</summary>
internal sealed record ServerPageDto(IReadOnlyList<ServerInfoDto>? Servers, int? NextOffset = null, int? Total = null);

/// <summary>One page of <c>GET /api/v1/tools</c>: <c>{"tools":[…],"next_offset"?,"total"?}</c>.</summary>
internal sealed record ToolPageDto(IReadOnlyList<ToolInfoDto>? Tools, int? NextOffset = null, int? Total = null);

/// <summary>The body of <c>POST /api/v1/invoke</c>: <c>{"server","tool","parameters"}</c>.</summary>
internal sealed record InvokeRequestDto(string Server, string Tool, JsonElement Parameters);

/// <summary>
/// Source-generated JSON of the registry contract: snake_case names, unknown fields ignored,
/// absent optional fields left out when writing.
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip)]
[JsonSerializable(typeof(ServerInfoDto))]
[JsonSerializable(typeof(ToolInfoDto))]
[JsonSerializable(typeof(ServerPageDto))]
[JsonSerializable(typeof(ToolPageDto))]
[JsonSerializable(typeof(InvokeRequestDto))]
internal sealed partial class RegistryJsonContext : JsonSerializerContext;

/// <summary>One page of servers, mapped and checked, with the paging fields and the fingerprint <see cref="OffsetPager"/> needs.</summary>
internal sealed record ServerPage(ImmutableArray<ServerInfo> Servers, int? NextOffset, int? Total)
{
    /// <summary>A digest of the page's server ids.</summary>
    public string Fingerprint => OffsetPager.Fingerprint(Servers.Select(s => s.ServerId));
}

/// <summary>One page of tools, mapped and checked, with the paging fields and the fingerprint <see cref="OffsetPager"/> needs.</summary>
internal sealed record ToolPage(ImmutableArray<ToolInfo> Tools, int? NextOffset, int? Total)
{
    /// <summary>A digest of the page's <c>server/tool</c> names.</summary>
    public string Fingerprint => OffsetPager.Fingerprint(Tools.Select(t => t.ServerName + "/" + t.ToolName));
}

/// <summary>Either a value or a sentence saying why the registry's answer could not be used.</summary>
internal readonly record struct ContractResult<T>(T? Value, string? Error)
    where T : class
{
    /// <summary>True when <see cref="Value"/> holds the parsed answer.</summary>
    public bool IsOk => Error is null;

    public static ContractResult<T> Ok(T value) => new(value, null);

    public static ContractResult<T> Fail(string error) => new(null, error);
}

/// <summary>
/// Parses and checks the registry's answers and maps them to the library's <see cref="ServerInfo"/> and
/// <see cref="ToolInfo"/>. Pure; never throws on what the registry sent.
/// </summary>
internal static class RegistryContract
{
    /// <summary>The <see cref="ServerInfo.Transport"/> of a server reached through a gateway upstream.</summary>
    public const string Transport = "gateway";

    /// <summary>The sensitivity of a server or tool that does not state one.</summary>
    public const string DefaultSensitivity = "medium";

    private static readonly ImmutableArray<string> Sensitivities = ["low", "medium", "high", "critical"];

    /// <summary>Parses a <c>GET /api/v1/servers</c> body; <paramref name="upstream"/> names the gateway upstream it came from.</summary>
    public static ContractResult<ServerPage> ParseServerPage(ReadOnlySpan<byte> json, string upstream)
    {
        var dto = Deserialize(json, RegistryJsonContext.Default.ServerPageDto, "GET /api/v1/servers", out var error);
        if (dto is null)
            return ContractResult<ServerPage>.Fail(error!);
        if (PagingError(dto.NextOffset, dto.Total, "GET /api/v1/servers") is { } pagingError)
            return ContractResult<ServerPage>.Fail(pagingError);

        var servers = ImmutableArray.CreateBuilder<ServerInfo>(dto.Servers?.Count ?? 0);
        for (var i = 0; i < (dto.Servers?.Count ?? 0); i++)
        {
            var mapped = ToServerInfo(dto.Servers![i], upstream);
            if (!mapped.IsOk)
                return ContractResult<ServerPage>.Fail($"GET /api/v1/servers: servers[{i}]: {mapped.Error}");
            servers.Add(mapped.Value!);
        }

        return ContractResult<ServerPage>.Ok(new ServerPage(servers.MoveToImmutable(), dto.NextOffset, dto.Total));
    }

    /// <summary>Parses a <c>GET /api/v1/tools</c> body.</summary>
    public static ContractResult<ToolPage> ParseToolPage(ReadOnlySpan<byte> json)
    {
        var dto = Deserialize(json, RegistryJsonContext.Default.ToolPageDto, "GET /api/v1/tools", out var error);
        if (dto is null)
            return ContractResult<ToolPage>.Fail(error!);
        if (PagingError(dto.NextOffset, dto.Total, "GET /api/v1/tools") is { } pagingError)
            return ContractResult<ToolPage>.Fail(pagingError);

        var tools = ImmutableArray.CreateBuilder<ToolInfo>(dto.Tools?.Count ?? 0);
        for (var i = 0; i < (dto.Tools?.Count ?? 0); i++)
        {
            var mapped = ToToolInfo(dto.Tools![i]);
            if (!mapped.IsOk)
                return ContractResult<ToolPage>.Fail($"GET /api/v1/tools: tools[{i}]: {mapped.Error}");
            tools.Add(mapped.Value!);
        }

        return ContractResult<ToolPage>.Ok(new ToolPage(tools.MoveToImmutable(), dto.NextOffset, dto.Total));
    }

    /// <summary>Parses a bare <c>ServerInfo</c> (<c>GET /api/v1/servers/{name}</c>).</summary>
    public static ContractResult<ServerInfo> ParseServer(ReadOnlySpan<byte> json, string upstream)
    {
        var dto = Deserialize(json, RegistryJsonContext.Default.ServerInfoDto, "GET /api/v1/servers/{name}", out var error);
        if (dto is null)
            return ContractResult<ServerInfo>.Fail(error!);
        var mapped = ToServerInfo(dto, upstream);
        return mapped.IsOk ? mapped : ContractResult<ServerInfo>.Fail($"GET /api/v1/servers/{{name}}: {mapped.Error}");
    }

    /// <summary>Checks a wire <c>ServerInfo</c> and maps it; the URL is normalised as the original does (<c>http://h:1</c> → <c>http://h:1/</c>).</summary>
    public static ContractResult<ServerInfo> ToServerInfo(ServerInfoDto dto, string upstream)
    {
        ArgumentNullException.ThrowIfNull(dto);
        if (string.IsNullOrEmpty(dto.ServerId))
            return ContractResult<ServerInfo>.Fail("server_id is required");
        if (string.IsNullOrEmpty(dto.ServerName))
            return ContractResult<ServerInfo>.Fail($"server '{dto.ServerId}': server_name is required");
        var name = dto.ServerName;
        if (string.IsNullOrEmpty(dto.ServerUrl))
            return ContractResult<ServerInfo>.Fail($"server '{name}': server_url is required");
        // Informational only (nothing is fetched from it), so any absolute URI will do: a Sark
        // node lists its stdio servers as stdio://<name>.
        if (!Uri.TryCreate(dto.ServerUrl, UriKind.Absolute, out var url))
            return ContractResult<ServerInfo>.Fail($"server '{name}': server_url '{dto.ServerUrl}' is not an absolute URI");
        if (dto.HealthStatus is null)
            return ContractResult<ServerInfo>.Fail($"server '{name}': health_status is required");
        if (dto.ToolsCount is not { } toolsCount)
            return ContractResult<ServerInfo>.Fail($"server '{name}': tools_count is required");
        if (toolsCount < 0)
            return ContractResult<ServerInfo>.Fail($"server '{name}': tools_count must be 0 or more, got {toolsCount}");
        if (Sensitivity(dto.SensitivityLevel) is not { } sensitivity)
            return ContractResult<ServerInfo>.Fail($"server '{name}': sensitivity_level '{dto.SensitivityLevel}' is not one of low, medium, high, critical");

        return ContractResult<ServerInfo>.Ok(new ServerInfo(
            ServerId: dto.ServerId,
            ServerName: name,
            ServerUrl: url.ToString(),
            SensitivityLevel: sensitivity,
            AuthorizedTeams: Strings(dto.AuthorizedTeams),
            HealthStatus: dto.HealthStatus,
            ToolsCount: toolsCount,
            Upstream: upstream,
            Transport: Transport,
            Description: dto.Description,
            ServerVersion: dto.ServerVersion,
            ProtocolVersion: dto.ProtocolVersion,
            UpdatedAt: dto.UpdatedAt));
    }

    /// <summary>Checks a wire <c>ToolInfo</c> and maps it. A parameter without a type is <c>any</c>; without <c>required</c>, optional.</summary>
    public static ContractResult<ToolInfo> ToToolInfo(ToolInfoDto dto)
    {
        ArgumentNullException.ThrowIfNull(dto);
        if (string.IsNullOrEmpty(dto.ToolName))
            return ContractResult<ToolInfo>.Fail("tool_name is required");
        if (string.IsNullOrEmpty(dto.ServerName))
            return ContractResult<ToolInfo>.Fail($"tool '{dto.ToolName}': server_name is required");
        if (dto.Description is null)
            return ContractResult<ToolInfo>.Fail($"tool '{dto.ToolName}': description is required");
        if (Sensitivity(dto.SensitivityLevel) is not { } sensitivity)
            return ContractResult<ToolInfo>.Fail($"tool '{dto.ToolName}': sensitivity_level '{dto.SensitivityLevel}' is not one of low, medium, high, critical");

        var parameters = ImmutableArray.CreateBuilder<ToolParameter>(dto.Parameters?.Count ?? 0);
        foreach (var p in dto.Parameters ?? [])
        {
            if (string.IsNullOrEmpty(p?.Name))
                return ContractResult<ToolInfo>.Fail($"tool '{dto.ToolName}': a parameter has no name");
            parameters.Add(new ToolParameter(p.Name, string.IsNullOrEmpty(p.Type) ? "any" : p.Type, p.Required ?? false, p.Description));
        }

        return ContractResult<ToolInfo>.Ok(new ToolInfo(
            ToolName: dto.ToolName,
            ServerName: dto.ServerName,
            Description: dto.Description,
            SensitivityLevel: sensitivity,
            Parameters: parameters.MoveToImmutable(),
            SensitiveParams: Strings(dto.SensitiveParams),
            RequiredCapabilities: Strings(dto.RequiredCapabilities),
            InputSchema: dto.InputSchema is { ValueKind: JsonValueKind.Object } schema ? schema : null));
    }

    private static T? Deserialize<T>(ReadOnlySpan<byte> json, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type, string what, out string? error)
        where T : class
    {
        try
        {
            var value = JsonSerializer.Deserialize(json, type);
            error = value is null ? $"{what}: the registry answered JSON null instead of an object" : null;
            return value;
        }
        catch (JsonException e)
        {
            error = $"{what}: the registry's answer is not the expected JSON ({e.Message})";
            return null;
        }
    }

    private static string? PagingError(int? nextOffset, int? total, string what) =>
        nextOffset < 0 ? $"{what}: next_offset must be 0 or more, got {nextOffset}"
        : total < 0 ? $"{what}: total must be 0 or more, got {total}"
        : null;

    private static string? Sensitivity(string? level)
    {
        if (level is null)
            return DefaultSensitivity;
        foreach (var known in Sensitivities)
        {
            if (string.Equals(known, level, StringComparison.OrdinalIgnoreCase))
                return known;
        }

        return null;
    }

    private static ImmutableArray<string> Strings(IReadOnlyList<string>? values) =>
        values is null ? [] : [.. values.Where(v => v is not null)];
}
