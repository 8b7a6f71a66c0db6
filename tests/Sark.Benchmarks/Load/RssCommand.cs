using System.Globalization;

namespace Sark.Benchmarks.Load;

/// <summary>
/// <c>rss [--idle N] [--load-calls N] [--ready-timeout N]</c>: starts the node with three upstreams (two demo
/// servers, one server-everything), waits until all are ready, stays idle N seconds (default 5)
/// and reads the node's resident memory from <c>/proc/PID/status</c>. Target: ≤ 150 MB.
/// </summary>
internal static class RssCommand
{
    private const double TargetMiB = 150;

    public static async Task<int> RunAsync(Args args)
    {
        var idle = args.Int("--idle", 5, 0, 600);
        var loadCalls = args.Int("--load-calls", 0, 0, 1_000_000);
        var readyTimeout = args.Int("--ready-timeout", 90, 1, 600);
        var layout = RepoLayout.Find();
        if (layout.HostDll() is not { } host)
        {
            Console.WriteLine("rss skipped: src/Sark.Host is not built.");
            return 0;
        }

        if (layout.DemoServerDll() is not { } demo)
        {
            Console.WriteLine("rss skipped: src/Sark.DemoServer is not built.");
            return 0;
        }

        string[] demoCommand = [RepoLayout.OnPath("dotnet"), demo.Dll];
        var config = BenchConfig.Hocon(layout, ("demo-a", demoCommand), ("demo-b", demoCommand), ("everything", BenchConfig.Everything(layout)));
        string[] names = ["demo-a", "demo-b", "everything"];

        StdioCommand.Progress($"starting the node ({host.Configuration} build) with three upstreams…");
        var node = await NodeProcess.StartAsync(host.Dll, config, TimeSpan.FromSeconds(60)).ConfigureAwait(false);
        await using (node.ConfigureAwait(false))
        {
            using var http = RestTarget.NewClient();
            var ready = await node.WaitUpstreamsReadyAsync(http, names, TimeSpan.FromSeconds(readyTimeout)).ConfigureAwait(false);
            StdioCommand.Progress($"all three upstreams ready; idle {idle}s…");
            await Task.Delay(TimeSpan.FromSeconds(idle), Machine.Interrupted).ConfigureAwait(false);

            var rows = new List<(string What, int Pid, long? Rss, long? Hwm)>
            {
                ("node (Sark.Host)", node.Pid, ProcStat.StatusKiB(node.Pid, "VmRSS"), ProcStat.StatusKiB(node.Pid, "VmHWM")),
            };
            foreach (var name in names)
            {
                if (ready[name] is { } pid)
                    rows.Add(($"upstream {name}", pid, ProcStat.StatusKiB(pid, "VmRSS"), ProcStat.StatusKiB(pid, "VmHWM")));
            }

            string? afterLoad = null;
            if (loadCalls > 0)
                afterLoad = await AfterLoadAsync(node, http, loadCalls).ConfigureAwait(false);

            Console.WriteLine();
            Console.WriteLine($"## node RSS, three upstreams ready, idle {idle} s");
            Console.WriteLine();
            Console.Write(Machine.Describe());
            Console.WriteLine($"- node: {host.Dll} ({host.Configuration} build, {Machine.GcOf(host.Dll)} GC)");
            Console.WriteLine();
            Console.WriteLine("| process | pid | VmRSS MiB | VmHWM (peak) MiB |");
            Console.WriteLine("|---|---:|---:|---:|");
            foreach (var (what, pid, rss, hwm) in rows)
                Console.WriteLine($"| {what} | {pid} | {MiB(rss)} | {MiB(hwm)} |");
            Console.WriteLine();
            var nodeRss = rows[0].Rss;
            var met = nodeRss is { } kib && kib / 1024.0 <= TargetMiB;
            Console.WriteLine($"Node VmRSS {MiB(nodeRss)} MiB against the target ≤ {TargetMiB:0} MB: {(nodeRss is null ? "not measured" : met ? "met" : "**not met**")}.");
            if (afterLoad is not null)
                Console.WriteLine(afterLoad);
        }

        return 0;
    }

    private static async Task<string> AfterLoadAsync(NodeProcess node, HttpClient http, int calls)
    {
        var uri = new Uri(node.BaseAddress, "/api/v1/invoke");
        var errors = 0;
        for (var i = 0; i < calls && !Machine.Interrupted.IsCancellationRequested; i++)
        {
            using var content = new StringContent("""{"server":"everything","tool":"echo","parameters":{"message":"hi"}}""", System.Text.Encoding.UTF8, "application/json");
            using var response = await http.PostAsync(uri, content).ConfigureAwait(false);
            var body = await response.Content.ReadAsByteArrayAsync().ConfigureAwait(false);
            if (!response.IsSuccessStatusCode || !EchoReply.BodyHasEcho(body))
                errors++;
        }

        await Task.Delay(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
        return string.Create(CultureInfo.InvariantCulture,
            $"After {calls} sequential REST echo calls ({errors} errors) and 2 s: node VmRSS {MiB(ProcStat.StatusKiB(node.Pid, "VmRSS"))} MiB, VmHWM {MiB(ProcStat.StatusKiB(node.Pid, "VmHWM"))} MiB.");
    }

    private static string MiB(long? kib) => kib is { } k ? (k / 1024.0).ToString("0.0", CultureInfo.InvariantCulture) : "n/a";
}
