using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Akka.Actor;
using Sark.Actors;
using Sark.Actors.Configuration;
using Sark.Actors.Policy;
using Sark.Actors.Tests.Policy;
using Sark.Benchmarks.Micro;

namespace Sark.Benchmarks.Load;

/// <summary>
/// <c>policy-audit [--parts decide,opa,invoke,policy-only] [--decisions N] [--cache-entries N] [--opa-seconds N] [--seconds N] [--warmup N] [--concurrency 1,16]</c>:
/// the policy and audit figures of issue 6, in one run.
/// <list type="bullet">
/// <item><c>decide</c>: closed-loop latency of single decisions (one thread) over <c>--decisions</c>
/// (1,000,000) each, with the micro-benchmarks' example rules: the embedded engine alone, the
/// gate uncached (distinct argument values, so every decision misses the cache and goes
/// gate → PolicyDecisionPoint → engine) and the gate cached (the same input).</item>
/// <item><c>opa</c>: the gate → PolicyDecisionPoint → OpaPolicyClient → the tests' OPA Data API
/// stand-in on 127.0.0.1; the stand-in answers <c>cache_ttl: 0</c>, so every decision goes to it.</item>
/// <item><c>invoke</c>: the facade (<c>SarkRuntime.Start</c>, a stdio upstream running the demo
/// server's <c>echo</c>) (a) without policy and audit and (b) with the embedded policy (one allow
/// rule, decisions cached) and audit into a temporary SQLite file, interleaved, at each concurrency;
/// with <c>policy-only</c> also the same policy without audit.</item>
/// </list>
/// </summary>
internal static class PolicyAuditCommand
{
    public const string Command = "policy-audit";

    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static async Task<int> RunAsync(Args args)
    {
        var parts = args.StringList("--parts", ["decide", "opa", "invoke", "policy-only"]);
        var decisions = args.Int("--decisions", 1_000_000, 1000, 16_000_000);
        // The decision cache's bound for the decide part (sark.policy.cache-max-entries; 10,000 by default).
        var cacheEntries = args.Int("--cache-entries", 10_000, 1, 20_000_000);
        var opaSeconds = args.Int("--opa-seconds", 5, 1, 600);
        var seconds = args.Int("--seconds", 10, 1, 600);
        var warmup = args.Int("--warmup", 3, 0, 600);
        var concurrencies = args.IntList("--concurrency", [1, 16], 1, 256);
        var output = new StringBuilder();
        var failed = false;
        output.AppendLine();
        output.AppendLine("## policy and audit (issue 6)");
        output.AppendLine();
        output.Append(Machine.Describe());
        if (parts.Contains("decide"))
            failed |= !await DecideAsync(decisions, cacheEntries, output).ConfigureAwait(false);
        if (parts.Contains("opa") && !Machine.Interrupted.IsCancellationRequested)
            failed |= !await OpaAsync(opaSeconds, output).ConfigureAwait(false);
        if (parts.Contains("invoke") && !Machine.Interrupted.IsCancellationRequested)
            failed |= !await InvokeAsync(seconds, warmup, concurrencies, parts.Contains("policy-only"), output).ConfigureAwait(false);
        Console.Write(output.ToString());
        return failed ? 1 : 0;
    }

    // ---------------------------------------------------------------- decide

