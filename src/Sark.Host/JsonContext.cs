using System.Text.Json;
using System.Text.Json.Serialization;
using Sark.Actors;
using Sark.Actors.Configuration;
using Sark.Host.Api;
using Sark.Host.Health;

namespace Sark.Host;

/// <summary>
/// Source-generated JSON of every body the node writes: snake_case property names (the gateway
/// REST contract) and enums as lower snake-case strings.
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    Converters = [typeof(SnakeCaseEnumConverter<BreakerState>), typeof(SnakeCaseEnumConverter<UpstreamState>)])]
[JsonSerializable(typeof(ServerInfo))]
[JsonSerializable(typeof(ServerListResponse))]
[JsonSerializable(typeof(ToolListResponse))]
[JsonSerializable(typeof(InvokeResponse))]
[JsonSerializable(typeof(UpstreamListResponse))]
[JsonSerializable(typeof(InvalidateResponse))]
[JsonSerializable(typeof(ErrorResponse))]
[JsonSerializable(typeof(HealthResponse))]
[JsonSerializable(typeof(LivenessResponse))]
[JsonSerializable(typeof(ReadinessResponse))]
[JsonSerializable(typeof(DependencyCheck))]
internal sealed partial class NodeJsonContext : JsonSerializerContext;

/// <summary>Writes an enum as its lower snake-case name (<c>HalfOpen</c> is <c>half_open</c>).</summary>
internal sealed class SnakeCaseEnumConverter<TEnum>() : JsonStringEnumConverter<TEnum>(JsonNamingPolicy.SnakeCaseLower, allowIntegerValues: false)
    where TEnum : struct, Enum;
