using System.Runtime.InteropServices;
using Akka.Actor;
using Akka.Hosting;
using Sark.Actors.Configuration;
using Sark.Actors.Policy;

namespace Sark.Host.Startup;

/// <summary>
/// SIGHUP reloads the policy: the node reads its configuration again (the same file, or the
/// embedded default) and hands <c>sark.policy</c> to the decision point, which swaps the rules and
/// drops every cached decision. A configuration that does not load is logged and the running policy
/// stays. Other sections are not reloaded. A reload that took completes <see cref="NextReload"/>
/// (the front door then tells its sessions that their lists may have changed).
/// </summary>
internal sealed partial class PolicyReloader(Func<PolicyOptions?> readPolicy, ActorRegistry registry, ILogger<PolicyReloader> logger) : IHostedService, IDisposable
{
    private static readonly TimeSpan ReloadTimeout = TimeSpan.FromSeconds(10);
    private PosixSignalRegistration? _signal;
    private TaskCompletionSource _reloaded = NewSignal();

    /// <summary>
    /// Completes after the next reload that the decision point took (read it before waiting, as
    /// <c>CatalogView.NextChange</c>). Watchers wait on it instead of receiving a message.
    /// </summary>
    public Task NextReload => Volatile.Read(ref _reloaded).Task;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (!OperatingSystem.IsWindows())
        {
            _signal = PosixSignalRegistration.Create(PosixSignal.SIGHUP, context =>
            {
                context.Cancel = true;
                _ = ReloadAsync();
            });
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose() => _signal?.Dispose();

    /// <summary>Reads the policy again and swaps it in; true when the decision point took it.</summary>
    public async Task<bool> ReloadAsync()
    {
        PolicyOptions? policy;
        try
        {
            policy = readPolicy();
        }
        catch (SarkConfigException ex)
        {
            LogRejected(logger, ex.Message);
            return false;
        }

        if (policy is null || !registry.TryGet<PolicyDecisionPoint>(out var decisionPoint))
            return false;
        try
        {
            var reloaded = await decisionPoint.Ask<PolicyReplies.Reloaded>(new PolicyCommands.Reload(policy), ReloadTimeout).ConfigureAwait(false);
            LogReloaded(logger, reloaded.Engine, reloaded.Generation);
            Interlocked.Exchange(ref _reloaded, NewSignal()).TrySetResult();
            return true;
        }
        catch (AskTimeoutException)
        {
            LogRejected(logger, $"the decision point did not answer within {ReloadTimeout.TotalSeconds:0}s");
            return false;
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    [LoggerMessage(Level = LogLevel.Information, Message = "Policy reloaded on SIGHUP: engine {Engine}, generation {Generation}; cached decisions dropped")]
    private static partial void LogReloaded(ILogger logger, string engine, long generation);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Policy not reloaded on SIGHUP, the running policy stays: {Reason}")]
    private static partial void LogRejected(ILogger logger, string reason);
}