    private static async Task<bool> DecideAsync(int decisions, int cacheEntries, StringBuilder output)
    {
        var options = PolicyOptions.Parse(PolicyBenchmarks.ExampleRules) with { CacheMaxEntries = cacheEntries };
        var engine = new EmbeddedPolicyEngine(options);
        var caller = new Caller("alice", ["analyst"], ["data"]);
        var now = DateTimeOffset.UtcNow;
        var arguments = JsonElement.Parse("""{"query":"SELECT id, name FROM users WHERE team = 'data' LIMIT 100","database":"analytics","options":{"timeout_ms":5000,"read_only":true}}""");
        var fixedInput = PolicyInput.ForInvoke(caller, "postgres-mcp", "high", "execute_query", "high", arguments, "r", now, "bench");
        var hash = CanonicalJson.Hash(arguments);
        var recorder = new LatencyRecorder(decisions);
        var rows = new List<string>();
        var wrong = 0L;
        string? firstWrong = null;
        void Wrong(PolicyDecision decision)
        {
            Interlocked.Increment(ref wrong);
            Interlocked.CompareExchange(ref firstWrong, decision.Reason, null);
        }

        var system = ActorSystem.Create("policy-decide", "akka.loglevel = WARNING");
        try
        {
            var cache = new DecisionCache(system.Scheduler, options.CacheMaxEntries);
            var pdp = system.ActorOf(PolicyDecisionPoint.Props(options, cache), "policy");
            var gate = new PolicyGate(pdp, cache, options);

            // 1. The engine alone (no cache, no actor): what the decision point runs per miss.
            StdioCommand.Progress($"decide: embedded engine alone, {decisions} decisions…");
            rows.Add(await MeasureAsync("`EmbeddedPolicyEngine.Evaluate` (analyst SELECT), no cache", decisions, recorder, 20, i =>
            {
                if (engine.Evaluate(fixedInput) is { Allow: false } denied)
                    Wrong(denied);
                return ValueTask.CompletedTask;
            }).ConfigureAwait(false));

            // 2. The gate, uncached: distinct argument values (built off the clock), so every
            // decision misses and is Asked of the decision point (hash, key, Ask, engine, cache set).
            StdioCommand.Progress($"decide: gate uncached (distinct arguments), {decisions} decisions…");
            var uncached = await MeasureAsync("`PolicyGate.DecideAsync`, uncached (distinct arguments: hash + key + Ask → decision point → engine)", decisions, recorder, 20,
                i => PolicyInput.ForInvoke(caller, "postgres-mcp", "high", "execute_query", "high",
                    JsonElement.Parse(string.Create(Inv, $$$"""{"query":"SELECT id, name FROM users WHERE team = 'data' LIMIT {{{i}}}","database":"analytics","options":{"timeout_ms":5000,"read_only":true}}""")),
                    "r", now, "bench"),
                async input =>
                {
                    if (await gate.DecideAsync(input).ConfigureAwait(false) is { Allow: false } denied)
                        Wrong(denied);
                }).ConfigureAwait(false);
            rows.Add(uncached);

            // 3. The gate, cached: the same input every time (the decision is stored by the first).
            await gate.DecideAsync(fixedInput).ConfigureAwait(false);
            StdioCommand.Progress($"decide: gate cached, {decisions} decisions…");
            rows.Add(await MeasureAsync("`PolicyGate.DecideAsync(input)`, cached (arguments hash + key + lookup)", decisions, recorder, 2, _ =>
            {
                var pending = gate.DecideAsync(fixedInput);
                if (!pending.IsCompletedSuccessfully)
                    throw new InvalidOperationException("a cached decision was not read at once");
                if (pending.Result is { Allow: false } denied)
                    Wrong(denied);
                return ValueTask.CompletedTask;
            }).ConfigureAwait(false));
            rows.Add(await MeasureAsync("`PolicyGate.DecideAsync(input, hash)`, cached (hash given, as the facade does: key + lookup)", decisions, recorder, 2, _ =>
            {
                var pending = gate.DecideAsync(fixedInput, hash);
                if (!pending.IsCompletedSuccessfully)
                    throw new InvalidOperationException("a cached decision was not read at once");
                if (pending.Result is { Allow: false } denied)
                    Wrong(denied);
                return ValueTask.CompletedTask;
            }).ConfigureAwait(false));
            rows.Add(await MeasureAsync("`CanonicalJson.Hash` of the arguments (3 keys, nested)", decisions, recorder, null, _ =>
            {
                if (CanonicalJson.Hash(arguments).Length == 0)
                    throw new InvalidOperationException("an empty hash");
                return ValueTask.CompletedTask;
            }).ConfigureAwait(false));
        }
        finally
        {
            await system.Terminate().WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        }

        output.AppendLine();
        output.AppendLine(Inv, $"### Embedded decisions: one thread, closed loop, {decisions} decisions each (after {Warmup(decisions)} unrecorded), decision cache bound {cacheEntries}");
        output.AppendLine();
        output.AppendLine("| measurement | decisions/s | p50 µs | p90 µs | p99 µs | p99.9 µs | max µs | alloc B/decision | target p99 | met |");
        output.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|:---:|");
        foreach (var row in rows)
            output.AppendLine(row);
        output.AppendLine();
        output.AppendLine(Inv, $"Denials where the rules allow: {wrong}{(firstWrong is null ? "" : $" (the first: \"{firstWrong}\"; a regular expression that does not finish within its 100 ms timeout denies, fail-closed)")}.");
        return wrong == 0;
    }

    private static int Warmup(int decisions) => Math.Min(100_000, decisions / 10);

    /// <summary>A synchronous decision in a loop; one row of the table.</summary>
    private static Task<string> MeasureAsync(string what, int decisions, LatencyRecorder recorder, double? targetUs, Func<int, ValueTask> decide) =>
        MeasureAsync(what, decisions, recorder, targetUs, static i => i, decide);

