using System.Globalization;
using System.Text;

namespace Sark.Benchmarks.Load;

/// <summary>Prints results as a markdown table (readable in a terminal, pastable into docs/PERFORMANCE.md).</summary>
internal static class Report
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static string Table(IReadOnlyList<RunResult> results)
    {
        var text = new StringBuilder();
        text.AppendLine("| path | conc. | calls | calls/s | p50 ms | p90 ms | p99 ms | max ms | errors | harness CPU µs/call | harness alloc B/call | node CPU µs/call | peer CPU µs/call |");
        text.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in results)
        {
            text.Append(Inv, $"| {r.Path} | {r.Concurrency} | {r.Calls} | {r.Throughput:0} | {r.Latency.P50:0.000} | {r.Latency.P90:0.000} | {r.Latency.P99:0.000} | {r.Latency.Max:0.0} | {r.Errors} ");
            text.Append(Inv, $"| {r.HarnessCpuUsPerCall:0.0} | {r.AllocBytesPerCall:0} | {Opt(r.GatewayCpuUsPerCall)} | {Opt(r.PeerCpuUsPerCall)} |");
            text.AppendLine();
        }

        return text.ToString();
    }

    /// <summary>The same-run ratios against the targets of DESIGN.md section 14.</summary>
    public static string Ratios(IReadOnlyList<RunResult> results)
    {
        RunResult? Find(string path, int c) => results.FirstOrDefault(r => r.Path == path && r.Concurrency == c);
        var text = new StringBuilder();
        text.AppendLine("| ratio (same run) | value | target | met |");
        text.AppendLine("|---|---:|---:|:---:|");

        void Difference(string label, string path, int c, double target)
        {
            if (Find(path, c) is not { } a || Find("direct", c) is not { } d)
            {
                text.AppendLine(Inv, $"| {label} | n/a | ≤ {target:0.0##} ms | skipped |");
                return;
            }

            var value = a.Latency.P50 - d.Latency.P50;
            text.AppendLine(Inv, $"| {label} | {value:+0.000;-0.000} ms | ≤ {target:0.0##} ms | {(value <= target ? "yes" : "**no**")} |");
        }

        void Throughput(string label, string path, int c, double target)
        {
            if (Find(path, c) is not { } a || Find("direct", c) is not { } d)
            {
                text.AppendLine(Inv, $"| {label} | n/a | ≥ {target:0} % | skipped |");
                return;
            }

            var value = 100.0 * a.Throughput / d.Throughput;
            text.AppendLine(Inv, $"| {label} | {value:0.0} % | ≥ {target:0} % | {(value >= target ? "yes" : "**no**")} |");
        }

        Difference("facade p50 − direct p50, c=1", "facade", 1, 0.1);
        Throughput("facade / direct throughput, c=16", "facade", 16, 80);
        Difference("REST p50 − direct p50, c=1", "rest", 1, 0.3);
        text.AppendLine();
        text.AppendLine("Every path against direct, and the node against the bare Kestrel endpoint (same run, no targets):");
        text.AppendLine();
        text.AppendLine("| path | against | c | Δ p50 ms | Δ p99 ms | throughput ratio |");
        text.AppendLine("|---|---|---:|---:|---:|---:|");
        foreach (var (path, baseline) in ((string, string)[])[("facade", "direct"), ("actors", "direct"), ("kestrel", "direct"), ("rest", "direct"), ("kestrel", "facade"), ("rest", "kestrel")])
        {
            foreach (var c in results.Select(r => r.Concurrency).Distinct())
            {
                if (Find(path, c) is not { } a || Find(baseline, c) is not { } b)
                    continue;
                text.AppendLine(Inv, $"| {path} | {baseline} | {c} | {a.Latency.P50 - b.Latency.P50:+0.000;-0.000} | {a.Latency.P99 - b.Latency.P99:+0.000;-0.000} | {100.0 * a.Throughput / b.Throughput:0.0} % |");
            }
        }

        return text.ToString();
    }

    private static string Opt(double? value) => value is { } v ? v.ToString("0", Inv) : "–";
}
