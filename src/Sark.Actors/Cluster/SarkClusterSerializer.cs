using System.Collections.Frozen;
using System.Runtime.Serialization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Akka.Actor;
using Akka.Serialization;
using Sark.Actors.Catalog;
using static Sark.Actors.Cluster.ClusterMessages;
using static Sark.Actors.Upstreams.UpstreamCommands;
using static Sark.Actors.Upstreams.UpstreamReplies;

namespace Sark.Actors.Cluster;

/// <summary>
/// The serializer of every <see cref="ISarkClusterMessage"/>: System.Text.Json (source-generated)
/// with a short, stable manifest per type. Actor references travel as their full path
/// (<see cref="Akka.Serialization.Serialization.SerializedActorPath"/>) and are resolved by the
/// receiving system's provider.
/// </summary>
public sealed class SarkClusterSerializer : SerializerWithStringManifest
{
    /// <summary>The serializer's identifier (stable; part of the wire format).</summary>
    public const int Id = 4117;

    private static readonly FrozenDictionary<Type, string> ManifestsByType = new Dictionary<Type, string>
    {
        [typeof(ClusterCall)] = "call",
        [typeof(WakeUpstream)] = "wake",
        [typeof(CallAccepted)] = "accepted",
        [typeof(CallProgress)] = "progress",
        [typeof(ClientRequest)] = "client-request",
        [typeof(ClientNotify)] = "client-notify",
        [typeof(ClientReply)] = "client-reply",
        [typeof(HostedStatus)] = "status",
        [typeof(UpstreamListing)] = "listing",
        [typeof(CatalogExpire)] = "expire",
        [typeof(SharedEvent)] = "event",
        [typeof(ForwardRequest)] = "forward",
        [typeof(RefreshCatalog)] = "refresh",
        [typeof(CancelCall)] = "cancel",
        [typeof(Operate)] = "operate",
        [typeof(ToolCallCompleted)] = "completed",
        [typeof(ToolCallFailed)] = "failed",
        [typeof(RequestCompleted)] = "request-completed",
        [typeof(OperatorDone)] = "operator-done",
        [typeof(OperatorFailed)] = "operator-failed",
        [typeof(CatalogCommands.Refreshed)] = "refreshed",
        [typeof(CatalogCommands.RefreshFailed)] = "refresh-failed",
    }.ToFrozenDictionary();

    private static readonly FrozenDictionary<string, Type> TypesByManifest =
        ManifestsByType.ToFrozenDictionary(p => p.Value, p => p.Key, StringComparer.Ordinal);

    private readonly ClusterJsonContext _json;

    public SarkClusterSerializer(ExtendedActorSystem system)
        : base(system)
    {
        _json = new ClusterJsonContext(new JsonSerializerOptions { Converters = { new ActorRefConverter(system) } });
    }

    /// <summary>Every type this serializer writes, with its manifest.</summary>
    public static IReadOnlyDictionary<Type, string> Manifests => ManifestsByType;

    /// <inheritdoc />
    public override int Identifier => Id;

    /// <inheritdoc />
    public override string Manifest(object o) =>
        ManifestsByType.TryGetValue(o.GetType(), out var manifest)
            ? manifest
            : throw new SerializationException($"{o.GetType().FullName} is marked ISarkClusterMessage but SarkClusterSerializer does not know it.");

    /// <inheritdoc />
    public override byte[] ToBinary(object obj) => JsonSerializer.SerializeToUtf8Bytes(obj, _json.GetTypeInfo(obj.GetType())
        ?? throw new SerializationException($"SarkClusterSerializer has no JSON contract for {obj.GetType().FullName}."));

    /// <inheritdoc />
    public override object FromBinary(byte[] bytes, string manifest)
    {
        if (!TypesByManifest.TryGetValue(manifest, out var type))
            throw new SerializationException($"SarkClusterSerializer does not know the manifest '{manifest}' (a node of another version?).");
        return JsonSerializer.Deserialize(bytes, _json.GetTypeInfo(type)!)
            ?? throw new SerializationException($"SarkClusterSerializer read null for '{manifest}'.");
    }

    /// <summary>An actor reference as its full path, resolved on the way in.</summary>
    private sealed class ActorRefConverter(ExtendedActorSystem system) : JsonConverter<IActorRef>
    {
        public override IActorRef Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            reader.GetString() is { Length: > 0 } path ? system.Provider.ResolveActorRef(path) : ActorRefs.Nobody;

        public override void Write(Utf8JsonWriter writer, IActorRef value, JsonSerializerOptions options) =>
            writer.WriteStringValue(Akka.Serialization.Serialization.SerializedActorPath(value));
    }
}

[JsonSourceGenerationOptions(UseStringEnumConverter = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ClusterCall))]
[JsonSerializable(typeof(WakeUpstream))]
[JsonSerializable(typeof(CallAccepted))]
[JsonSerializable(typeof(CallProgress))]
[JsonSerializable(typeof(ClientRequest))]
[JsonSerializable(typeof(ClientNotify))]
[JsonSerializable(typeof(ClientReply))]
[JsonSerializable(typeof(HostedStatus))]
[JsonSerializable(typeof(UpstreamListing))]
[JsonSerializable(typeof(CatalogExpire))]
[JsonSerializable(typeof(SharedEvent))]
[JsonSerializable(typeof(ForwardRequest))]
[JsonSerializable(typeof(RefreshCatalog))]
[JsonSerializable(typeof(CancelCall))]
[JsonSerializable(typeof(Operate))]
[JsonSerializable(typeof(ToolCallCompleted))]
[JsonSerializable(typeof(ToolCallFailed))]
[JsonSerializable(typeof(RequestCompleted))]
[JsonSerializable(typeof(OperatorDone))]
[JsonSerializable(typeof(OperatorFailed))]
[JsonSerializable(typeof(CatalogCommands.Refreshed))]
[JsonSerializable(typeof(CatalogCommands.RefreshFailed))]
internal sealed partial class ClusterJsonContext : JsonSerializerContext;