    /// <summary>Each decision on an input made off the clock by <paramref name="make"/>; one row of the table.</summary>
    private static async Task<string> MeasureAsync<T>(string what, int decisions, LatencyRecorder recorder, double? targetUs, Func<int, T> make, Func<T, ValueTask> decide)
    {
        var warm = Warmup(decisions);
        for (var i = 0; i < warm; i++)
            await decide(make(-1 - i)).ConfigureAwait(false);
        recorder.Reset();
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        var allocated = 0L;
        var moved = false;
        var start = Stopwatch.GetTimestamp();
        for (var i = 0; i < decisions && !Machine.Interrupted.IsCancellationRequested; i++)
        {
            var input = make(i);
            var thread = Environment.CurrentManagedThreadId;
            var a0 = GC.GetAllocatedBytesForCurrentThread();
            var t0 = Stopwatch.GetTimestamp();
            await decide(input).ConfigureAwait(false);
            var elapsed = Stopwatch.GetTimestamp() - t0;
            allocated += GC.GetAllocatedBytesForCurrentThread() - a0;
            moved |= thread != Environment.CurrentManagedThreadId;
            recorder.Record(elapsed);
        }

        var wall = Stopwatch.GetElapsedTime(start).TotalSeconds;
        var p = recorder.Summarize();
        var p999 = recorder.Quantile(0.999);
        var n = Math.Max(1, recorder.Count);
        var met = targetUs is { } t ? (p.P99 * 1000 <= t ? "yes" : "**no**") : "–";
        var target = targetUs is { } t2 ? string.Create(Inv, $"≤ {t2:0} µs") : "–";
        // The rate includes making the inputs (off the latency clock, not off the wall clock). The
        // allocations are this thread's: n/a when a decision resumed on another thread (an Ask).
        return string.Create(Inv,
            $"| {what} | {recorder.Count / wall:0} | {p.P50 * 1000:0.00} | {p.P90 * 1000:0.00} | {p.P99 * 1000:0.00} | {p999 * 1000:0.00} | {p.Max * 1000:0} | {(moved ? "n/a" : ((double)allocated / n).ToString("0", Inv))} | {target} | {met} |");
    }

    // ---------------------------------------------------------------- opa

    private static async Task<bool> OpaAsync(int seconds, StringBuilder output)
    {
        StdioCommand.Progress("opa: starting the OPA Data API stand-in on 127.0.0.1…");
        var opa = await OpaStandIn.StartAsync().ConfigureAwait(false);
        var system = ActorSystem.Create("policy-opa", "akka.loglevel = WARNING");
        try
        {
            // cache_ttl 0: nothing is cached, every decision is a POST to the stand-in.
            opa.Result = """{"allow":true,"reason":"stand-in allows","cache_ttl":0}""";
            var url = opa.Url.ToString().TrimEnd('/');
            var options = PolicyOptions.Parse($$"""sark.policy { engine = opa, opa { url = "{{url}}", path = "sark/authz/decision" } }""");
            var cache = new DecisionCache(system.Scheduler, options.CacheMaxEntries);
            var pdp = system.ActorOf(PolicyDecisionPoint.Props(options, cache), "policy");
            var gate = new PolicyGate(pdp, cache, options);
            var arguments = JsonElement.Parse("""{"message":"hi"}""");
            var input = PolicyInput.ForInvoke(Caller.Local, "demo", "low", "echo", "low", arguments, "r", DateTimeOffset.UtcNow, "bench");
            var recorder = new LatencyRecorder(Math.Max(100_000, seconds * 100_000));
            var wrong = 0L;

            async Task<int> LoopAsync(TimeSpan duration, bool record)
            {
                var deadline = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
                var calls = 0;
                while (Stopwatch.GetTimestamp() < deadline && !Machine.Interrupted.IsCancellationRequested)
                {
                    var t0 = Stopwatch.GetTimestamp();
                    var decision = await gate.DecideAsync(input).ConfigureAwait(false);
                    var elapsed = Stopwatch.GetTimestamp() - t0;
                    if (!decision.Allow)
                        wrong++;
                    calls++;
                    if (record && !recorder.Record(elapsed))
                        break;
                }

                return calls;
            }

            StdioCommand.Progress($"opa: warm-up 1s, run {seconds}s (c = 1)…");
            await LoopAsync(TimeSpan.FromSeconds(1), record: false).ConfigureAwait(false);
            recorder.Reset();
            var before = opa.Requests;
            var start = Stopwatch.GetTimestamp();
            var calls = await LoopAsync(TimeSpan.FromSeconds(seconds), record: true).ConfigureAwait(false);
            var wall = Stopwatch.GetElapsedTime(start).TotalSeconds;
            var requests = opa.Requests - before;
            var p = recorder.Summarize();
            var met = p.P50 <= 0.5;
            output.AppendLine();
            output.AppendLine(Inv, $"### OPA over loopback: gate → PolicyDecisionPoint → OpaPolicyClient → OPA Data API stand-in (127.0.0.1), c = 1, {seconds} s");
            output.AppendLine();
            output.AppendLine("| decisions | decisions/s | stand-in requests | p50 ms | p90 ms | p99 ms | max ms | wrong | target p50 | met |");
            output.AppendLine("|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---:|");
            output.AppendLine(Inv, $"| {calls} | {calls / wall:0} | {requests} | {p.P50:0.000} | {p.P90:0.000} | {p.P99:0.000} | {p.Max:0.0} | {wrong} | ≤ 0.5 ms | {(met ? "yes" : "**no**")} |");
            output.AppendLine();
            output.AppendLine("The stand-in (tests/Sark.Actors.Tests/Policy/OpaStandIn.cs, Kestrel in this process) answers `{\"allow\":true,…,\"cache_ttl\":0}`, so no decision is cached: stand-in requests = decisions.");
            return wrong == 0 && requests == calls;
        }
        finally
        {
            await system.Terminate().WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
            await opa.DisposeAsync().ConfigureAwait(false);
        }
    }

