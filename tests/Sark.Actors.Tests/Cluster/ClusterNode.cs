using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Sark.Actors.Configuration;
using Sark.Actors.Hosting;
using Sark.Actors.Upstreams;

namespace Sark.Actors.Tests.Cluster;

/// <summary>
/// One node of an in-process cluster: a host with <c>WithSarkCluster</c> and <c>WithSarkGateway</c>,
/// an actor system named sark on 127.0.0.1 and a free port, and short failure-detection, gossip
/// and resolver timings. With <c>serializeMessages</c>, every local message is serialized as if it
/// crossed nodes (<c>akka.actor.serialize-messages = on</c>). That cannot be on where a spec needs
/// failure detection: in Akka.NET 1.5.74 some of Akka's own local messages do not survive the
/// default serializer (<c>ClusterEvent.ReachabilityChanged</c> to the split-brain resolver,
/// Distributed Data's <c>ReadRepair</c>); they are dropped ("Swallowing exception during message
/// send"), so the resolver would never see a node become unreachable.
/// </summary>
internal sealed class ClusterNode : IAsyncDisposable
{
    /// <summary>Fast enough for specs on 2 shared cores; still well above a GC pause.</summary>
    private const string TestHocon = """
        akka.loglevel = WARNING
        akka.coordinated-shutdown.run-by-clr-shutdown-hook = off
        akka.cluster {
          # All three up together: the upstreams are placed once, over all three, with no rebalance.
          # A spec that loses the oldest node lowers it to 2 (docs/cluster-internals.md).
          min-nr-of-members = 3
          gossip-interval = 200ms
          leader-actions-interval = 200ms
          periodic-tasks-initial-delay = 100ms
          unreachable-nodes-reaper-interval = 250ms
          failure-detector {
            heartbeat-interval = 250ms
            acceptable-heartbeat-pause = 3s
          }
          distributed-data {
            gossip-interval = 250ms
            notify-subscribers-interval = 100ms
          }
          sharding {
            retry-interval = 250ms
            handoff-timeout = 10s
            entity-restart-backoff = 500ms
            coordinator-failure-backoff = 1s
            distributed-data.majority-min-cap = 2
          }
        }
        """;

    private readonly IHost _host;

    private ClusterNode(IHost host, string name)
    {
        _host = host;
        Name = name;
        System = host.Services.GetRequiredService<ActorSystem>();
        Gateway = (SarkGateway)SarkHostingExtensions.GatewayOf(System);
        Address = Akka.Cluster.Cluster.Get(System).SelfAddress;
    }

    public string Name { get; }

    public ActorSystem System { get; }

    public SarkGateway Gateway { get; }

    public Address Address { get; }

    public Akka.Cluster.Cluster Cluster => Akka.Cluster.Cluster.Get(System);

    /// <summary>
    /// Starts a node. <paramref name="seed"/>: the node to join (null: this node starts the cluster
    /// by joining itself). <paramref name="extraHocon"/> comes last, over the settings above (for example a victim that must not leave on terminate).
    /// </summary>
    public static async Task<ClusterNode> StartAsync(
        string name, SarkOptions shared, Address? seed, string[] roles, bool serializeMessages, string extraHocon = "",
        Func<UpstreamOptions, IActorRef, Props>? connectionProps = null)
    {
        var options = shared with
        {
            Cluster = shared.Cluster with
            {
                Enabled = true,
                Hostname = "127.0.0.1",
                Port = 0,
                SeedNodes = seed is null ? [] : [seed.ToString()],
                Roles = [.. roles],
                StableAfter = TimeSpan.FromSeconds(2),
            },
        };
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddAkka("sark", akka => akka
            .AddHocon($"akka.actor.serialize-messages = {(serializeMessages ? "on" : "off")}\n{TestHocon}\n{extraHocon}", HoconAddMode.Prepend)
            .WithSarkCluster(options)
            .WithSarkGateway(options, connectionProps));
        var host = builder.Build();
        await host.StartAsync();
        var node = new ClusterNode(host, name);
        if (seed is null)
            node.Cluster.Join(node.Address);
        return node;
    }

    /// <summary>The status of every upstream as this node reports it.</summary>
    public async Task<Dictionary<string, UpstreamStatus>> StatusesAsync() =>
        (await Gateway.GetUpstreamsAsync()).ToDictionary(s => s.Name);

    /// <summary>Stops the node gracefully (coordinated shutdown: leave, hand-off, processes stopped).</summary>
    public async Task LeaveAsync()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await _host.StopAsync(cts.Token);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!System.WhenTerminated.IsCompleted)
                await LeaveAsync();
        }
        finally
        {
            _host.Dispose();
        }
    }
}
