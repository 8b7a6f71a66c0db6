using System.Globalization;
using System.Text;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using Sark.Actors.Configuration;
using Sark.Actors.Telemetry;

namespace Sark.Benchmarks.Load;

/// <summary>
/// <c>telemetry [--seconds N] [--warmup N] [--rounds N] [--concurrency 1,16]</c> (issue 8): the
/// whole invoke path (facade → embedded policy → demo server over stdio) with tracing and
/// metrics on against both off, in one run. The listeners are process-wide, so the two modes
/// take turns on the same runtime and process (off, on, off, on, ...), and the totals of each
/// mode are compared. "On" is what a node does: a TracerProvider that records every span of the
/// <c>Sark.Actors</c> source (always-on sampler) and a MeterProvider that aggregates every
/// instrument of the meter (read every 10 s by the in-memory exporter, as a scrape would).
/// </summary>
internal static class TelemetryCommand
{
    private static Sampler Sampler(double ratio) => new ParentBasedSampler(ratio >= 1.0 ? new AlwaysOnSampler() : new TraceIdRatioBasedSampler(ratio));

    public const string Command = "telemetry";

    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static async Task<int> RunAsync(Args args)
    {
        var through = args.String("--through") ?? "facade";
        if (through is not ("facade" or "node"))
            throw new ArgumentException("--through: facade or node.");
        if (through == "node")
            return await ThroughNodeAsync(args).ConfigureAwait(false);

        var seconds = args.Int("--seconds", 5, 1, 600);
        var warmup = args.Int("--warmup", 2, 0, 600);
        var rounds = args.Int("--rounds", 2, 1, 50);
        // A fresh process speeds up for tens of seconds (tiered JIT, PGO): load it before the rounds.
        var prewarm = args.Int("--prewarm", 15, 0, 600);
        var concurrencies = args.IntList("--concurrency", [1, 16], 1, 256);
        // off and on are compared; tracing (spans only) and metrics (instruments only) show where the cost is.
        // "all" is "on" with every span recorded (sample ratio 1).
        var modes = args.StringList("--modes", ["off", "on", "all"]);
        if (modes.Any(m => m is not ("off" or "on" or "all" or "tracing" or "metrics")))
            throw new ArgumentException("--modes: a list of off, on, all, tracing, metrics.");
        var layout = RepoLayout.Find();
        if (layout.DemoServerDll() is not { } demo)
        {
            Console.Error.WriteLine("telemetry: src/Sark.DemoServer is not built (dotnet build src/Sark.DemoServer -c Release).");
            return 1;
        }

        var options = SarkConfigLoader.Parse(BenchConfig.Hocon(layout, ("demo", [RepoLayout.OnPath("dotnet"), demo.Dll])));
        // The node's sampler at the node's default ratio (sark.telemetry.trace-sample-ratio), unless given.
        var ratio = args.Double("--sample-ratio", options.Telemetry.TraceSampleRatio, 0, 1);
        var recorder = new LatencyRecorder((int)Math.Min(16_000_000L, Math.Max(1_000_000L, seconds * 200_000L)));
        var results = new List<RunResult>();
        var output = new StringBuilder();
        using (var setup = CancellationTokenSource.CreateLinkedTokenSource(Machine.Interrupted))
        {
            setup.CancelAfter(TimeSpan.FromSeconds(90));
            StdioCommand.Progress("telemetry: starting facade + policy → demo server…");
            await using var target = await FacadeTarget.StartAsync(options, "demo", setup.Token, name: "facade").ConfigureAwait(false);
            if (prewarm > 0)
            {
                StdioCommand.Progress($"pre-warm {prewarm}s at c={concurrencies.Max()}, tracing+metrics on…");
                using var warmTracing = Sdk.CreateTracerProviderBuilder().AddSource(SarkTelemetry.Name).SetSampler(Sampler(1.0)).Build();
                using var warmMetrics = Sdk.CreateMeterProviderBuilder().AddMeter(SarkTelemetry.Name).Build();
                _ = await ClosedLoop.RunAsync(target, concurrencies.Max(), TimeSpan.Zero, TimeSpan.FromSeconds(prewarm), recorder).ConfigureAwait(false);
            }

            foreach (var concurrency in concurrencies)
            {
                for (var round = 0; round < rounds && !Machine.Interrupted.IsCancellationRequested; round++)
                {
                    // Each round starts with the next mode, so that a drift of the machine favours none.
                    foreach (var mode in modes.Skip(round % modes.Length).Concat(modes.Take(round % modes.Length)))
                    {
                        var exported = new List<Metric>();
                        var on = mode is "on" or "all";
                        using var tracing = on || mode == "tracing"
                            ? Sdk.CreateTracerProviderBuilder().AddSource(SarkTelemetry.Name).SetSampler(Sampler(mode == "all" ? 1.0 : ratio)).Build()
                            : null;
                        using var metrics = on || mode == "metrics"
                            ? Sdk.CreateMeterProviderBuilder().AddMeter(SarkTelemetry.Name)
                                .AddInMemoryExporter(exported, reader => reader.PeriodicExportingMetricReaderOptions.ExportIntervalMilliseconds = 10_000).Build()
                            : null;
                        var name = mode switch { "on" => "tracing+metrics on", "all" => "on, every span", "off" => "both off", _ => mode + " only" };
                        StdioCommand.Progress($"{name} c={concurrency} round {round + 1}: warm-up {warmup}s, run {seconds}s…");
                        var result = await ClosedLoop.RunAsync(target, concurrency, TimeSpan.FromSeconds(warmup), TimeSpan.FromSeconds(seconds), recorder).ConfigureAwait(false);
                        results.Add(result with { Path = name });
                        StdioCommand.Progress(string.Create(Inv, $"  {result.Calls} calls, {result.Throughput:0}/s, p50 {result.Latency.P50:0.000} ms, {result.Errors} errors"));
                    }
                }
            }
        }

        output.AppendLine();
        output.AppendLine("## telemetry cost (issue 8)");
        output.AppendLine();
        output.Append(Machine.Describe());
        output.AppendLine();
        output.AppendLine(Inv, $"### Invoke path with tracing and metrics on vs both off: closed loop, {rounds} rounds per mode (each round starts with the next mode), pre-warm {prewarm} s, warm-up {warmup} s, {seconds} s per run");
        output.AppendLine();
        output.AppendLine("- path: `SarkRuntime.Start` facade, embedded policy (one allow rule, decisions cached), no audit, mcp-stdio demo server, tool `echo`");
        output.AppendLine(Inv, $"- on: what a node does: TracerProvider (source `Sark.Actors`, parent-based sampler recording {ratio:0.###} of new traces, the rest get trace ids only; no exporter) + MeterProvider (meter `Sark.Actors`, in-memory exporter every 10 s)");
        output.AppendLine("- on, every span: the same with every span recorded (sample ratio 1)");
        output.AppendLine();
        output.Append(Report.Table(results));
        output.AppendLine();
        output.AppendLine("| c | mode | calls/s off | calls/s mode | mode / off | p50 off ms | p50 mode ms | target | met |");
        output.AppendLine("|---:|---|---:|---:|---:|---:|---:|---:|:---:|");
        var met = true;
        foreach (var c in concurrencies)
        {
            var off = results.Where(r => r.Path == "both off" && r.Concurrency == c).ToList();
            foreach (var path in results.Select(r => r.Path).Distinct().Where(p => p != "both off"))
            {
                var on = results.Where(r => r.Path == path && r.Concurrency == c).ToList();
                if (off.Count == 0 || on.Count == 0)
                    continue;
                double Rate(List<RunResult> runs) => runs.Sum(r => r.Calls) / runs.Sum(r => r.Seconds);
                var share = Rate(on) / Rate(off);
                var judged = path == "tracing+metrics on";
                met &= !judged || share >= 0.95;
                output.AppendLine(Inv,
                    $"| {c} | {path} | {Rate(off):0} | {Rate(on):0} | {100 * share:0.0} % | {off.Average(r => r.Latency.P50):0.000} | {on.Average(r => r.Latency.P50):0.000} | {(judged ? "≥ 95 %" : "–")} | {(judged ? share >= 0.95 ? "yes" : "**no**" : "–")} |");
            }
        }

        Console.Write(output.ToString());
        return met ? 0 : 1;
    }

