using System.Diagnostics;
using System.Globalization;
using System.Text;
using ModelContextProtocol.Client;

namespace Sark.Benchmarks.Load;

/// <summary>
/// <c>frontdoor</c>: issue 7's figures. MCP client sessions (the official C# SDK client) call
/// server-everything's <c>echo</c> over stdio through the node's front door and, in the same run,
/// through two baselines: the SDK client straight to the server over stdio (<c>direct</c>) and a
/// bare pass-through on the same SDK with no actors, policy or audit (<c>bare</c>,
/// <see cref="PassThroughServer"/>). Parts: <c>throughput</c> (closed loop at each sessions ×
/// in-flight shape over Streamable HTTP with sessions, stateless, and legacy SSE), <c>paced</c>
/// (open loop at a fixed rate, latency from each call's planned start), <c>multiplex</c> (many
/// sessions on one upstream process, every reply checked against its call) and <c>sessions</c>
/// (the node's memory per open idle session, Streamable HTTP and legacy SSE).
/// With <c>--rounds R</c> every shape is measured R times, the paths taking turns in each round,
/// and each ratio is the median of the R rounds' ratios (node and pass-through measured next to
/// each other in time): at 1×1 one window can be 10 % off on this shared machine.
/// </summary>
internal static class FrontDoorCommand
{
    public const string Command = "frontdoor";

    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    private sealed record Shape(int Sessions, int PerSession)
    {
        public int Workers => Sessions * PerSession;

        public override string ToString() => string.Create(Inv, $"{Sessions}×{PerSession}");

        public static Shape Parse(string text)
        {
            var parts = text.Split('x', 'X', '×');
            return parts.Length == 2
                && int.TryParse(parts[0], NumberStyles.None, Inv, out var s) && s is >= 1 and <= 2048
                && int.TryParse(parts[1], NumberStyles.None, Inv, out var c) && c is >= 1 and <= 256
                ? new Shape(s, c)
                : throw new ArgumentException($"--shapes: '{text}' is not SESSIONSxINFLIGHT (for example 8x16).");
        }
    }

    private sealed record Row(string Path, string Transport, Shape Shape, RunResult Result, long Crossed, int Round = 1);

