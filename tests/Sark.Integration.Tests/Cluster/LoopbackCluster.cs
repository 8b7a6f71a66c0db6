using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
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
internal sealed class LoopbackCluster : IAsyncDisposable
{
    public const int Size = 3;

    /// <summary>Joining, downing and handing over are each bounded by this on a loaded 2-core machine.</summary>
    public static readonly TimeSpan MembershipTimeout = TimeSpan.FromSeconds(60);

    private readonly NodeProcess?[] _nodes = new NodeProcess?[Size];
    private readonly string?[] _ops = new string?[Size];
    private readonly int[] _remotePorts;
    private readonly string _upstreams;

    private LoopbackCluster(int[] remotePorts, string upstreams)
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
    public static async Task<LoopbackCluster> StartAsync(string sark)
    {
        var cluster = new LoopbackCluster(FreePorts(Size), sark);
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
        # Every message is serialized, local ones too (those not marked otherwise): a message that
        # would cross nodes without a serializer fails here, not in production.
        akka.actor.serialize-messages = on
        akka.cluster {
          # The three form the cluster together, so that the upstreams are spread over all of them.
          min-nr-of-members = 3
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

    /// <summary>The log lines of the running nodes that say a message could not be serialized (none expected: serialize-messages is on).</summary>
    public IReadOnlyList<string> SerializationProblems() =>
    [
        .. _nodes.Where(n => n is not null).SelectMany(n => n!.Stdout.Lines.Concat(n.Stderr.Lines))
            .Where(l => l.Contains("serializ", StringComparison.OrdinalIgnoreCase)
                && (l.Contains("fail", StringComparison.OrdinalIgnoreCase) || l.Contains("error", StringComparison.OrdinalIgnoreCase) || l.Contains("exception", StringComparison.OrdinalIgnoreCase))),
    ];

    /// <summary>True while node <paramref name="index"/> runs.</summary>
    public bool IsRunning(int index) => _nodes[index] is { HasExited: false };

    /// <summary>
    /// Which node runs each upstream's process: the upstreams' PIDs as node <paramref name="via"/>
    /// reports them (<c>GET /api/v1/upstreams</c>), each matched to the node process that is its
    /// parent. An upstream that is not ready or whose process no running node owns is absent.
    /// </summary>
    public async Task<IReadOnlyDictionary<string, int>> HostsAsync(int via)
    {
        using var response = await Node(via).Http.GetAsync(new Uri("/api/v1/upstreams", UriKind.Relative));
        var hosts = new Dictionary<string, int>(StringComparer.Ordinal);
        if (!response.IsSuccessStatusCode)
            return hosts;
        var children = Enumerable.Range(0, Size).Where(IsRunning).ToDictionary(i => i, i => ProcessTools.ChildrenOf(Node(i).ProcessId));
        foreach (var upstream in JsonNode.Parse(await response.Content.ReadAsStringAsync())!["upstreams"]!.AsArray())
        {
            if ((string?)upstream!["state"] != "ready" || upstream["process_id"] is not { } pid)
                continue;
            foreach (var (node, pids) in children)
            {
                if (pids.Contains((int)pid))
                    hosts[(string)upstream["name"]!] = node;
            }
        }

        return hosts;
    }

    /// <summary>Polls until every one of <paramref name="upstreams"/> is ready and hosted by a running node (as node <paramref name="via"/> sees it).</summary>
    public Task<IReadOnlyDictionary<string, int>> UntilHostedAsync(int via, IReadOnlyList<string> upstreams, Func<IReadOnlyDictionary<string, int>, bool>? also = null) =>
        Eventually.UntilAsync(
            () => HostsAsync(via),
            hosts => upstreams.All(hosts.ContainsKey) && (also?.Invoke(hosts) ?? true),
            MembershipTimeout,
            $"every upstream ({string.Join(", ", upstreams)}) ready and hosted, seen from node {via + 1}");

    /// <summary>One <c>echo</c> call to <paramref name="upstream"/> through node <paramref name="via"/>'s REST API.</summary>
    public async Task<CallOutcome> CallAsync(int via, string upstream, string message)
    {
        var clock = Stopwatch.StartNew();
        using var response = await Node(via).Http.PostAsJsonAsync(
            new Uri("/api/v1/invoke", UriKind.Relative), new { server = upstream, tool = "echo", parameters = new { message } });
        var body = await response.Content.ReadAsStringAsync();
        var requestId = response.Headers.TryGetValues("X-Request-ID", out var ids) ? ids.Single() : "";
        var json = body.Length > 0 && body[0] == '{' ? JsonNode.Parse(body) : null;
        var ok = response.IsSuccessStatusCode && (string?)json?["status"] == "success"
            && (string?)json?["result"]?["content"]?[0]?["text"] == "Echo: " + message;
        return new CallOutcome(ok, (int)response.StatusCode, (string?)json?["error"]?["code"], requestId, clock.Elapsed, body);
    }

    /// <summary>
    /// Kills node <paramref name="host"/> and calls <paramref name="upstream"/> through <paramref name="via"/>
    /// until one succeeds: the time from the kill, and the failures before it (each a
    /// <c>upstream_unavailable</c> or <c>upstream_timeout</c> within <paramref name="callBound"/>, never a hang).
    /// </summary>
    public async Task<(TimeSpan HandOver, string Refusals)> KillAndCallUntilServedAsync(int host, int via, string upstream, TimeSpan callBound)
    {
        var clock = Stopwatch.StartNew();
        await KillAsync(host);
        var codes = new List<string>();
        for (var attempt = 0; clock.Elapsed < MembershipTimeout; attempt++)
        {
            var call = await CallAsync(via, upstream, $"after the kill {attempt}");
            Assert.True(call.Took < callBound, $"a call after the kill hung: {call}");
            if (call.Ok)
                return (clock.Elapsed, string.Join(", ", codes.GroupBy(c => c).Select(g => $"{g.Key} x{g.Count()}")));
            Assert.True(call.Code is "upstream_unavailable" or "upstream_timeout", $"a call during the hand-over failed otherwise: {call}");
            codes.Add(call.Code!);
            await Task.Delay(TimeSpan.FromMilliseconds(100));
        }

        Assert.Fail($"{upstream} was not served again within {MembershipTimeout.TotalSeconds:0}s of the kill of node {host + 1}");
        return default;
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

/// <summary>How one call went: success (the echo came back), else the HTTP status and error code.</summary>
internal sealed record CallOutcome(bool Ok, int Status, string? Code, string RequestId, TimeSpan Took, string Body)
{
    public override string ToString() => Ok ? $"ok in {Took.TotalMilliseconds:0}ms" : $"{Status} {Code} in {Took.TotalMilliseconds:0}ms: {Body}";
}