    // ---------------------------------------------------------------- invoke

    /// <summary>The difference of the mean latencies of a closed loop (concurrency / throughput), in ms.</summary>
    private static string Mean(RunResult a, RunResult b) =>
        string.Create(Inv, $"{1000.0 * ((b.Concurrency / b.Throughput) - (a.Concurrency / a.Throughput)):+0.000;-0.000}");

    private static async Task<bool> InvokeAsync(int seconds, int warmup, int[] concurrencies, bool withPolicyOnly, StringBuilder output)
    {
        var layout = RepoLayout.Find();
        string[] command;
        string peer;
        if (layout.DemoServerDll() is { } demo)
        {
            command = [RepoLayout.OnPath("dotnet"), demo.Dll];
            peer = $"the demo server ({demo.Configuration} build, `{demo.Dll}`)";
        }
        else
        {
            output.AppendLine();
            output.AppendLine("invoke skipped: src/Sark.DemoServer is not built (dotnet build src/Sark.DemoServer -c Release).");
            return false;
        }

        var baseOptions = SarkConfigLoader.Parse(BenchConfig.Hocon(layout, ("demo", command)));
        var auditFile = Path.Combine(Path.GetTempPath(), $"sark-bench-audit-{Guid.NewGuid():N}.db");
        var plain = baseOptions with { Policy = null, Audit = null };
        var policyOnly = baseOptions with { Audit = null };
        var guarded = baseOptions with { Audit = baseOptions.Audit! with { Enabled = true, SqlitePath = auditFile } };
        var recorder = new LatencyRecorder((int)Math.Min(16_000_000L, Math.Max(1_000_000L, seconds * 200_000L)));
        var results = new List<RunResult>();
        var targets = new List<FacadeTarget>();
        var depths = new List<string>();
        string flushed = "not flushed";
        long dropped = -1;
        try
        {
            using var setup = CancellationTokenSource.CreateLinkedTokenSource(Machine.Interrupted);
            setup.CancelAfter(TimeSpan.FromSeconds(90));
            StdioCommand.Progress("invoke: starting facade (no policy, no audit) → demo server…");
            targets.Add(await FacadeTarget.StartAsync(plain, "demo", setup.Token, name: "facade").ConfigureAwait(false));
            if (withPolicyOnly)
            {
                StdioCommand.Progress("invoke: starting facade + policy (no audit) → demo server…");
                targets.Add(await FacadeTarget.StartAsync(policyOnly, "demo", setup.Token, name: "facade+policy").ConfigureAwait(false));
            }

            StdioCommand.Progress($"invoke: starting facade + policy + audit (SQLite {auditFile}) → demo server…");
            targets.Add(await FacadeTarget.StartAsync(guarded, "demo", setup.Token, name: "facade+policy+audit").ConfigureAwait(false));
            foreach (var concurrency in concurrencies)
            {
                foreach (var target in targets)
                {
                    if (Machine.Interrupted.IsCancellationRequested)
                        break;
                    StdioCommand.Progress($"{target.Name} c={concurrency}: warm-up {warmup}s, run {seconds}s…");
                    var result = await ClosedLoop.RunAsync(target, concurrency, TimeSpan.FromSeconds(warmup), TimeSpan.FromSeconds(seconds), recorder).ConfigureAwait(false);
                    results.Add(result);
                    if (target.Audit is { } queue)
                        depths.Add(string.Create(Inv, $"c = {concurrency}: {queue.QueueDepth} events waiting at the end of the run"));
                    StdioCommand.Progress(string.Create(Inv,
                        $"  {result.Calls} calls, {result.Throughput:0}/s, p50 {result.Latency.P50:0.000} ms, p99 {result.Latency.P99:0.000} ms, {result.Errors} errors{(result.FirstError is { } e ? $" (first: {e})" : string.Empty)}"));
                }
            }

            if (targets[^1].Audit is { } log)
            {
                var sw = Stopwatch.StartNew();
                flushed = await log.FlushAsync(TimeSpan.FromSeconds(60)).ConfigureAwait(false)
                    ? string.Create(Inv, $"flushed in {sw.Elapsed.TotalMilliseconds:0} ms after the last run")
                    : "**not flushed within 60 s**";
                dropped = log.Dropped;
            }
        }
        finally
        {
            for (var i = targets.Count - 1; i >= 0; i--)
            {
                StdioCommand.Progress($"stopping {targets[i].Name}…");
                await targets[i].DisposeAsync().ConfigureAwait(false);
            }

            foreach (var suffix in (string[])["", "-wal", "-shm"])
                File.Delete(auditFile + suffix);
        }

        output.AppendLine();
        output.AppendLine(Inv, $"### Invoke path with and without policy and audit: closed loop, warm-up {warmup} s, {seconds} s per run");
        output.AppendLine();
        output.AppendLine(Inv, $"- upstream: mcp-stdio running {peer}, tool `echo` with `{{\"message\":\"hi\"}}`; each path has its own process");
        output.AppendLine("- `facade`: `SarkRuntime.Start` with `Policy = null, Audit = null`");
        output.AppendLine("- `facade+policy+audit`: embedded policy (one rule `{ name = bench-local-caller, effect = allow, subjects = [local] }`, decisions cached for the default 60 s) and audit into a temporary SQLite file (defaults: backpressure, batches of 1000 or 1 s)");
        if (withPolicyOnly)
            output.AppendLine("- `facade+policy`: the same policy, `Audit = null`");
        output.AppendLine(Inv, $"- audit queue (capacity {guarded.Audit!.QueueCapacity}): {string.Join("; ", depths)}; after the runs: {flushed}, {dropped} dropped");
        output.AppendLine();
        output.Append(Report.Table(results));
        output.AppendLine();
        output.AppendLine("| c | Δ p50 ms (b − a) | Δ p99 ms | Δ mean ms (c / throughput) | throughput b / a | target Δ p50 | met |");
        output.AppendLine("|---:|---:|---:|---:|---:|---:|:---:|");
        var met = true;
        foreach (var c in concurrencies)
        {
            var a = results.FirstOrDefault(r => r.Path == "facade" && r.Concurrency == c);
            var b = results.FirstOrDefault(r => r.Path == "facade+policy+audit" && r.Concurrency == c);
            if (a is null || b is null)
                continue;
            var d = b.Latency.P50 - a.Latency.P50;
            met &= d <= 0.2;
            output.AppendLine(Inv, $"| {c} | {d:+0.000;-0.000} | {b.Latency.P99 - a.Latency.P99:+0.000;-0.000} | {Mean(a, b)} | {100.0 * b.Throughput / a.Throughput:0.0} % | ≤ 0.2 ms | {(d <= 0.2 ? "yes" : "**no**")} |");
            if (results.FirstOrDefault(r => r.Path == "facade+policy" && r.Concurrency == c) is { } p)
                output.AppendLine(Inv, $"| {c} (policy only) | {p.Latency.P50 - a.Latency.P50:+0.000;-0.000} | {p.Latency.P99 - a.Latency.P99:+0.000;-0.000} | {Mean(a, p)} | {100.0 * p.Throughput / a.Throughput:0.0} % | – | – |");
        }

        output.AppendLine(met ? string.Empty : "The +0.2 ms p50 target was missed.");
        foreach (var r in results.Where(r => r.FirstError is not null))
            output.AppendLine(Inv, $"\nFirst error of {r.Path} c={r.Concurrency}: {r.FirstError}");
        return !results.Exists(r => r.Errors > 0) && dropped == 0;
    }
}