    public static async Task<int> RunAsync(Args args)
    {
        var seconds = args.Int("--seconds", 10, 1, 600);
        var rounds = args.Int("--rounds", 1, 1, 20);
        var warmup = args.Int("--warmup", 5, 0, 600);
        // A fresh .NET process runs at about half speed for its first seconds (tiered JIT): every
        // path is driven this long at the largest shape before anything is measured.
        var prewarm = args.Int("--prewarm", 15, 0, 600);
        var shapes = args.StringList("--shapes", ["1x1", "1x16", "8x16"]).Select(Shape.Parse).ToArray();
        var transports = args.StringList("--transports", ["streamable", "stateless", "sse"]);
        var paths = args.StringList("--paths", ["direct", "bare", "node"]);
        var parts = args.StringList("--parts", ["throughput", "paced", "multiplex", "sessions"]);
        var rate = args.Int("--rate", 1000, 1, 100_000);
        var pacedSeconds = args.Int("--paced-seconds", 10, 1, 600);
        var multiplex = args.Int("--multiplex", 64, 1, 1024);
        var sessionCount = args.Int("--sessions", 1000, 1, 10_000);
        var nodeSsePath = args.String("--node-sse-path") ?? "/sse";
        var nodeHocon = args.String("--node-hocon") ?? string.Empty;
        var nodeEnv = args.Environment("--node-env");
        // --gc server runs both servers on the server GC: the node through its own setting
        // (sark.node.gc.mode), the pass-through through the runtime's variable. The default,
        // workstation, is each one's own: the node's 24 MiB budget, the runtime's for the pass-through.
        var gc = args.String("--gc") ?? "workstation";
        if (gc is not ("workstation" or "server"))
            throw new ArgumentException($"--gc must be workstation or server, not '{gc}'.");
        var bareEnv = args.Environment("--bare-env", gc == "server" ? new Dictionary<string, string> { ["DOTNET_gcServer"] = "1" } : null);
        var layout = RepoLayout.Find();
        if (!File.Exists(layout.EverythingScript))
        {
            await Console.Error.WriteLineAsync($"server-everything is not installed at {layout.EverythingScript}; run npm ci in tests/peers.").ConfigureAwait(false);
            return 2;
        }

        var host = layout.HostDll();
        if (paths.Contains("node") && host is null)
        {
            await Console.Error.WriteLineAsync("src/Sark.Host is not built; build the solution in Release first.").ConfigureAwait(false);
            return 2;
        }

        var servers = new List<IAsyncDisposable>();
        var targets = new List<(string Path, string Transport, IEchoTarget Target)>();
        var notes = new List<string>();
        if (nodeEnv is { Count: > 0 })
            notes.Add("node environment: " + string.Join(", ", nodeEnv.Select(e => $"{e.Key}={e.Value}")));
        notes.Add(gc == "server"
            ? "GC: server on both servers (the node's sark.node.gc.mode = server; DOTNET_gcServer=1 for the pass-through)"
            : "GC: workstation on both servers (the node's default, with its 24 MiB generation-0 budget; the pass-through's runtime default)");
        if (bareEnv is { Count: > 0 })
            notes.Add("bare pass-through environment: " + string.Join(", ", bareEnv.Select(e => $"{e.Key}={e.Value}")));
        var rows = new List<Row>();
        var output = new StringBuilder();
        var recorder = new LatencyRecorder((int)Math.Min(16_000_000L, Math.Max(1_000_000L, seconds * 200_000L)));
        var failed = false;
        try
        {
            using var setup = CancellationTokenSource.CreateLinkedTokenSource(Machine.Interrupted);
            setup.CancelAfter(TimeSpan.FromSeconds(180));
            var everything = BenchConfig.Everything(layout);
            // One caller (the anonymous local one) opens every session, so the per-caller and legacy
            // limits are raised above the largest session count the command uses; the rate of a
            // legacy session's posts is not limited (a throughput measurement posts as fast as it can).
            var nodeConfig = BenchConfig.Hocon(layout, ("everything", everything))
                + "sark.front-door { max-sessions = 5000, max-sessions-per-caller = 5000, legacy-sse { max-sessions = 5000, messages-per-second = 0 } }\n"
                + (gc == "server" ? "sark.node.gc.mode = server\n" : string.Empty)
                + nodeHocon + "\n";
            var benchDll = typeof(FrontDoorCommand).Assembly.Location;

            // One process per server mode: sessions (Streamable HTTP and legacy SSE share it) and stateless.
            var needSession = transports.Contains("streamable") || transports.Contains("sse") || parts.Contains("multiplex") || parts.Contains("sessions") || parts.Contains("paced");
            var needStateless = transports.Contains("stateless") && parts.Contains("throughput");
            using var http = RestTarget.NewClient();

            async Task<(NodeProcess Process, int? Peer)> StartBareAsync(bool stateless)
            {
                Progress($"starting bare pass-through ({(stateless ? "stateless" : "sessions + legacy SSE")}, SDK only, child process, {gc} GC)…");
                var process = await NodeProcess.StartAsync(
                    benchDll, [PassThroughServer.Command, "--everything", layout.EverythingScript, "--stateless", stateless ? "1" : "0"],
                    "# not read\n", TimeSpan.FromSeconds(90), bareEnv).ConfigureAwait(false);
                servers.Add(process);
                var children = ProcStat.Children(process.Pid);
                return (process, children.Count == 1 ? children.First() : null);
            }

            async Task<(NodeProcess Process, int? Peer)> StartNodeAsync(bool stateless)
            {
                Progress($"starting node ({(stateless ? "stateless" : "sessions")}, {host!.Value.Configuration} build, {gc} GC)…");
                var text = nodeConfig + (stateless ? "sark.front-door { stateless = true, legacy-sse.enabled = false }\n" : string.Empty);
                var process = await NodeProcess.StartAsync(host.Value.Dll, [], text, TimeSpan.FromSeconds(90), nodeEnv).ConfigureAwait(false);
                servers.Add(process);
                var ready = await process.WaitUpstreamsReadyAsync(http, ["everything"], TimeSpan.FromSeconds(60)).ConfigureAwait(false);
                return (process, ready["everything"]);
            }

            if (paths.Contains("direct") && parts.Contains("throughput"))
            {
                Progress("starting direct (MCP C# SDK client → server-everything over stdio)…");
                targets.Add(("direct", "stdio", await DirectTarget.StartAsync(layout, setup.Token).ConfigureAwait(false)));
            }

            // Each server that a path asks for: its address, its pid and its server-everything's pid.
            // twin is a second pass-through, the same as bare: twin against bare is the harness's own spread (an A/A run).
            async Task<(Uri? Address, int? Pid, int? Peer)> StartIfAsync(string path, bool needed, Func<Task<(NodeProcess Process, int? Peer)>> start)
            {
                if (!needed || !paths.Contains(path))
                    return default;
                var (process, peer) = await start().ConfigureAwait(false);
                return (process.BaseAddress, process.Pid, peer);
            }

            var (bareSession, bareSessionPid, bareSessionPeer) = await StartIfAsync("bare", needSession, () => StartBareAsync(stateless: false)).ConfigureAwait(false);
            var (bareStateless, bareStatelessPid, bareStatelessPeer) = await StartIfAsync("bare", needStateless, () => StartBareAsync(stateless: true)).ConfigureAwait(false);
            var (twinSession, twinSessionPid, twinSessionPeer) = await StartIfAsync("twin", needSession, () => StartBareAsync(stateless: false)).ConfigureAwait(false);
            var (twinStateless, twinStatelessPid, twinStatelessPeer) = await StartIfAsync("twin", needStateless, () => StartBareAsync(stateless: true)).ConfigureAwait(false);
            var (nodeSession, nodeSessionPid, nodeSessionPeer) = await StartIfAsync("node", needSession, () => StartNodeAsync(stateless: false)).ConfigureAwait(false);
            var (nodeStateless, nodeStatelessPid, nodeStatelessPeer) = await StartIfAsync("node", needStateless, () => StartNodeAsync(stateless: true)).ConfigureAwait(false);

            var maxSessions = shapes.Max(s => s.Sessions);
            async Task AddSessionsAsync(string path, string transport, Uri? baseAddress, string endpointPath, HttpTransportMode mode, string tool, int? pid, int? peer)
            {
                if (baseAddress is null || !transports.Contains(transport))
                    return;
                var target = McpSessionsTarget.Create($"{path} {transport}", new Uri(baseAddress, endpointPath), mode, tool, pid, peer);
                target.ServerGc = path == "node" ? ServerGc.Node(http, baseAddress) : ServerGc.Bare(http, baseAddress);
                await target.OpenAsync(maxSessions, 8, setup.Token).ConfigureAwait(false);
                targets.Add((path, transport, target));
            }

            if (parts.Contains("throughput"))
            {
                await AddSessionsAsync("bare", "streamable", bareSession, "/mcp", HttpTransportMode.StreamableHttp, "echo", bareSessionPid, bareSessionPeer).ConfigureAwait(false);
                await AddSessionsAsync("twin", "streamable", twinSession, "/mcp", HttpTransportMode.StreamableHttp, "echo", twinSessionPid, twinSessionPeer).ConfigureAwait(false);
                await AddSessionsAsync("node", "streamable", nodeSession, "/mcp", HttpTransportMode.StreamableHttp, "everything__echo", nodeSessionPid, nodeSessionPeer).ConfigureAwait(false);
                await AddSessionsAsync("bare", "stateless", bareStateless, "/mcp", HttpTransportMode.StreamableHttp, "echo", bareStatelessPid, bareStatelessPeer).ConfigureAwait(false);
                await AddSessionsAsync("twin", "stateless", twinStateless, "/mcp", HttpTransportMode.StreamableHttp, "echo", twinStatelessPid, twinStatelessPeer).ConfigureAwait(false);
                await AddSessionsAsync("node", "stateless", nodeStateless, "/mcp", HttpTransportMode.StreamableHttp, "everything__echo", nodeStatelessPid, nodeStatelessPeer).ConfigureAwait(false);
                await AddSessionsAsync("bare", "sse", bareSession, "/mcp/sse", HttpTransportMode.Sse, "echo", bareSessionPid, bareSessionPeer).ConfigureAwait(false);
                await AddSessionsAsync("twin", "sse", twinSession, "/mcp/sse", HttpTransportMode.Sse, "echo", twinSessionPid, twinSessionPeer).ConfigureAwait(false);
                await AddSessionsAsync("node", "sse", nodeSession, nodeSsePath, HttpTransportMode.Sse, "everything__echo", nodeSessionPid, nodeSessionPeer).ConfigureAwait(false);

                var largest = shapes.MaxBy(s => s.Workers)!;
                foreach (var (path, transport, target) in targets)
                {
                    if (prewarm == 0 || Machine.Interrupted.IsCancellationRequested)
                        break;
                    if (target is McpSessionsTarget warming)
                        warming.PerSession = largest.PerSession;
                    Progress($"{path} {transport}: pre-warm {prewarm}s at {largest}…");
                    _ = await ClosedLoop.RunAsync(target, largest.Workers, TimeSpan.Zero, TimeSpan.FromSeconds(prewarm), recorder).ConfigureAwait(false);
                }

                // Interleaved: every path at one shape (in each round), then the next shape, so drift hits them alike.
                foreach (var shape in shapes)
                {
                    for (var round = 1; round <= rounds; round++)
                    foreach (var (path, transport, target) in targets)
                    {
                        if (Machine.Interrupted.IsCancellationRequested)
                            break;
                        if (target is McpSessionsTarget sessions)
                            sessions.PerSession = shape.PerSession;
                        var crossedBefore = (target as McpSessionsTarget)?.Crossed ?? 0;
                        Progress($"{path} {transport} {shape}{(rounds > 1 ? $" round {round}/{rounds}" : string.Empty)}: warm-up {warmup}s, run {seconds}s…");
                        var result = await ClosedLoop.RunAsync(target, shape.Workers, TimeSpan.FromSeconds(warmup), TimeSpan.FromSeconds(seconds), recorder).ConfigureAwait(false);
                        var crossed = ((target as McpSessionsTarget)?.Crossed ?? 0) - crossedBefore;
                        if (result.Errors > 0 && (target as McpSessionsTarget)?.FirstBadReply is { } bad)
                            result = result with { FirstError = $"{result.FirstError}; first error reply: {bad}" };
                        rows.Add(new Row(path, transport, shape, result, crossed, round));
                        Progress(string.Create(Inv,
                            $"  {result.Calls} calls, {result.Throughput:0}/s, p50 {result.Latency.P50:0.000} ms, p99 {result.Latency.P99:0.000} ms, {result.Errors} errors, {crossed} crossed{(result.FirstError is { } e ? $" (first: {e})" : string.Empty)}"));
                        failed |= result.Errors > 0 || crossed > 0;
                    }
                }

                output.AppendLine(string.Create(Inv, $"## Front door: echo over stdio, closed loop, every path pre-warmed {prewarm} s, then warm-up {warmup} s and {seconds} s per run{(rounds > 1 ? $", {rounds} rounds (the paths take turns in each)" : string.Empty)}"));
                output.AppendLine();
                output.Append(Machine.Describe());
                foreach (var note in notes)
                    output.AppendLine($"- {note}");
                output.AppendLine();
                output.Append(ThroughputTable(rows, rounds > 1));
                output.AppendLine();
                output.Append(Ratios(rows, shapes, rounds, "node"));
                if (rows.Any(r => r.Path == "twin"))
                {
                    output.AppendLine();
                    output.AppendLine("A/A: a second pass-through against the first, same rounds (the spread the harness shows between two identical servers).");
                    output.AppendLine();
                    output.Append(Ratios(rows, shapes, rounds, "twin"));
                }
            }

            Flush(output);

            if (parts.Contains("paced"))
            {
                output.AppendLine();
                output.AppendLine(string.Create(Inv, $"## Paced: {rate} calls/s for {pacedSeconds} s over 8 sessions (latency from each call's planned start)"));
                output.AppendLine();
                output.AppendLine("| path | transport | planned | done | errors | crossed | p50 ms | p90 ms | p99 ms | max ms | target p99 ≤ 5 ms |");
                output.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|:---:|");
                foreach (var (path, baseAddress, tool, pid) in ((string, Uri?, string, int?)[])[("bare", bareSession, "echo", bareSessionPid), ("node", nodeSession, "everything__echo", nodeSessionPid)])
                {
                    if (baseAddress is null)
                        continue;
                    await using var target = McpSessionsTarget.Create($"{path} streamable", new Uri(baseAddress, "/mcp"), HttpTransportMode.StreamableHttp, tool, pid, null);
                    using var opening = OpeningTimeout();
                    await target.OpenAsync(8, 8, opening.Token).ConfigureAwait(false);
                    Progress($"{path} paced {rate}/s: warm-up {warmup}s, run {pacedSeconds}s…");
                    _ = await PacedAsync(target, rate, TimeSpan.FromSeconds(warmup), recorder).ConfigureAwait(false);
                    var (planned, done, errors) = await PacedAsync(target, rate, TimeSpan.FromSeconds(pacedSeconds), recorder).ConfigureAwait(false);
                    var p = recorder.Summarize();
                    var met = path == "node" ? (p.P99 <= 5 && errors == 0 ? "yes" : "**no**") : "–";
                    output.AppendLine(string.Create(Inv, $"| {path} | streamable | {planned} | {done} | {errors} | {target.Crossed} | {p.P50:0.000} | {p.P90:0.000} | {p.P99:0.000} | {p.Max:0.0} | {met} |"));
                    Progress(string.Create(Inv, $"  {done}/{planned} done, p50 {p.P50:0.000} ms, p99 {p.P99:0.000} ms, {errors} errors"));
                    failed |= errors > 0 || target.Crossed > 0;
                }
            }

            Flush(output);

            if (parts.Contains("multiplex") && nodeSession is not null)
            {
                output.AppendLine();
                output.AppendLine(string.Create(Inv, $"## Multiplex: {multiplex} sessions × 4 in flight through the node's /mcp on one upstream process, {seconds} s"));
                output.AppendLine();
                await using var target = McpSessionsTarget.Create("node streamable", new Uri(nodeSession, "/mcp"), HttpTransportMode.StreamableHttp, "everything__echo", nodeSessionPid, nodeSessionPeer);
                using (var opening = OpeningTimeout())
                    await target.OpenAsync(multiplex, 16, opening.Token).ConfigureAwait(false);
                target.PerSession = 4;
                var upstreamsBefore = await UpstreamPidAsync(http, nodeSession).ConfigureAwait(false);
                Progress($"multiplex {multiplex}×4: warm-up {warmup}s, run {seconds}s…");
                var result = await ClosedLoop.RunAsync(target, multiplex * 4, TimeSpan.FromSeconds(warmup), TimeSpan.FromSeconds(seconds), recorder).ConfigureAwait(false);
                var upstreamsAfter = await UpstreamPidAsync(http, nodeSession).ConfigureAwait(false);
                output.AppendLine("| sessions | in flight | calls | calls/s | p50 ms | p99 ms | errors | crossed replies | upstream pid before → after |");
                output.AppendLine("|---:|---:|---:|---:|---:|---:|---:|---:|---|");
                output.AppendLine(string.Create(Inv, $"| {multiplex} | {multiplex * 4} | {result.Calls} | {result.Throughput:0} | {result.Latency.P50:0.000} | {result.Latency.P99:0.000} | {result.Errors} | {target.Crossed} | {upstreamsBefore} → {upstreamsAfter} |"));
                failed |= result.Errors > 0 || target.Crossed > 0 || upstreamsBefore != upstreamsAfter;
            }

            Flush(output);

            if (parts.Contains("sessions"))
            {
                output.AppendLine();
                output.AppendLine(string.Create(Inv, $"## Sessions: {sessionCount} open idle MCP sessions, server RSS before and after (settled 3 s)"));
                output.AppendLine();
                output.AppendLine("| server | transport | sessions open | RSS before MiB | RSS after MiB | per session KiB | target ≤ 64 KB |");
                output.AppendLine("|---|---|---:|---:|---:|---:|:---:|");
                foreach (var (path, baseAddress, pid, tool) in ((string, Uri?, int?, string)[])[("bare", bareSession, bareSessionPid, "echo"), ("node", nodeSession, nodeSessionPid, "everything__echo")])
                {
                    if (baseAddress is null || pid is null)
                        continue;
                    foreach (var (transport, endpoint, mode) in ((string, string, HttpTransportMode)[])[("streamable", "/mcp", HttpTransportMode.StreamableHttp), ("sse", path == "node" ? nodeSsePath : "/mcp/sse", HttpTransportMode.Sse)])
                    {
                        await using var target = McpSessionsTarget.Create($"{path} {transport}", new Uri(baseAddress, endpoint), mode, tool, pid, null);
                        await Settle().ConfigureAwait(false);
                        var before = ProcStat.StatusKiB(pid.Value, "VmRSS") ?? 0;
                        Progress($"{path} {transport}: opening {sessionCount} sessions…");
                        string? error = null;
                        try
                        {
                            using var opening = OpeningTimeout();
                            await target.OpenAsync(sessionCount, 16, opening.Token).ConfigureAwait(false);
                        }
#pragma warning disable CA1031 // A refusal (a limit) is a figure of its own: report how many opened.
                        catch (Exception ex)
#pragma warning restore CA1031
                        {
                            error = $"{ex.GetType().Name}: {ex.Message}";
                        }

                        await Settle().ConfigureAwait(false);
                        var after = ProcStat.StatusKiB(pid.Value, "VmRSS") ?? 0;
                        var open = target.Sessions;
                        var per = open > 0 ? (after - before) / (double)open : double.NaN;
                        var met = path == "node" ? (per <= 64_000 / 1024.0 && open == sessionCount ? "yes" : "**no**") : "–";
                        output.AppendLine(string.Create(Inv, $"| {path} | {transport} | {open} | {before / 1024.0:0.0} | {after / 1024.0:0.0} | {per:0.0} | {met} |"));
                        if (error is not null)
                            output.AppendLine(string.Create(Inv, $"\n{path} {transport}: {error}\n"));
                        Progress(string.Create(Inv, $"  {open} open, {per:0.0} KiB each{(error is null ? string.Empty : $" ({error})")}"));
                    }
                }
            }
        }
        finally
        {
            for (var i = targets.Count - 1; i >= 0; i--)
                await targets[i].Target.DisposeAsync().ConfigureAwait(false);
            for (var i = servers.Count - 1; i >= 0; i--)
                await servers[i].DisposeAsync().ConfigureAwait(false);
        }

        Flush(output);
        foreach (var r in rows.Where(r => r.Result.FirstError is not null))
            Console.WriteLine($"\nFirst error of {r.Path} {r.Transport} {r.Shape}: {r.Result.FirstError}");
        return failed ? 1 : 0;
    }

