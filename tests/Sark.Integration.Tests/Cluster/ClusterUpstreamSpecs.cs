using System.Diagnostics;
using System.Text.Json.Nodes;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using Npgsql;
using Sark.Integration.Tests.Infrastructure;
using Sark.Integration.Tests.Ops;
using Xunit.Abstractions;

namespace Sark.Integration.Tests.Cluster;

/// <summary>
/// Upstreams as sharded entities over three node processes: each stdio process runs on exactly
/// one node, a call through any node (REST or the MCP front door) reaches it, every call's audit lands in one PostgreSQL, a
/// <c>kill -9</c> of the hosting node moves its upstreams to the survivors (the hand-over time is
/// measured: from the kill to the next successful call), and a graceful leave hands them over
/// with no failed call.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class ClusterUpstreamSpecs(ITestOutputHelper output)
{
    private static readonly string[] Upstreams = ["demo-a", "demo-b", "demo-c"];

    /// <summary>A call that has not answered by then counts as a hang.</summary>
    private static readonly TimeSpan CallBound = TimeSpan.FromSeconds(30);

    private static string UpstreamBlocks() => string.Concat(Upstreams.Select(name => NodeConfigs.DemoUpstream().Replace("upstreams.demo ", $"upstreams.{name} ", StringComparison.Ordinal) + "\n"));

    [Fact]
    public async Task Upstreams_spread_over_the_nodes_answer_through_every_node_audit_to_one_database_and_move_when_their_node_is_killed()
    {
        await using var postgres = await PostgresServer.StartNewAsync();
        var database = await postgres.CreateDatabaseAsync("audit_cluster");
        await using var cluster = await LoopbackCluster.StartAsync(UpstreamBlocks() + $$"""
            audit {
              store = postgres
              postgres.connection-string = {{NodeConfigs.Quote(database)}}
              batch.interval = 200ms
            }
            """);
        await cluster.UntilMembersUpAsync(0, 0, 1, 2);

        // Each stdio process on exactly one node, whichever node is asked.
        // Spread: every node hosts one (the coordinator may first put them all on one node and rebalance).
        var hosts = await cluster.UntilHostedAsync(0, Upstreams, h => h.Values.Distinct().Count() == LoopbackCluster.Size);
        Assert.Equal(hosts, await cluster.UntilHostedAsync(2, Upstreams));
        var processes = Enumerable.Range(0, LoopbackCluster.Size).Sum(i => ProcessTools.ChildrenOf(cluster.Node(i).ProcessId).Count);
        Assert.Equal(Upstreams.Length, processes);
        output.WriteLine("hosts: " + string.Join(", ", hosts.Select(h => $"{h.Key} on node {h.Value + 1}")));

        // Every node names the same host as the processes say: REST (node 3) and the console (node 2).
        var rest = JsonNode.Parse(await cluster.Node(2).Http.GetStringAsync(new Uri("/api/v1/upstreams", UriKind.Relative)))!["upstreams"]!.AsArray();
        var console = await SarkCli.RunAsync([cluster.Ops(1), "upstream", "list", "--json"]);
        Assert.True(console.ExitCode == 0, console.ToString());
        foreach (var (upstream, host) in hosts)
        {
            Assert.Equal(cluster.Address(host), (string?)rest.Single(u => (string?)u!["name"] == upstream)!["node"]);
            Assert.Equal(cluster.Address(host), (string?)console.JsonLines.Single(u => (string?)u["name"] == upstream)["node"]);
        }

        // Through every node to every upstream, whichever node hosts it (each call once, no retry).
        await Eventually.UntilAsync(
            async () => await Task.WhenAll(Enumerable.Range(0, LoopbackCluster.Size).Select(i => cluster.CallAsync(i, Upstreams[0], "warm"))),
            calls => calls.All(c => c.Ok), LoopbackCluster.MembershipTimeout, "a first call through every node");
        var requestIds = new List<string>();
        for (var via = 0; via < LoopbackCluster.Size; via++)
        {
            foreach (var upstream in Upstreams)
            {
                var call = await cluster.CallAsync(via, upstream, $"{upstream} via node {via + 1}");
                Assert.True(call.Ok, $"{upstream} through node {via + 1} (hosted on node {hosts[upstream] + 1}): {call}");
                requestIds.Add(call.RequestId);
            }
        }

        // The MCP front door of node 2 lists every upstream's tools and calls each, wherever it runs.
        using (var timeout = new CancellationTokenSource(CallBound))
        {
            var transport = new HttpClientTransport(new HttpClientTransportOptions { Endpoint = new Uri(cluster.Node(1).BaseAddress, "/mcp") });
            await using var client = await McpClient.CreateAsync(transport, cancellationToken: timeout.Token);
            var tools = await client.ListToolsAsync(cancellationToken: timeout.Token);
            foreach (var upstream in Upstreams)
            {
                Assert.Contains(tools, t => t.Name == $"{upstream}__echo");
                var result = await client.CallToolAsync($"{upstream}__echo", new Dictionary<string, object?> { ["message"] = "door" }, cancellationToken: timeout.Token);
                Assert.Equal("Echo: door", Assert.IsType<TextContentBlock>(Assert.Single(result.Content)).Text);
            }
        }

        // Audit: every one of those calls is in the one table, whichever node took it.
        Assert.Equal(requestIds.Count, requestIds.Distinct().Count());
        await Eventually.UntilAsync(() => AuditedAsync(database, requestIds), n => n == requestIds.Count, TimeSpan.FromSeconds(20),
            $"the audit of all {requestIds.Count} calls in PostgreSQL");

        // kill -9 of the node that hosts an upstream (node 3 when it hosts one); calls go through another node.
        var (upstream1, host1) = hosts.OrderByDescending(h => h.Value).First();
        var via1 = host1 == 0 ? 1 : 0;
        var (handOver, refusals) = await cluster.KillAndCallUntilServedAsync(host1, via1, upstream1, CallBound);
        output.WriteLine($"kill -9 of node {host1 + 1}: {upstream1} served again through node {via1 + 1} after {handOver.TotalSeconds:0.0}s ({refusals})");
        var moved = await cluster.UntilHostedAsync(via1, Upstreams);
        Assert.DoesNotContain(host1, moved.Values);
        output.WriteLine("hosts after the kill: " + string.Join(", ", moved.Select(h => $"{h.Key} on node {h.Value + 1}")));
        Assert.Empty(cluster.SerializationProblems());
    }

    /// <summary>
    /// A leave through the ops console of another node: sharding hands the entity off (it lets
    /// its calls finish, then stops its process) before the node stops its tree and reaps its
    /// processes, and the calls routed meanwhile are buffered and served at the new home, so
    /// none fails; the leaving node then exits.
    /// </summary>
    [Fact]
    public async Task A_graceful_leave_hands_the_upstream_over_with_no_failed_call_and_the_node_stops()
    {
        await using var cluster = await LoopbackCluster.StartAsync(NodeConfigs.DemoUpstream());
        await cluster.UntilMembersUpAsync(0, 0, 1, 2);
        var hosts = await cluster.UntilHostedAsync(0, ["demo"]);
        var host = hosts["demo"];
        var via = host == 0 ? 1 : 0;
        await Eventually.UntilAsync(() => cluster.CallAsync(via, "demo", "warm"), c => c.Ok, LoopbackCluster.MembershipTimeout, $"a first call through node {via + 1}");

        var leaving = cluster.Node(host);
        var failures = new List<CallOutcome>();
        var served = 0;
        var leave = await SarkCli.RunAsync([cluster.Ops(via), "cluster", "leave", cluster.Address(host)]);
        Assert.True(leave.ExitCode == 0, leave.ToString());
        var clock = Stopwatch.StartNew();
        IReadOnlyDictionary<string, int> after = new Dictionary<string, int>();
        while (clock.Elapsed < LoopbackCluster.MembershipTimeout)
        {
            var call = await cluster.CallAsync(via, "demo", $"during the leave {served}");
            if (call.Took >= CallBound)
                WriteLogs(cluster, host, via);
            Assert.True(call.Took < CallBound, $"a call during the leave hung: {call}");
            if (call.Ok)
            {
                served++;
            }
            else
            {
                failures.Add(call);
                await Task.Delay(TimeSpan.FromMilliseconds(100));
            }

            if (leaving.HasExited && (after = await cluster.HostsAsync(via)).TryGetValue("demo", out var now) && now != host)
                break;
        }

        output.WriteLine($"leave of node {host + 1}: {served} calls through node {via + 1} served, {failures.Count} failed, in {clock.Elapsed.TotalSeconds:0.0}s; demo now runs on node {(after.TryGetValue("demo", out var h) ? h + 1 : 0)}");
        Assert.True(leaving.HasExited, $"node {host + 1} did not stop within {LoopbackCluster.MembershipTimeout.TotalSeconds:0}s of leaving");
        Assert.True(after.TryGetValue("demo", out var moved) && moved != host, $"demo did not move off node {host + 1}");
        await cluster.UntilMembersUpAsync(via, [.. Enumerable.Range(0, LoopbackCluster.Size).Where(i => i != host)]);
        Assert.Empty(cluster.SerializationProblems());
        if (failures.Count > 0)
            WriteLogs(cluster, host, via);
        Assert.True(failures.Count == 0, $"{failures.Count} calls failed during a graceful leave, the first: " + string.Join("; ", failures.Take(3)));
    }

    /// <summary>What the leaving node and the node the calls went through logged, for a failed leave.</summary>
    private void WriteLogs(LoopbackCluster cluster, int leaving, int via)
    {
        foreach (var index in new[] { leaving, via })
        {
            output.WriteLine($"--- node {index + 1} ({(index == leaving ? "leaving" : "calls through it")}) ---");
            output.WriteLine(cluster.Node(index).Describe());
        }
    }

    private static async Task<long> AuditedAsync(string database, IReadOnlyList<string> requestIds)
    {
        await using var connection = new NpgsqlConnection(database + ";Pooling=false");
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT count(DISTINCT request_id) FROM audit_events WHERE request_id = ANY(@ids) AND event_type = 'outcome' AND outcome = 'ok'", connection);
        command.Parameters.AddWithValue("ids", requestIds.ToArray());
        try
        {
            return (long)(await command.ExecuteScalarAsync())!;
        }
        catch (PostgresException ex) when (ex.SqlState == "42P01")
        {
            return 0; // no node has written yet (the table is created with the first batch)
        }
    }
}
