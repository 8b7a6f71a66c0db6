using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Sark.Benchmarks.Load;

/// <summary>
/// <c>cluster [--seconds N] [--warmup N] [--concurrency 16] [--upstreams 3] [--stable-after 2s]</c>
/// (issue 9): the same closed-loop client load of REST <c>echo</c> calls (<c>POST /api/v1/invoke</c>,
/// one pooled HttpClient per node) against one node that hosts every demo upstream, then spread
/// over three clustered nodes on this machine (worker i calls node i mod 3 and upstream i mod K;
/// the upstreams are sharded over the nodes). Reports calls/s of each and the ratio, then kills
/// (SIGKILL) the node that hosts one upstream and measures the hand-over: from the kill to the
/// next successful call of that upstream through another node.
/// </summary>
internal static class ClusterCommand
{
    public const string Command = "cluster";

    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(90);

    public static async Task<int> RunAsync(Args args)
    {
        var seconds = args.Int("--seconds", 10, 1, 600);
        var warmup = args.Int("--warmup", 3, 0, 600);
        var concurrency = args.Int("--concurrency", 16, 1, 256);
        var upstreamCount = args.Int("--upstreams", 3, 1, 12);
        var stableAfter = args.String("--stable-after") ?? "2s";
        var layout = RepoLayout.Find();
        if (layout.HostDll() is not { } host || layout.DemoServerDll() is not { } demo)
        {
            Console.Error.WriteLine("cluster: src/Sark.Host is not built (dotnet build src/Sark.Host -c Release).");
            return 1;
        }

        var names = Enumerable.Range(1, upstreamCount).Select(i => $"demo-{i}").ToArray();
        var upstreams = names.Select(n => (n, (string[])[RepoLayout.OnPath("dotnet"), demo.Dll])).ToArray();
        var recorder = new LatencyRecorder((int)Math.Min(16_000_000L, Math.Max(1_000_000L, seconds * 200_000L)));
        var results = new List<RunResult>();
        TimeSpan? handOver = null;
        string distribution;

        StdioCommand.Progress($"cluster: one node with {upstreamCount} demo upstreams…");
        await using (var single = await RestNodes.StartAsync(host.Dll, [BenchConfig.Hocon(layout, upstreams)], names).ConfigureAwait(false))
        {
            var result = await ClosedLoop.RunAsync(single, concurrency, TimeSpan.FromSeconds(warmup), TimeSpan.FromSeconds(seconds), recorder).ConfigureAwait(false);
            results.Add(result with { Path = "1 node" });
            StdioCommand.Progress(string.Create(Inv, $"  {result.Calls} calls, {result.Throughput:0}/s, p50 {result.Latency.P50:0.000} ms, {result.Errors} errors"));
        }

        var ports = FreePorts(3);
        var seeds = string.Join(", ", ports.Select(p => $"\"akka.tcp://sark@127.0.0.1:{p}\""));
        var configs = ports.Select(port => BenchConfig.Hocon(layout, upstreams) + $$"""
            sark.cluster {
              enabled = true
              hostname = "127.0.0.1"
              port = {{port}}
              seed-nodes = [{{seeds}}]
              split-brain-resolver.stable-after = {{stableAfter}}
            }
            akka.cluster {
              min-nr-of-members = 3
              failure-detector { heartbeat-interval = 500ms, acceptable-heartbeat-pause = 2s, threshold = 8 }
              down-removal-margin = 1s
            }
            """).ToArray();
        StdioCommand.Progress("cluster: three clustered nodes, the same upstreams sharded over them…");
        await using (var cluster = await RestNodes.StartAsync(host.Dll, configs, names).ConfigureAwait(false))
        {
            var hosts = await cluster.WaitSpreadAsync(names, TimeSpan.FromSeconds(60)).ConfigureAwait(false);
            distribution = string.Join(", ", hosts.OrderBy(h => h.Key, StringComparer.Ordinal).Select(h => $"{h.Key} on node {h.Value + 1}"));
            StdioCommand.Progress("  " + distribution);
            var result = await ClosedLoop.RunAsync(cluster, concurrency, TimeSpan.FromSeconds(warmup), TimeSpan.FromSeconds(seconds), recorder).ConfigureAwait(false);
            results.Add(result with { Path = "3 nodes" });
            StdioCommand.Progress(string.Create(Inv, $"  {result.Calls} calls, {result.Throughput:0}/s, p50 {result.Latency.P50:0.000} ms, {result.Errors} errors"));

            var (victimUpstream, victim) = hosts.OrderByDescending(h => h.Value).First();
            var via = victim == 0 ? 1 : 0;
            StdioCommand.Progress($"cluster: kill -9 of node {victim + 1} (hosts {victimUpstream}); calling it through node {via + 1}…");
            handOver = await cluster.KillAndCallUntilServedAsync(victim, via, victimUpstream, TimeSpan.FromSeconds(120)).ConfigureAwait(false);
            StdioCommand.Progress(handOver is { } t ? string.Create(Inv, $"  served again after {t.TotalSeconds:0.0} s") : "  not served again within 120 s");
        }

        var one = results[0];
        var three = results[1];
        var output = new StringBuilder();
        output.AppendLine();
        output.AppendLine("## cluster (issue 9)");
        output.AppendLine();
        output.Append(Machine.Describe());
        output.AppendLine();
        output.AppendLine(Inv, $"### echo over REST, closed loop c={concurrency}, warm-up {warmup} s, {seconds} s: 1 node vs 3 clustered nodes (same machine)");
        output.AppendLine();
        output.AppendLine(Inv, $"- {upstreamCount} demo upstreams (mcp-stdio); worker i calls upstream i mod {upstreamCount}, and in the cluster node i mod 3");
        output.AppendLine(Inv, $"- cluster: keep-majority, stable-after {stableAfter}, failure detector 500 ms heartbeat / 2 s pause; shards: {distribution}");
        output.AppendLine();
        output.Append(Report.Table(results));
        output.AppendLine();
        output.AppendLine("| measure | value |");
        output.AppendLine("|---|---:|");
        output.AppendLine(Inv, $"| calls/s, 1 node | {one.Throughput:0} |");
        output.AppendLine(Inv, $"| calls/s, 3 nodes | {three.Throughput:0} |");
        output.AppendLine(Inv, $"| 3 nodes / 1 node | {three.Throughput / one.Throughput:0.00} |");
        output.AppendLine(Inv, $"| hand-over after kill -9 (kill → next successful call) | {(handOver is { } h ? $"{h.TotalSeconds:0.0} s" : "not within 120 s")} |");
        output.AppendLine();
        output.AppendLine("All processes share this machine's cores (and whatever else runs on it): three nodes add no CPU here, and a call may take a hop between nodes, so the ratio is not what three machines would give. Node CPU per call is shown for the single node only.");
        Console.Write(output.ToString());
        return one.Errors + three.Errors == 0 && handOver is not null ? 0 : 1;
    }