    /// <summary>
    /// An open loop: call number i is planned at start + i / rate and its latency counts from that
    /// plan, so a stall shows in the figures instead of slowing the load down. In flight is
    /// bounded (10 × rate); a call that would exceed it is counted as an error.
    /// </summary>
    private static async Task<(long Planned, long Done, long Errors)> PacedAsync(McpSessionsTarget target, int rate, TimeSpan duration, LatencyRecorder recorder)
    {
        recorder.Reset();
        target.PerSession = 1;
        var workers = target.Sessions;
        target.Prepare(workers * 1024);
        var total = (long)(rate * duration.TotalSeconds);
        long planned, done = 0, errors = 0, inFlight = 0;
        var limit = 10L * rate;
        var pending = new List<Task>();
        using var hard = CancellationTokenSource.CreateLinkedTokenSource(Machine.Interrupted);
        hard.CancelAfter(duration + TimeSpan.FromSeconds(30));

        async Task One(long index, long plannedAt)
        {
            try
            {
                // Distinct worker slots per session, so that sequence numbers never race.
                var worker = (int)(index % (workers * 1024));
                var ok = await target.CallAsync(worker, hard.Token).ConfigureAwait(false);
                if (!ok)
                    Interlocked.Increment(ref errors);
            }
#pragma warning disable CA1031 // Any failed call is an error of the run.
            catch (Exception)
#pragma warning restore CA1031
            {
                Interlocked.Increment(ref errors);
            }
            finally
            {
                recorder.Record(Stopwatch.GetTimestamp() - plannedAt);
                Interlocked.Increment(ref done);
                Interlocked.Decrement(ref inFlight);
            }
        }

        var pendingLock = new Lock();
        planned = await Pacer.RunAsync(rate, total, (index, plannedAt) =>
        {
            if (Interlocked.Read(ref inFlight) >= limit)
            {
                Interlocked.Increment(ref errors);
                return;
            }

            Interlocked.Increment(ref inFlight);
            var call = One(index, plannedAt);
            lock (pendingLock)
                pending.Add(call);
        }, hard.Token).ConfigureAwait(false);

        await Task.WhenAll(pending).WaitAsync(TimeSpan.FromSeconds(60)).ConfigureAwait(false);
        return (planned, Interlocked.Read(ref done), Interlocked.Read(ref errors));
    }