    /// <summary>
    /// <c>--through node</c>: the whole path (an MCP client's <c>tools/call</c> → the node's front
    /// door → facade → server-everything over stdio) on two node processes of the same build and
    /// configuration but <c>sark.telemetry.enabled</c>, loaded in turn by the same 8 × 16 sessions.
    /// </summary>
    private static async Task<int> ThroughNodeAsync(Args args)
    {
        var seconds = args.Int("--seconds", 10, 1, 600);
        var warmup = args.Int("--warmup", 3, 0, 600);
        var rounds = args.Int("--rounds", 3, 1, 50);
        var prewarm = args.Int("--prewarm", 15, 0, 600);
        var layout = RepoLayout.Find();
        if (layout.HostDll() is not { } host || !File.Exists(layout.EverythingScript))
        {
            Console.Error.WriteLine("telemetry --through node: build the solution in Release and run npm ci in tests/peers first.");
            return 2;
        }

        const int Sessions = 8, PerSession = 16;
        var config = BenchConfig.Hocon(layout, ("everything", BenchConfig.Everything(layout)))
            + "sark.front-door { max-sessions = 5000, max-sessions-per-caller = 5000 }\n";
        var recorder = new LatencyRecorder((int)Math.Min(16_000_000L, Math.Max(1_000_000L, seconds * 200_000L)));
        var results = new List<RunResult>();
        var disposables = new List<IAsyncDisposable>();
        var ratio = SarkConfigLoader.Parse(config).Telemetry.TraceSampleRatio;
        try
        {
            using var setup = CancellationTokenSource.CreateLinkedTokenSource(Machine.Interrupted);
            setup.CancelAfter(TimeSpan.FromSeconds(180));
            using var http = RestTarget.NewClient();
            var targets = new List<(string Mode, McpSessionsTarget Target)>();
            foreach (var (mode, extra) in new[] { ("both off", "sark.telemetry.enabled = false\n"), ("tracing+metrics on", string.Empty) })
            {
                StdioCommand.Progress($"starting node ({mode})…");
                var process = await NodeProcess.StartAsync(host.Dll, [], config + extra, TimeSpan.FromSeconds(90), environment: null).ConfigureAwait(false);
                disposables.Add(process);
                var ready = await process.WaitUpstreamsReadyAsync(http, ["everything"], TimeSpan.FromSeconds(60)).ConfigureAwait(false);
                var target = McpSessionsTarget.Create(mode, new Uri(process.BaseAddress, "/mcp"), ModelContextProtocol.Client.HttpTransportMode.StreamableHttp,
                    "everything__echo", process.Pid, ready["everything"]);
                disposables.Add(target);
                await target.OpenAsync(Sessions, Sessions, setup.Token).ConfigureAwait(false);
                target.PerSession = PerSession;
                targets.Add((mode, target));
            }

            foreach (var (mode, target) in targets)
            {
                StdioCommand.Progress($"{mode}: pre-warm {prewarm}s…");
                _ = await ClosedLoop.RunAsync(target, Sessions * PerSession, TimeSpan.Zero, TimeSpan.FromSeconds(prewarm), recorder).ConfigureAwait(false);
            }

            for (var round = 0; round < rounds && !Machine.Interrupted.IsCancellationRequested; round++)
            {
                foreach (var (mode, target) in round % 2 == 0 ? targets : Enumerable.Reverse(targets))
                {
                    StdioCommand.Progress($"{mode} {Sessions}×{PerSession} round {round + 1}: warm-up {warmup}s, run {seconds}s…");
                    var result = await ClosedLoop.RunAsync(target, Sessions * PerSession, TimeSpan.FromSeconds(warmup), TimeSpan.FromSeconds(seconds), recorder).ConfigureAwait(false);
                    results.Add(result with { Path = mode });
                    StdioCommand.Progress(string.Create(Inv, $"  {result.Calls} calls, {result.Throughput:0}/s, p50 {result.Latency.P50:0.000} ms, {result.Errors} errors"));
                }
            }
        }
        finally
        {
            foreach (var disposable in Enumerable.Reverse(disposables))
                await disposable.DisposeAsync().ConfigureAwait(false);
        }

        var output = new StringBuilder();
        output.AppendLine();
        output.AppendLine("## telemetry cost through the node (issue 8)");
        output.AppendLine();
        output.Append(Machine.Describe());
        output.AppendLine();
        output.AppendLine(Inv, $"### MCP tools/call echo through the front door ({Sessions} sessions × {PerSession} in flight, Streamable HTTP) to server-everything over stdio: two nodes, telemetry off and on (node defaults: trace-sample-ratio {ratio:0.###}, Prometheus meter), {rounds} rounds in turn, pre-warm {prewarm} s, warm-up {warmup} s, {seconds} s per run");
        output.AppendLine();
        output.Append(Report.Table(results));
        output.AppendLine();
        double Rate(string mode) => results.Where(r => r.Path == mode).Sum(r => r.Calls) / Math.Max(1e-9, results.Where(r => r.Path == mode).Sum(r => r.Seconds));
        var share = Rate("tracing+metrics on") / Math.Max(1e-9, Rate("both off"));
        output.AppendLine("| calls/s off | calls/s on | on / off | target | met |");
        output.AppendLine("|---:|---:|---:|---:|:---:|");
        output.AppendLine(Inv, $"| {Rate("both off"):0} | {Rate("tracing+metrics on"):0} | {100 * share:0.0} % | ≥ 95 % | {(share >= 0.95 ? "yes" : "**no**")} |");
        Console.Write(output.ToString());
        return share >= 0.95 ? 0 : 1;
    }
}