    private static int[] FreePorts(int count)
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

    /// <summary>Node processes called over REST: worker i calls node i mod N and upstream i mod K.</summary>
    private sealed class RestNodes : IEchoTarget
    {
        private readonly List<NodeProcess?> _nodes;
        private readonly HttpClient _http = RestTarget.NewClient();
        private readonly string[] _upstreams;
        private readonly byte[][] _bodies;
        private byte[][] _buffers = [];

        private RestNodes(List<NodeProcess?> nodes, string[] upstreams)
        {
            _nodes = nodes;
            _upstreams = upstreams;
            _bodies = [.. upstreams.Select(u => Encoding.UTF8.GetBytes($$$"""{"server":"{{{u}}}","tool":"echo","parameters":{"message":"hi"}}"""))];
        }

        public string Name => "rest";

        public int? PeerPid => null;

        public int? GatewayPid => _nodes.Count == 1 ? _nodes[0]?.Pid : null;

        public static async Task<RestNodes> StartAsync(string hostDll, string[] configs, string[] upstreams)
        {
            var started = await Task.WhenAll(configs.Select(c => NodeProcess.StartAsync(hostDll, c, ReadyTimeout))).ConfigureAwait(false);
            var nodes = new RestNodes([.. started], upstreams);
            try
            {
                foreach (var node in started)
                    await node.WaitUpstreamsReadyAsync(nodes._http, upstreams, ReadyTimeout).ConfigureAwait(false);
                return nodes;
            }
            catch
            {
                await nodes.DisposeAsync().ConfigureAwait(false);
                throw;
            }
        }