    private static string ThroughputTable(IReadOnlyList<Row> rows, bool byRound)
    {
        var text = new StringBuilder();
        text.AppendLine((byRound ? "| round " : string.Empty) + "| path | transport | sessions × in flight | calls | calls/s | p50 ms | p90 ms | p99 ms | max ms | errors | crossed | harness CPU µs/call | server CPU µs/call | peer CPU µs/call | server KiB/call | server GCs/1k calls | server GC pause µs/call |");
        text.AppendLine((byRound ? "|---:" : string.Empty) + "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var row in rows.OrderBy(r => r.Shape.Workers).ThenBy(r => r.Shape.Sessions).ThenBy(r => r.Round))
        {
            var r = row.Result;
            text.AppendLine((byRound ? string.Create(Inv, $"| {row.Round} ") : string.Empty) + string.Create(Inv,
                $"| {row.Path} | {row.Transport} | {row.Shape} | {r.Calls} | {r.Throughput:0} | {r.Latency.P50:0.000} | {r.Latency.P90:0.000} | {r.Latency.P99:0.000} | {r.Latency.Max:0.0} | {r.Errors} | {row.Crossed} | {r.HarnessCpuUsPerCall:0} | {Opt(r.GatewayCpuUsPerCall)} | {Opt(r.PeerCpuUsPerCall)} | {Opt(r.ServerAllocBytesPerCall / 1024, "0.00")} | {Opt(r.ServerGcsPerKCalls, "0.0")} | {Opt(r.ServerGcPauseUsPerCall, "0.0")} |"));
        }

        return text.ToString();
    }

    /// <summary>
    /// <paramref name="path"/> (the node, or the twin pass-through) against the pass-through for
    /// each transport and shape. With several rounds, each figure is the median over the rounds of
    /// that round's figure (a pair measured next to each other in time), with the rounds' range in brackets.
    /// </summary>
    private static string Ratios(IReadOnlyList<Row> rows, IReadOnlyList<Shape> shapes, int rounds, string path)
    {
        var text = new StringBuilder();
        var of = rounds > 1 ? $" (median of {rounds} rounds, range)" : string.Empty;
        text.AppendLine($"| transport | shape | {path} / bare throughput{of} (target ≥ 85 %) | {path} p50 − bare p50 ms | {path} / direct throughput | {path} p50 ms at 1×1{of} (target ≤ 0.4) |");
        text.AppendLine("|---|---|---:|---:|---:|---:|");
        foreach (var transport in rows.Select(r => r.Transport).Where(t => t != "stdio").Distinct())
        {
            foreach (var shape in shapes)
            {
                var pairs = Enumerable.Range(1, rounds)
                    .Select(round => (
                        Node: Find(rows, path, transport, shape, round),
                        Bare: Find(rows, "bare", transport, shape, round),
                        Direct: rows.FirstOrDefault(r => r.Path == "direct" && r.Shape.Workers == shape.Workers && r.Round == round)?.Result))
                    .Where(p => p.Node is not null)
                    .ToList();
                if (pairs.Count == 0)
                    continue;
                var withBare = pairs.Where(p => p.Bare is not null).ToList();
                var withDirect = pairs.Where(p => p.Direct is not null).ToList();
                var vsBare = withBare.Count == 0 ? "n/a" : Figure(withBare.Select(p => 100.0 * p.Node!.Throughput / p.Bare!.Throughput).ToList(), 85, "0.0' %'");
                var p50 = withBare.Count == 0 ? "n/a" : Median(withBare.Select(p => p.Node!.Latency.P50 - p.Bare!.Latency.P50).ToList()).ToString("+0.000;-0.000", Inv);
                var vsDirect = withDirect.Count == 0 ? "n/a" : Median(withDirect.Select(p => 100.0 * p.Node!.Throughput / p.Direct!.Throughput).ToList()).ToString("0.0' %'", Inv);
                var single = shape is { Sessions: 1, PerSession: 1 } ? Figure(pairs.Select(p => p.Node!.Latency.P50).ToList(), 0.4, "0.000", atLeast: false) : "–";
                text.AppendLine(string.Create(Inv, $"| {transport} | {shape} | {vsBare} | {p50} | {vsDirect} | {single} |"));
            }
        }

        return text.ToString();

        static RunResult? Find(IReadOnlyList<Row> rows, string path, string transport, Shape shape, int round) =>
            rows.FirstOrDefault(r => r.Path == path && r.Transport == transport && r.Shape == shape && r.Round == round)?.Result;
    }

    /// <summary>The median of <paramref name="values"/>, marked when it misses the target (at least, or at most <paramref name="atLeast"/> when false); with several, their range after it.</summary>
    private static string Figure(List<double> values, double target, string format, bool atLeast = true)
    {
        var median = Median(values);
        var text = (atLeast ? median >= target : median <= target) ? median.ToString(format, Inv) : $"**{median.ToString(format, Inv)}**";
        return values.Count == 1 ? text : $"{text} ({values.Min().ToString(format, Inv)}–{values.Max().ToString(format, Inv)})";
    }

    private static double Median(List<double> values) => GatewayCommand.Median(values);

    private static string Opt(double? value, string format = "0") => value is { } v ? v.ToString(format, Inv) : "–";

    private static async Task<string> UpstreamPidAsync(HttpClient http, Uri node)
    {
        using var response = await http.GetAsync(new Uri(node, "/api/v1/upstreams")).ConfigureAwait(false);
        var body = await response.Content.ReadAsStringAsync().ConfigureAwait(false);
        using var document = System.Text.Json.JsonDocument.Parse(body);
        var list = document.RootElement.ValueKind == System.Text.Json.JsonValueKind.Object && document.RootElement.TryGetProperty("upstreams", out var inner) ? inner : document.RootElement;
        foreach (var upstream in list.EnumerateArray())
        {
            if (upstream.TryGetProperty("process_id", out var pid) && pid.ValueKind == System.Text.Json.JsonValueKind.Number)
                return pid.GetInt32().ToString(Inv);
        }

        return "?";
    }

    /// <summary>Prints what a part measured as soon as it is done, so that a later failure loses nothing.</summary>
    private static void Flush(StringBuilder output)
    {
        if (output.Length == 0)
            return;
        Console.WriteLine();
        Console.Write(output.ToString());
        Console.Out.Flush();
        output.Clear();
    }

    private static Task Settle() => Task.Delay(TimeSpan.FromSeconds(3));

    /// <summary>A bound for opening sessions in one part (the start-up bound has run out by then).</summary>
    private static CancellationTokenSource OpeningTimeout()
    {
        var opening = CancellationTokenSource.CreateLinkedTokenSource(Machine.Interrupted);
        opening.CancelAfter(TimeSpan.FromSeconds(180));
        return opening;
    }

    private static void Progress(string line) => StdioCommand.Progress(line);
}
