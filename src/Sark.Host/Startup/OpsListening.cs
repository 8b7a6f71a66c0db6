using Akka.Actor;
using Sark.Actors.Hosting;

namespace Sark.Host.Startup;

/// <summary>
/// The node starts only once its ops console listens: a console that cannot bind its address
/// fails the start (<see cref="Sark.Actors.Ops.OpsBindException"/>, exit code 1), as Kestrel does.
/// </summary>
internal sealed class OpsListening(ActorSystem system) : IHostedService
{
    private static readonly TimeSpan BindTimeout = TimeSpan.FromSeconds(15);

    public async Task StartAsync(CancellationToken cancellationToken) =>
        await SarkOpsHostingExtensions.OpsListeningOf(system).WaitAsync(BindTimeout, cancellationToken).ConfigureAwait(false);

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
