using System.Collections.Concurrent;
using System.Collections.Immutable;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;
using Sark.Actors.Catalog;
using Sark.Host.Startup;

namespace Sark.Host.FrontDoor;

/// <summary>
/// The front door's open MCP sessions, and <c>notifications/tools/list_changed</c> to all of them
/// when the catalog's tool set changes or the policy is reloaded (what a caller may see may have
/// changed; a reload also sends <c>notifications/resources/list_changed</c> and
/// <c>notifications/prompts/list_changed</c>). It waits on <see cref="CatalogView.NextChange"/> and
/// <see cref="PolicyReloader.NextReload"/> (no message to any actor, nothing per session inside
/// the actor system) and sends each session its notifications on its own task, so a slow session
/// holds up nobody. Stateless mode has no sessions, so nothing is sent there.
/// </summary>
internal sealed partial class FrontDoorSessions(IServiceProvider services, IHostApplicationLifetime lifetime, ILogger<FrontDoorSessions> log) : BackgroundService
{
    /// <summary>How long one session's notification may take before it is given up.</summary>
    private static readonly TimeSpan SendTimeout = TimeSpan.FromSeconds(5);

    private static readonly string[] ToolsChanged = [NotificationMethods.ToolListChangedNotification];

    /// <summary>A reload may change every listing: the policy filters tools, servers, resources and prompts.</summary>
    private static readonly string[] AfterReload =
        [NotificationMethods.ToolListChangedNotification, NotificationMethods.ResourceListChangedNotification, NotificationMethods.PromptListChangedNotification];

    /// <summary>A task that never completes, when there is no reloader to wait on.</summary>
    private static readonly Task Never = new TaskCompletionSource().Task;

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
        var reloader = services.GetService<PolicyReloader>();
        var next = catalog.NextChange;
        var reloaded = reloader?.NextReload ?? Never;
        var tools = ToolSet.Of(catalog.Current);
        while (!stoppingToken.IsCancellationRequested)
        {
            Task woke;
            try
            {
                woke = await Task.WhenAny(next, reloaded).WaitAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            if (woke == reloaded)
            {
                // Reloads in a burst are told once: the notification goes after the last of them.
                reloaded = reloader!.NextReload;
                LogPolicyReloaded(log, _sessions.Count);
                Notify(AfterReload, stoppingToken);
                continue;
            }

            next = catalog.NextChange;
            var now = ToolSet.Of(catalog.Current);
            if (now.SequenceEqual(tools))
                continue;
            tools = now;
            LogToolsChanged(log, _sessions.Count);
            Notify(ToolsChanged, stoppingToken);
        }
    }

    /// <summary>Sends <paramref name="methods"/> to every session, each session on its own task; a closed session is dropped.</summary>
    private void Notify(string[] methods, CancellationToken stoppingToken)
    {
        foreach (var session in _sessions.Keys)
            _ = SendAsync(session, methods, stoppingToken);
    }

    private async Task SendAsync(McpServer session, string[] methods, CancellationToken stoppingToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        timeout.CancelAfter(SendTimeout);
        try
        {
            foreach (var method in methods)
                await session.SendNotificationAsync(method, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // The session ended between the snapshot and the send, or its stream is stuck.
            LogSendFailed(log, session.SessionId, ex.Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Front door: the catalog's tools changed; notifying {Sessions} sessions")]
    private static partial void LogToolsChanged(ILogger logger, int sessions);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Front door: the policy was reloaded; notifying {Sessions} sessions that their lists may have changed")]
    private static partial void LogPolicyReloaded(ILogger logger, int sessions);

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
