using System.Runtime.CompilerServices;
using Akka;
using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Sark.Actors.Configuration;
using Sark.Actors.Upstreams;
using Sark.Actors.Upstreams.Stdio;

namespace Sark.Actors.Hosting;

/// <summary>Akka.Hosting and DI registration of the Sark runtime.</summary>
public static class SarkHostingExtensions
{
    private static readonly ConditionalWeakTable<ActorSystem, SarkGateway> Gateways = new();

    /// <summary>
    /// Starts the Sark actor tree (<c>/user/sark</c>) in the actor system being built, and ties
    /// it to coordinated shutdown: calls in flight drain (up to <c>shutdown-drain</c>), then
    /// the upstreams stop and every child process is reaped.
    /// </summary>
    public static AkkaConfigurationBuilder WithSarkGateway(this AkkaConfigurationBuilder builder, SarkOptions options) =>
        builder.WithSarkGateway(options, connectionProps: null);

    internal static AkkaConfigurationBuilder WithSarkGateway(
        this AkkaConfigurationBuilder builder, SarkOptions options, Func<UpstreamOptions, IActorRef, Props>? connectionProps)
    {
        ArgumentNullException.ThrowIfNull(options);
        var stopBudget = StopBudget(options);
        builder.AddHocon(ShutdownPhases(options, stopBudget), HoconAddMode.Prepend);

        return builder.WithActors((system, registry, resolver) =>
        {
            var loggers = resolver.GetService<Microsoft.Extensions.Logging.ILoggerFactory>();
            var ops = SarkOpsHostingExtensions.SetupOf(builder) is { } setup && options.Node.Ops.Enabled
                ? new SarkRuntime.Ops(setup, resolver.GetService<Ops.RecentLogs>())
                : null;
            var (root, gateway) = SarkRuntime.Start(system, options, connectionProps, loggers, ops);
            registry.Register<SarkRoot>(root);
            Gateways.AddOrUpdate(system, gateway);

            var shutdown = CoordinatedShutdown.Get(system);
            shutdown.AddTask(CoordinatedShutdown.PhaseServiceRequestsDone, "sark-drain-calls", async () =>
            {
                await gateway.DrainAsync(options.Node.ShutdownDrain).ConfigureAwait(false);
                return Done.Instance;
            });
            // Alone, the upstreams stop once calls have drained. In a cluster they are sharding's
            // entities: cluster-sharding-shutdown-region hands them off first (each drains its
            // calls, then stops its process; calls routed to them meanwhile are buffered and
            // served at their new home), and the tree stops and the processes left are reaped
            // only after that, once the node is exiting.
            var stopPhase = options.Cluster.Enabled ? CoordinatedShutdown.PhaseClusterExitingDone : CoordinatedShutdown.PhaseServiceStop;
            shutdown.AddTask(stopPhase, "sark-stop-upstreams", async () =>
            {
                // Calls have drained: their audit events are all queued. Written before the tree
                // (and the writer with it) stops.
                if (gateway.Audit is { } audit)
                    await audit.FlushAsync(audit.Options.FlushTimeout).ConfigureAwait(false);
                try
                {
                    await root.GracefulStop(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
                }
                catch (TaskCanceledException)
                {
                    // Stopping took too long; the processes are reaped below regardless.
                }

                await ChildProcesses.StopAllAsync(stopBudget, system).ConfigureAwait(false);
                return Done.Instance;
            });
        });
    }

    /// <summary>Registers <see cref="ISarkGateway"/>; pair it with <see cref="WithSarkGateway(AkkaConfigurationBuilder, SarkOptions)"/>.</summary>
    public static IServiceCollection AddSarkGateway(this IServiceCollection services) =>
        services
            .AddSingleton<ISarkGateway>(sp => GatewayOf(sp.GetRequiredService<ActorSystem>()))
            .AddSingleton(sp => ((SarkGateway)GatewayOf(sp.GetRequiredService<ActorSystem>())).Events)
            .AddSingleton(sp => ((SarkGateway)GatewayOf(sp.GetRequiredService<ActorSystem>())).Catalog)
            .AddSingleton(sp => new Audit.AuditAccess(((SarkGateway)GatewayOf(sp.GetRequiredService<ActorSystem>())).Audit));

    /// <summary>The facade of an actor system that runs the Sark tree.</summary>
    public static ISarkGateway GatewayOf(ActorSystem system) =>
        Gateways.TryGetValue(system, out var gateway)
            ? gateway
            : throw new InvalidOperationException("This actor system does not run Sark: call WithSarkGateway(options) when building it.");

    /// <summary>How long stopping every child process may take: the longest stop-grace + kill-grace, plus a margin.</summary>
    private static TimeSpan StopBudget(SarkOptions options) => options.LongestUpstreamStop + TimeSpan.FromSeconds(2);

    /// <summary>
    /// Coordinated shutdown gives each phase 5 s by default: too short for <c>shutdown-drain</c>
    /// and for a graceful stop of the processes. These phases get what the options need.
    /// </summary>
    private static string ShutdownPhases(SarkOptions options, TimeSpan stopBudget)
    {
        var drain = (long)(options.Node.ShutdownDrain + TimeSpan.FromSeconds(2)).TotalMilliseconds;
        var stop = (long)(stopBudget + (options.Audit?.FlushTimeout ?? TimeSpan.Zero) + TimeSpan.FromSeconds(7)).TotalMilliseconds;
        var flush = (long)((options.Audit?.FlushTimeout ?? TimeSpan.Zero) + TimeSpan.FromSeconds(5)).TotalMilliseconds;
        // In a cluster the hand-off drains each entity's calls and stops its process, and the
        // tree stops once the node is exiting (see WithSarkGateway).
        var handOff = (long)(options.Node.ShutdownDrain + stopBudget + TimeSpan.FromSeconds(5)).TotalMilliseconds;
        var cluster = options.Cluster.Enabled
            ? $"""
              cluster-sharding-shutdown-region.timeout = {handOff}ms
              cluster-exiting-done.timeout = {stop}ms
              """
            : "";
        return $$"""
            akka.coordinated-shutdown.phases {
              service-requests-done.timeout = {{drain}}ms
              service-stop.timeout = {{stop}}ms
              {{cluster}}
              before-actor-system-terminate.timeout = {{flush}}ms
            }
            """;
    }
}
