using System.Collections.Immutable;
using System.Diagnostics;
using Akka.Actor;
using Sark.Actors;
using Sark.Actors.Configuration;
using Sark.Actors.Errors;
using Sark.Actors.Hosting;

namespace Sark.Benchmarks.Load;

/// <summary>
/// How fast the facade refuses calls while an upstream's circuit is open: an upstream whose
/// command does not exist stays open (backoff 30 s), and C workers call it in a closed loop.
/// Two paths in one run: the facade as shipped (refused from the circuit board, no message) and
/// the same facade without the board (every call is an Ask through manager and circuit).
/// Every refusal is checked to be <c>upstream_unavailable</c> with a retry-after.
/// </summary>
internal static class OpenBreakerCommand
{
    public const string Command = "open-breaker";

    public static async Task<int> RunAsync(Args args)
    {
        var seconds = args.Int("--seconds", 5, 1, 600);
        var concurrencies = args.IntList("--concurrency", [1, 16], 1, 256);
        var upstream = new UpstreamOptions
        {
            Name = "dead",
            Kind = UpstreamKind.McpStdio,
            Command = ["/nonexistent/sark-benchmark-dead-upstream"],
            Backoff = new BackoffOptions { Min = TimeSpan.FromSeconds(30), Max = TimeSpan.FromSeconds(30) },
        };
        var options = new SarkOptions { Upstreams = ImmutableDictionary<string, UpstreamOptions>.Empty.Add("dead", upstream) };
        var system = ActorSystem.Create("bench", "akka.loglevel = ERROR");
        try
        {
            var (_, gateway) = SarkRuntime.Start(system, options);
            var deadline = Stopwatch.StartNew();
            while ((await gateway.GetUpstreamsAsync().ConfigureAwait(false)).SingleOrDefault()?.Breaker != BreakerState.Open)
            {
                if (deadline.Elapsed > TimeSpan.FromSeconds(30))
                    throw new TimeoutException("The circuit did not open within 30 s.");
                await Task.Delay(20).ConfigureAwait(false);
            }

            Console.WriteLine($"## open circuit: refused calls through the facade, closed loop, {seconds} s per run");
            Console.WriteLine();
            Console.WriteLine(Machine.Describe());
            Console.WriteLine();
            Console.WriteLine("| path | conc. | refusals | refusals/s | p50 µs | p99 µs | wrong answers |");
            Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|");
            var paths = new (string Name, ISarkGateway Gateway)[] { ("facade (board)", gateway), ("facade, no board (Ask)", gateway.WithoutCircuitBoard()) };
            foreach (var concurrency in concurrencies)
            {
                foreach (var (name, target) in paths)
                {
                    await RunOnceAsync(target, concurrency, TimeSpan.FromSeconds(1), null).ConfigureAwait(false);
                    var recorder = new LatencyRecorder(20_000_000);
                    var (count, wrong) = await RunOnceAsync(target, concurrency, TimeSpan.FromSeconds(seconds), recorder).ConfigureAwait(false);
                    var p = recorder.Summarize();
                    Console.WriteLine($"| {name} | {concurrency} | {count} | {count / (double)seconds:0} | {p.P50 * 1000:0.0} | {p.P99 * 1000:0.0} | {wrong} |");
                }
            }

            return 0;
        }
        finally
        {
            await system.Terminate().ConfigureAwait(false);
        }
    }

    private static Task<(long Count, long Wrong)> RunOnceAsync(ISarkGateway gateway, int concurrency, TimeSpan duration, LatencyRecorder? recorder) =>
        RunOnceAsync(gateway, "dead", "echo", concurrency, duration, recorder);

    /// <summary>
    /// C workers call <paramref name="server"/>'s <paramref name="tool"/> in a closed loop until the time is up or the
    /// recorder is full; a refusal with a retry-after counts, anything else is a wrong answer.
    /// </summary>
    internal static async Task<(long Count, long Wrong)> RunOnceAsync(
        ISarkGateway gateway, string server, string tool, int concurrency, TimeSpan duration, LatencyRecorder? recorder)
    {
        long count = 0;
        long wrong = 0;
        var stopAt = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var workers = new Task[concurrency];
        for (var w = 0; w < concurrency; w++)
        {
            workers[w] = Task.Run(async () =>
            {
                while (Stopwatch.GetTimestamp() < stopAt && recorder?.IsFull != true)
                {
                    var start = Stopwatch.GetTimestamp();
                    try
                    {
                        await gateway.InvokeToolAsync(server, tool).ConfigureAwait(false);
                        Interlocked.Increment(ref wrong);
                    }
                    catch (UpstreamUnavailableException ex) when (ex.RetryAfter is not null)
                    {
                        recorder?.Record(Stopwatch.GetTimestamp() - start);
                        Interlocked.Increment(ref count);
                    }
                    catch (SarkException)
                    {
                        Interlocked.Increment(ref wrong);
                    }
                }
            });
        }

        await Task.WhenAll(workers).ConfigureAwait(false);
        return (count, wrong);
    }
}