        /// <summary>Which node runs each upstream's process (its parent), once every upstream is ready; waits a while for every node to host one.</summary>
        public async Task<Dictionary<string, int>> WaitSpreadAsync(string[] upstreams, TimeSpan timeout)
        {
            var clock = Stopwatch.StartNew();
            var hosts = new Dictionary<string, int>();
            while (clock.Elapsed < timeout)
            {
                hosts = await HostsAsync(0).ConfigureAwait(false);
                if (upstreams.All(hosts.ContainsKey) && hosts.Values.Distinct().Count() == Math.Min(_nodes.Count, upstreams.Length))
                    return hosts;
                await Task.Delay(500).ConfigureAwait(false);
            }

            if (!upstreams.All(hosts.ContainsKey))
                throw new TimeoutException($"The upstreams were not all ready and hosted within {timeout.TotalSeconds:0} s.");
            return hosts;
        }

        private async Task<Dictionary<string, int>> HostsAsync(int via)
        {
            var ready = await _nodes[via]!.WaitUpstreamsReadyAsync(_http, _upstreams, ReadyTimeout).ConfigureAwait(false);
            var hosts = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var (name, pid) in ready)
            {
                if (pid is { } p && ParentOf(p) is { } parent && _nodes.FindIndex(n => n?.Pid == parent) is >= 0 and var index)
                    hosts[name] = index;
            }

            return hosts;
        }

        /// <summary>SIGKILL of node <paramref name="victim"/>, then calls through <paramref name="via"/> until one succeeds; the time from the kill.</summary>
        public async Task<TimeSpan?> KillAndCallUntilServedAsync(int victim, int via, string upstream, TimeSpan timeout)
        {
            var node = _nodes[victim]!;
            var children = ChildrenOf(node.Pid);
            var clock = Stopwatch.StartNew();
            using (var process = Process.GetProcessById(node.Pid))
                process.Kill(entireProcessTree: false);
            foreach (var child in children)
            {
                try
                {
                    using var process = Process.GetProcessById(child);
                    process.Kill();
                }
                catch (ArgumentException)
                {
                    // Already gone with its parent's stdin.
                }
            }

            _nodes[victim] = null;
            await node.DisposeAsync().ConfigureAwait(false);
            var body = Encoding.UTF8.GetBytes($$$"""{"server":"{{{upstream}}}","tool":"echo","parameters":{"message":"hi"}}""");
            var invoke = new Uri(_nodes[via]!.BaseAddress, "/api/v1/invoke");
            while (clock.Elapsed < timeout)
            {
                using var content = new ByteArrayContent(body);
                content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
                using var attempt = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                using var response = await _http.PostAsync(invoke, content, attempt.Token).ConfigureAwait(false);
                var text = await response.Content.ReadAsByteArrayAsync(attempt.Token).ConfigureAwait(false);
                if (response.StatusCode == HttpStatusCode.OK && EchoReply.BodyHasEcho(text))
                    return clock.Elapsed;
                await Task.Delay(50).ConfigureAwait(false);
            }

            return null;
        }

        public void Prepare(int workers)
        {
            if (_buffers.Length >= workers)
                return;
            _buffers = new byte[workers][];
            for (var i = 0; i < workers; i++)
                _buffers[i] = new byte[64 * 1024];
        }

        public ValueTask<bool> CallAsync(int worker, CancellationToken cancellationToken) =>
            RestTarget.InvokeEchoAsync(_http, new Uri(_nodes[worker % _nodes.Count]!.BaseAddress, "/api/v1/invoke"), _bodies[worker % _bodies.Length], _buffers[worker], cancellationToken);

        public async ValueTask DisposeAsync()
        {
            _http.Dispose();
            await Task.WhenAll(_nodes.Where(n => n is not null).Select(n => n!.DisposeAsync().AsTask())).ConfigureAwait(false);
        }

        private static int? ParentOf(int pid)
        {
            try
            {
                var stat = File.ReadAllText($"/proc/{pid.ToString(Inv)}/stat");
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                return int.TryParse(fields[1], NumberStyles.Integer, Inv, out var parent) ? parent : null;
            }
            catch (IOException)
            {
                return null;
            }
        }

        private static List<int> ChildrenOf(int pid)
        {
            var children = new List<int>();
            foreach (var dir in Directory.EnumerateDirectories("/proc"))
            {
                if (int.TryParse(Path.GetFileName(dir), NumberStyles.Integer, Inv, out var candidate) && ParentOf(candidate) == pid)
                    children.Add(candidate);
            }

            return children;
        }
    }
}
