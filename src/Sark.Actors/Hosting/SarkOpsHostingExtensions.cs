using System.Collections.Immutable;
using System.Net;
using System.Runtime.CompilerServices;
using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Sark.Actors.Ops;
using Sark.Actors.Ops.Palettes;

namespace Sark.Actors.Hosting;

/// <summary>
/// The ops console (<c>/user/sark/ops</c>) through Akka.Hosting: <see cref="WithSarkOps"/> turns
/// it on (with <c>sark.node.ops</c> from the options given to <c>WithSarkGateway</c>), and
/// <see cref="WithSarkOpsPalette"/> adds an application's own palette.
/// </summary>
public static class SarkOpsHostingExtensions
{
    private static readonly ConditionalWeakTable<AkkaConfigurationBuilder, OpsSetup> Setups = new();
    private static readonly ConditionalWeakTable<ActorSystem, Task<IPEndPoint>> Listening = new();

    /// <summary>
    /// Runs the command host in the Sark tree when <c>sark.node.ops.enabled</c>.
    /// <paramref name="config"/> is the configuration <c>config show</c> shows (secrets redacted).
    /// </summary>
    public static AkkaConfigurationBuilder WithSarkOps(this AkkaConfigurationBuilder builder, Akka.Configuration.Config? config = null)
    {
        var setup = Setups.GetValue(builder, _ => new OpsSetup());
        setup.Enabled = true;
        setup.Config = config ?? setup.Config;
        return builder;
    }

    /// <summary>Adds a palette to the console (and turns the console on). A palette with the name of an earlier one replaces it.</summary>
    public static AkkaConfigurationBuilder WithSarkOpsPalette(this AkkaConfigurationBuilder builder, OpsPalette palette)
    {
        ArgumentNullException.ThrowIfNull(palette);
        var setup = Setups.GetValue(builder, _ => new OpsSetup());
        setup.Enabled = true;
        setup.Palettes.Add(palette);
        return builder;
    }

    /// <summary>Keeps the last <paramref name="capacity"/> log lines in memory for <c>log peek</c> (an <see cref="ILoggerProvider"/>).</summary>
    public static IServiceCollection AddSarkOpsLogs(this IServiceCollection services, int capacity = 1000)
    {
        var ring = new RecentLogs(capacity);
        return services.AddSingleton(ring).AddSingleton<ILoggerProvider>(ring);
    }

    /// <summary>Where the console listens, once it does; faults when it could not bind.</summary>
    public static Task<IPEndPoint> OpsListeningOf(ActorSystem system) =>
        Listening.TryGetValue(system, out var task) ? task : Task.FromException<IPEndPoint>(new InvalidOperationException("The ops console is not enabled."));

    /// <summary>The built-in palettes, in catalogue order.</summary>
    internal static ImmutableArray<OpsPalette> BuiltIn() =>
    [
        new ActorPalette(), new UpstreamPalette(), new BreakerPalette(), new ToolsPalette(), new CallPalette(), new CachePalette(),
        new StreamPalette(), new PolicyPalette(), new AuditPalette(), new LogPalette(), new ConfigPalette(), new ClusterPalette(),
    ];

    internal static OpsSetup? SetupOf(AkkaConfigurationBuilder builder) => Setups.TryGetValue(builder, out var setup) && setup.Enabled ? setup : null;

    internal static void Record(ActorSystem system, Task<IPEndPoint> listening) => Listening.AddOrUpdate(system, listening);

    /// <summary>What the builder asked for.</summary>
    internal sealed class OpsSetup
    {
        public bool Enabled { get; set; }

        public Akka.Configuration.Config? Config { get; set; }

        public List<OpsPalette> Palettes { get; } = [];

        /// <summary>Built-in palettes, then the application's: a later one of the same name wins.</summary>
        public ImmutableDictionary<string, OpsPalette> AllPalettes()
        {
            var all = ImmutableDictionary.CreateBuilder<string, OpsPalette>(StringComparer.Ordinal);
            foreach (var palette in BuiltIn().Concat(Palettes))
                all[palette.Definition.Name] = palette;
            return all.ToImmutable();
        }
    }
}
