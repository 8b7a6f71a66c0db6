using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Sark.Integration.Tests.Infrastructure;
using Sark.Integration.Tests.Ops;

namespace Sark.Integration.Tests.Cluster;

/// <summary>
/// Three node processes on loopback as one Akka.Cluster: free ports for HTTP, ops and Akka.Remote,
/// every node a seed, a short failure detector and split-brain resolver (stable-after 2 s) so that a
/// killed node is downed within seconds, and the same upstream configuration on every node.
/// Nodes are started, killed (SIGKILL, with whatever they started) and restarted by index (0..2).
/// </summary>
internal sealed class NodeCluster : IAsyncDisposable
{
    public const int Size = 3;

    /// <summary>Joining, downing and handing over are each bounded by this on a loaded 2-core machine.</summary>
    public static readonly TimeSpan MembershipTimeout = TimeSpan.FromSeconds(40);

    private readonly NodeProcess?[] _nodes = new NodeProcess?[Size];
    private readonly string?[] _ops = new string?[Size];
    private readonly int[] _remotePorts;
    private readonly string _upstreams;

    private NodeCluster(int[] remotePorts, string upstreams)
    {
        _remotePorts = remotePorts;
        _upstreams = upstreams;
    }

    /// <summary>The member address of node <paramref name="index"/>.</summary>
    public string Address(int index) => $"akka.tcp://sark@127.0.0.1:{_remotePorts[index].ToString(CultureInfo.InvariantCulture)}";

    public NodeProcess Node(int index) => _nodes[index] ?? throw new InvalidOperationException($"Node {index + 1} is not running.");

    /// <summary>The ops console address of node <paramref name="index"/>.</summary>
    public string Ops(int index) => _ops[index] ?? throw new InvalidOperationException($"Node {index + 1} is not running.");

    /// <summary>Starts the three nodes at once (each with <paramref name="sark"/> inside <c>sark { }</c>) and waits until each listens.</summary>
    public static async Task<NodeCluster> StartAsync(string sark)
    {
        var cluster = new NodeCluster(FreePorts(Size), sark);
        try
        {
            await Task.WhenAll(Enumerable.Range(0, Size).Select(cluster.StartNodeAsync));
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>The configuration of node <paramref name="index"/>.</summary>
    public string Hocon(int index) => $$"""
        sark {
          node.shutdown-drain = 2s
          cluster {
            enabled = true
            hostname = "127.0.0.1"
            port = {{_remotePorts[index].ToString(CultureInfo.InvariantCulture)}}
            seed-nodes = [{{string.Join(", ", Enumerable.Range(0, Size).Select(i => NodeConfigs.Quote(Address(i))))}}]
            split-brain-resolver.stable-after = 2s
          }
          {{_upstreams}}
        }
        akka.cluster {
          failure-detector { heartbeat-interval = 500ms, acceptable-heartbeat-pause = 2s, threshold = 8 }
          down-removal-margin = 1s
          retry-unsuccessful-join-after = 1s
          seed-node-timeout = 2s
        }
        """;

    /// <summary>Starts (or restarts) node <paramref name="index"/> on its own cluster port.</summary>
    public async Task StartNodeAsync(int index)
    {
        var node = await NodeProcess.StartAsync(Hocon(index));
        _nodes[index] = node;
        _ops[index] = await OpsNodes.ConsoleAddressAsync(node);
    }

    /// <summary>SIGKILL node <paramref name="index"/>: no leave, no goodbye. Its children (stdio upstreams) go with it.</summary>
    public async Task KillAsync(int index)
    {
        var node = Node(index);
        var children = ProcessTools.ChildrenOf(node.ProcessId);
        await ProcessTools.SignalAsync(node.ProcessId, "KILL");
        foreach (var pid in children)
            ProcessTools.KillQuietly(pid);
        Assert.Empty(await ProcessTools.WaitUntilGoneAsync([node.ProcessId, .. children], TimeSpan.FromSeconds(10)));
        _nodes[index] = null;
        _ops[index] = null;
        await node.DisposeAsync();
    }

    /// <summary><c>sark ADDR cluster show --json</c> on node <paramref name="index"/>: one row a member.</summary>
    public async Task<IReadOnlyList<JsonObject>> ShowAsync(int index)
    {
        var run = await SarkCli.RunAsync([Ops(index), "cluster", "show", "--json"], TimeSpan.FromSeconds(30));
        return run.ExitCode == 0 ? run.JsonLines : [];
    }

    /// <summary>Polls node <paramref name="index"/>'s <c>cluster show</c> until exactly <paramref name="addresses"/> are members, all up and reachable.</summary>
    public Task<IReadOnlyList<JsonObject>> UntilMembersUpAsync(int index, params int[] addresses)
    {
        var wanted = addresses.Select(Address).Order(StringComparer.Ordinal).ToList();
        return Eventually.UntilAsync(
            () => ShowAsync(index),
            rows => rows.Select(r => (string?)r["address"]).Order(StringComparer.Ordinal).SequenceEqual(wanted)
                    && rows.All(r => (string?)r["status"] == "up" && (bool?)r["reachable"] == true),
            MembershipTimeout,
            $"node {index + 1} seeing exactly nodes {string.Join(", ", addresses.Select(a => a + 1))} up");
    }

    public async ValueTask DisposeAsync()
    {
        var failures = new List<Exception>();
        await Task.WhenAll(_nodes.Where(n => n is not null).Select(async n =>
        {
            try
            {
                await n!.DisposeAsync();
            }
            catch (Exception ex)
            {
                lock (failures)
                    failures.Add(ex);
            }
        }));
        if (failures.Count > 0)
            throw new AggregateException(failures);
    }

    /// <summary>Ports that were free a moment ago (held at once, so they differ).</summary>
    public static int[] FreePorts(int count)
    {
        var listeners = Enumerable.Range(0, count).Select(_ => new TcpListener(IPAddress.Loopback, 0)).ToList();
        try
        {
            listeners.ForEach(l => l.Start());
            return [.. listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port)];
        }
        finally
        {
            listeners.ForEach(l => l.Stop());
        }
    }

    /// <summary>How long <paramref name="action"/> took.</summary>
    public static async Task<TimeSpan> TimeAsync(Func<Task> action)
    {
        var clock = Stopwatch.StartNew();
        await action();
        return clock.Elapsed;
    }
}
