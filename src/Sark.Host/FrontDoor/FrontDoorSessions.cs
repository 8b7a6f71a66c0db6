using System.Collections.Concurrent;
using System.Collections.Immutable;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;
using Sark.Actors.Catalog;

namespace Sark.Host.FrontDoor;

/// <summary>
/// The front door's open MCP sessions, and <c>notifications/tools/list_changed</c> to all of them
/// when the catalog's tool set changes. It waits on <see cref="CatalogView.NextChange"/> (no
/// message to any actor, nothing per session inside the actor system) and sends each session its
/// notification on its own task, so a slow session holds up nobody. Stateless mode has no
/// sessions, so nothing is sent there.
/// </summary>
internal sealed partial class FrontDoorSessions(IServiceProvider services, IHostApplicationLifetime lifetime, ILogger<FrontDoorSessions> log) : BackgroundService
{
    /// <summary>How long one session's notification may take before it is given up.</summary>
    private static readonly TimeSpan SendTimeout = TimeSpan.FromSeconds(5);

    private readonly ConcurrentDictionary<McpServer, byte> _sessions = new();

    /// <summary>Sessions open now.</summary>
    public int Count => _sessions.Count;

    /// <summary>
    /// Runs one session (the SDK's <c>RunSessionHandler</c>), known to this registry while it
    /// runs. <paramref name="inner"/> is the handler configured before this one, if any.
    /// </summary>
    public async Task RunSessionAsync(
        HttpContext context, McpServer session, Func<HttpContext, McpServer, CancellationToken, Task>? inner, CancellationToken cancellationToken)
    {
        _sessions.TryAdd(session, 0);
        try
        {
            await (inner is null ? session.RunAsync(cancellationToken) : inner(context, session, cancellationToken)).ConfigureAwait(false);
        }
        finally
        {
            _sessions.TryRemove(session, out _);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // The catalog exists once the actor system runs: read it after the host has started.
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using (lifetime.ApplicationStarted.Register(() => started.TrySetResult()))
        {
            try
            {
                await started.Task.WaitAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }

        var catalog = services.GetRequiredService<CatalogView>();
        var next = catalog.NextChange;
        var tools = ToolSet.Of(catalog.Current);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await next.WaitAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            next = catalog.NextChange;
            var now = ToolSet.Of(catalog.Current);
            if (now.SequenceEqual(tools))
                continue;
            tools = now;
            Notify(stoppingToken);
        }
    }

    /// <summary>Sends <c>list_changed</c> to every session, each on its own task; a closed session is dropped.</summary>
    private void Notify(CancellationToken stoppingToken)
    {
        LogToolsChanged(log, _sessions.Count);
        foreach (var session in _sessions.Keys)
            _ = SendAsync(session, stoppingToken);
    }

    private async Task SendAsync(McpServer session, CancellationToken stoppingToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        timeout.CancelAfter(SendTimeout);
        try
        {
            await session.SendNotificationAsync(NotificationMethods.ToolListChangedNotification, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // The session ended between the snapshot and the send, or its stream is stuck.
            LogSendFailed(log, session.SessionId, ex.Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Front door: the catalog's tools changed; notifying {Sessions} sessions")]
    private static partial void LogToolsChanged(ILogger logger, int sessions);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Front door: list_changed to session {SessionId} not sent: {Reason}")]
    private static partial void LogSendFailed(ILogger logger, string? sessionId, string reason);
}

/// <summary>What a tool listing shows of the catalog (server, tool, description), to tell a real change from a refresh. Pure.</summary>
internal static class ToolSet
{
    public static ImmutableArray<string> Of(CatalogSnapshot snapshot)
    {
        var keys = ImmutableArray.CreateBuilder<string>(snapshot.Tools.Length);
        foreach (var tool in snapshot.Tools)
            keys.Add(string.Concat(tool.ServerName, "\0", tool.ToolName, "\0", tool.Description));
        keys.Sort(StringComparer.Ordinal);
        return keys.MoveToImmutable();
    }
}
