using System.Globalization;
using Sark.Actors.Configuration;

namespace Sark.Benchmarks.Load;

/// <summary>
/// <c>stdio [--seconds N] [--warmup N] [--concurrency 1,16] [--paths direct,facade,kestrel,rest,actors]</c>:
/// echo calls to server-everything over stdio through each path, in one run, then the table and
/// the same-run ratios.
/// </summary>
internal static class StdioCommand
{
    public static async Task<int> RunAsync(Args args)
    {
        var seconds = args.Int("--seconds", 10, 1, 600);
        var warmup = args.Int("--warmup", 3, 0, 600);
        var concurrencies = args.IntList("--concurrency", [1, 16], 1, 256);
        var paths = args.StringList("--paths", ["direct", "facade", "kestrel", "rest"]);
        var layout = RepoLayout.Find();
        if (!File.Exists(layout.EverythingScript))
        {
            await Console.Error.WriteLineAsync($"server-everything is not installed at {layout.EverythingScript}; run npm ci in tests/peers.").ConfigureAwait(false);
            return 2;
        }

        var config = BenchConfig.Hocon(layout, ("everything", BenchConfig.Everything(layout)));
        var targets = new List<IEchoTarget>();
        var notes = new List<string>();
        // Sized for 400k calls/s over the run: the recorder never allocates while measuring.
        var recorder = new LatencyRecorder((int)Math.Min(16_000_000L, Math.Max(1_000_000L, seconds * 400_000L)));
        var results = new List<RunResult>();
        try
        {
            using var setup = CancellationTokenSource.CreateLinkedTokenSource(Machine.Interrupted);
            setup.CancelAfter(TimeSpan.FromSeconds(90));
            if (paths.Contains("direct"))
            {
                Progress("starting direct (MCP C# SDK client → server-everything)…");
                targets.Add(await DirectTarget.StartAsync(layout, setup.Token).ConfigureAwait(false));
            }

            if (paths.Contains("facade"))
            {
                Progress("starting facade (in-process actor tree → server-everything)…");
                targets.Add(await FacadeTarget.StartAsync(SarkConfigLoader.Parse(config), "everything", setup.Token).ConfigureAwait(false));
            }

            if (paths.Contains("actors"))
            {
                Progress("starting actors (in-process actor tree → in-memory echo connection, no process)…");
                targets.Add(await FacadeTarget.StartAsync(SarkConfigLoader.Parse(config), "everything", setup.Token, inMemory: true).ConfigureAwait(false));
            }

            if (paths.Contains("kestrel"))
            {
                Progress("starting kestrel (bare Kestrel endpoint over the facade, child process, server GC)…");
                try
                {
                    targets.Add(await RestTarget.StartKestrelAsync(config).ConfigureAwait(false));
                    notes.Add("kestrel: this harness's own minimal endpoint (same contract, same facade, no middleware), Release build, server GC, in a child process.");
                }
#pragma warning disable CA1031 // The bare Kestrel endpoint is for comparison only: a failure skips it.
                catch (Exception ex)
#pragma warning restore CA1031
                {
                    notes.Add($"kestrel was skipped: it failed to start ({ex.GetType().Name}: {FirstLine(ex.Message)}).");
                    Progress(ex.Message);
                }
            }

            if (paths.Contains("rest"))
            {
                if (layout.HostDll() is not { } host)
                {
                    notes.Add("REST was skipped: src/Sark.Host is not built (no bin/Release or bin/Debug/net10.0/Sark.Host.dll).");
                }
                else
                {
                    Progress($"starting rest (node {host.Configuration} build → server-everything)…");
                    try
                    {
                        RestTarget node;
                        try
                        {
                            node = await RestTarget.StartAsync(host.Dll, config).ConfigureAwait(false);
                        }
                        catch (TimeoutException ex)
                        {
                            // A node whose facade never got its actor references hangs on every facade call
                            // (see the registry-race command); note it and try one fresh node.
                            notes.Add($"The first node did not become ready and was stopped ({FirstLine(ex.Message)}); a second one was started.");
                            Progress(ex.Message);
                            node = await RestTarget.StartAsync(host.Dll, config).ConfigureAwait(false);
                        }

                        targets.Add(node);
                        notes.Add($"REST node: {host.Dll} ({host.Configuration} build, {Machine.GcOf(host.Dll)} GC).");
                    }
#pragma warning disable CA1031 // REST is optional: any failure to start the node skips it.
                    catch (Exception ex)
#pragma warning restore CA1031
                    {
                        notes.Add($"REST was skipped: the node failed to start ({ex.GetType().Name}: {FirstLine(ex.Message)}).");
                        Progress(ex.Message);
                    }
                }
            }

            // Interleaved: every path at c=1, then every path at c=16, so drift hits them alike.
            foreach (var concurrency in concurrencies)
            {
                foreach (var target in targets)
                {
                    if (Machine.Interrupted.IsCancellationRequested)
                        break;
                    Progress($"{target.Name} c={concurrency}: warm-up {warmup}s, run {seconds}s…");
                    var result = await ClosedLoop.RunAsync(target, concurrency, TimeSpan.FromSeconds(warmup), TimeSpan.FromSeconds(seconds), recorder).ConfigureAwait(false);
                    results.Add(result);
                    Progress(string.Create(CultureInfo.InvariantCulture,
                        $"  {result.Calls} calls, {result.Throughput:0}/s, p50 {result.Latency.P50:0.000} ms, p99 {result.Latency.P99:0.000} ms, {result.Errors} errors{(result.FirstError is { } e ? $" (first: {e})" : string.Empty)}"));
                }
            }
        }
        finally
        {
            for (var i = targets.Count - 1; i >= 0; i--)
            {
                Progress($"stopping {targets[i].Name}…");
                await targets[i].DisposeAsync().ConfigureAwait(false);
            }
        }

        Console.WriteLine();
        Console.WriteLine($"## stdio echo: closed loop, warm-up {warmup} s, {seconds} s per run");
        Console.WriteLine();
        Console.Write(Machine.Describe());
        foreach (var note in notes)
            Console.WriteLine($"- {note}");
        Console.WriteLine();
        Console.Write(Report.Table(results));
        Console.WriteLine();
        Console.Write(Report.Ratios(results));
        foreach (var r in results.Where(r => r.FirstError is not null))
            Console.WriteLine($"\nFirst error of {r.Path} c={r.Concurrency}: {r.FirstError}");
        return results.Exists(r => r.Errors > 0) ? 1 : 0;
    }

    internal static void Progress(string line) => Console.Error.WriteLine($"[{DateTime.UtcNow:HH:mm:ss}] {line}");

    private static string FirstLine(string text)
    {
        var newline = text.IndexOf('\n', StringComparison.Ordinal);
        return newline < 0 ? text : text[..newline];
    }
}
