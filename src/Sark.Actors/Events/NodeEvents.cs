using System.Text.Json;
using Sark.Actors.Configuration;

namespace Sark.Actors.Events;

/// <summary>What the node writes into its <see cref="EventJournal"/>: the data of each event type.</summary>
internal static class NodeEvents
{
    /// <summary>More catalog changes than this at once are one <c>catalog_changed</c> event, not one event per server.</summary>
    public const int MaxServerEventsPerChange = 100;

    /// <summary>An <c>upstream_state</c> event when the state or the breaker differs from <paramref name="previous"/>.</summary>
    public static void UpstreamStateChanged(EventJournal? journal, UpstreamStatus? previous, UpstreamStatus status)
    {
        if (journal is not null && (previous is null || previous.State != status.State || previous.Breaker != status.Breaker))
            UpstreamState(journal, status);
    }

    public static void UpstreamState(EventJournal journal, UpstreamStatus status) =>
        journal.AppendShared(GatewayEventTypes.UpstreamState, new UpstreamStateEvent(
            status.Name, status.Kind.ToConfigName(), ToSnake(status.State.ToString()), ToSnake(status.Breaker.ToString()), status.RestartCount, status.LastError),
            EventJsonContext.Default.UpstreamStateEvent);

    public static void Server(EventJournal journal, string type, string server, string upstream, int? toolsCount = null) =>
        journal.Append(type, new ServerEvent(server, upstream, toolsCount), EventJsonContext.Default.ServerEvent);

    public static void CatalogChanged(EventJournal journal, int registered, int removed, int toolsChanged) =>
        journal.Append(GatewayEventTypes.CatalogChanged, new CatalogChangedEvent(registered, removed, toolsChanged), EventJsonContext.Default.CatalogChangedEvent);

    public static void Invocation(EventJournal journal, string requestId, string server, string tool, string outcome, TimeSpan duration) =>
        journal.AppendInvocation(new InvocationEvent(requestId, server, tool, outcome, Math.Round(duration.TotalMilliseconds, 3)));

    /// <summary>The server named in an event's data (<c>{"server": ...}</c>), if any.</summary>
    public static string? ServerOf(GatewayEvent e)
    {
        try
        {
            using var json = JsonDocument.Parse(e.Data);
            return json.RootElement.ValueKind == JsonValueKind.Object
                && json.RootElement.TryGetProperty("server", out var s) && s.ValueKind == JsonValueKind.String ? s.GetString() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string ToSnake(string pascal) => pascal switch
    {
        "HalfOpen" => "half_open",
        _ => pascal.ToLowerInvariant(),
    };
}
