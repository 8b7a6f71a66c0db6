using System.Collections.Immutable;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Akka.Actor;
using Sark.Actors;
using Sark.Actors.Catalog;
using Sark.Actors.Configuration;
using Sark.Actors.Errors;
using Sark.Actors.Hosting;
using Sark.Actors.Upstreams.Gateway;
using Sark.Integration.Tests.Fakes;

namespace Sark.Benchmarks.Load;

/// <summary>
/// The benchmarks of issue 4 (gateway upstream) in one run, against the integration tests'
/// <see cref="FaultyRegistry"/> on 127.0.0.1 in this process:
/// <list type="number">
/// <item>walk: a fresh runtime's discovery walk (servers and tools pages) until the facade lists every server,
/// with the registry's own share (the same pages fetched raw) and the client's parsing and snapshot building;</item>
/// <item>list: warm <c>ListServersAsync</c>, <c>GetServerAsync</c>, <c>ListToolsAsync(server)</c> in a closed loop;</item>
/// <item>load: 95 % reads (random keys) and 5 % invokes, figures from the catalog's <c>CacheStats</c> and the registry's counters;</item>
/// <item>breaker: refusals per second while a gateway upstream's circuit is open.</item>
/// </list>
/// Every loop is bounded in time (and in the recorder's capacity); every runtime and registry is stopped in <c>finally</c>.
/// </summary>
internal static class GatewayCommand
{
    public const string Command = "gateway";

    private const string Upstream = "registry";
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(60);
    private static readonly JsonElement InvokeArgs = JsonElement.Parse("""{"text":"x"}""");

    public static async Task<int> RunAsync(Args args)
    {
        var o = new Settings(
            Servers: args.Int("--servers", 10_000, 1, 100_000),
            PageSize: args.Int("--page-size", 1000, 1, 1000),
            ToolsPerServer: args.Int("--tools-per-server", 1, 1, 100),
            Walks: args.Int("--walks", 3, 1, 50),
            ListSeconds: args.Int("--list-seconds", 3, 1, 600),
            ListConcurrency: args.IntList("--list-concurrency", [1], 1, 256),
            LoadServers: args.Int("--load-servers", 1000, 1, 100_000),
            Workers: args.Int("--workers", 4, 1, 256),
            Seconds: args.Int("--seconds", 20, 1, 600),
            Ttls: args.IntList("--ttl", [300, 5], 1, 86_400),
            InvokePercent: args.Int("--invoke-percent", 5, 0, 100),
            BreakerSeconds: args.Int("--breaker-seconds", 5, 1, 600),
            BreakerConcurrency: args.IntList("--concurrency", [1, 16], 1, 256),
            Parts: args.StringList("--parts", ["walk", "list", "load", "breaker"]));

        Console.WriteLine("## gateway upstream and catalog (issue 4)");
        Console.WriteLine();
        Console.WriteLine(Machine.Describe());
        Console.WriteLine(string.Create(Inv, $"- settings: {o.Servers} servers × {o.ToolsPerServer} tool(s), page size {o.PageSize}; {o.Walks} walks; list {o.ListSeconds} s at c={string.Join(",", o.ListConcurrency)}; load {o.LoadServers} servers, {o.Workers} workers, {o.Seconds} s per TTL ({string.Join(", ", o.Ttls)} s), {o.InvokePercent} % invokes; breaker {o.BreakerSeconds} s at c={string.Join(",", o.BreakerConcurrency)}"));
        Console.WriteLine();

        var targets = new List<string>();
        if (o.Parts.Contains("walk") || o.Parts.Contains("list"))
            await WalkAndListAsync(o, targets).ConfigureAwait(false);
        if (o.Parts.Contains("load"))
            await LoadAsync(o, targets).ConfigureAwait(false);
        if (o.Parts.Contains("breaker"))
            await BreakerAsync(o, targets).ConfigureAwait(false);

        Console.WriteLine("### targets (issue 4)");
        Console.WriteLine();
        Console.WriteLine("| target | measured | met |");
        Console.WriteLine("|---|---|:---:|");
        foreach (var line in targets)
            Console.WriteLine(line);
        return 0;
    }

    private sealed record Settings(
        int Servers, int PageSize, int ToolsPerServer, int Walks, int ListSeconds, int[] ListConcurrency, int LoadServers, int Workers,
        int Seconds, int[] Ttls, int InvokePercent, int BreakerSeconds, int[] BreakerConcurrency, string[] Parts);

    private static UpstreamOptions GatewayUpstream(Uri url, int pageSize, TimeSpan ttl) => new()
    {
        Name = Upstream,
        Kind = UpstreamKind.Gateway,
        Url = url.GetLeftPart(UriPartial.Authority),
        PageSize = pageSize,
        CacheTtl = ttl,
        CallTimeout = TimeSpan.FromSeconds(10),
        InitTimeout = TimeSpan.FromSeconds(60),
        Backoff = new BackoffOptions { Min = TimeSpan.FromSeconds(120), Max = TimeSpan.FromSeconds(120), RandomFactor = 0 },
    };

    private static SarkOptions Options(UpstreamOptions upstream) =>
        new() { Upstreams = ImmutableDictionary<string, UpstreamOptions>.Empty.Add(upstream.Name, upstream) };

    private static ActorSystem NewSystem() => ActorSystem.Create("bench-gateway", "akka.loglevel = ERROR");

    /// <summary>Polls the facade (a snapshot read, 1 ms apart) until it lists <paramref name="count"/> servers.</summary>
    private static async Task UntilListedAsync(ISarkGateway gateway, int count)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(ReadyTimeout.TotalSeconds * Stopwatch.Frequency);
        while ((await gateway.ListServersAsync(cancellationToken: Machine.Interrupted).ConfigureAwait(false)).Count != count)
        {
            if (Stopwatch.GetTimestamp() > deadline)
                throw new TimeoutException($"The catalog did not list {count} servers within {ReadyTimeout.TotalSeconds:0} s.");
            await Task.Delay(1, Machine.Interrupted).ConfigureAwait(false);
        }
    }

    // ---- 1 and 2: the discovery walk, then warm listings on the last walk's catalog ----

    private static async Task WalkAndListAsync(Settings o, List<string> targets)
    {
        Console.Error.WriteLine($"gateway: starting a registry of {o.Servers} servers");
        await using var registry = await FaultyRegistry.StartAsync(o.Servers, o.ToolsPerServer).ConfigureAwait(false);
        var upstream = GatewayUpstream(registry.BaseAddress, o.PageSize, TimeSpan.FromSeconds(300));
        var walkMs = new List<double>();
        var text = new StringBuilder();
        text.AppendLine(Inv, $"### 1. discovery walk: {o.Servers} servers × {o.ToolsPerServer} tool, page size {o.PageSize}, a fresh runtime each time");
        text.AppendLine();
        text.AppendLine("| walk | start → listed ms | walk (PagingStats) ms | pages (servers + tools) | servers | tools | retries | registry requests | harness CPU ms | harness alloc MB | GCs (gen 0/1/2) |");
        text.AppendLine("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        var listRows = new List<string>();
        for (var walk = 1; walk <= o.Walks && !Machine.Interrupted.IsCancellationRequested; walk++)
        {
            var requestsBefore = registry.TotalRequests;
            GC.Collect();
            GC.WaitForPendingFinalizers();
            using var self = Process.GetCurrentProcess();
            var cpuBefore = self.TotalProcessorTime;
            var allocBefore = GC.GetTotalAllocatedBytes(precise: true);
            var gcBefore = (GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2));
            var system = NewSystem();
            try
            {
                var start = Stopwatch.GetTimestamp();
                var (_, gateway) = SarkRuntime.Start(system, Options(upstream));
                await UntilListedAsync(gateway, o.Servers).ConfigureAwait(false);
                var elapsed = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                var allocAfter = GC.GetTotalAllocatedBytes(precise: true);
                self.Refresh();
                var cpu = (self.TotalProcessorTime - cpuBefore).TotalMilliseconds;
                var status = (await gateway.GetUpstreamsAsync(Machine.Interrupted).ConfigureAwait(false)).Single();
                var paging = status.Paging;
                walkMs.Add(elapsed);
                text.AppendLine(Inv, $"| {walk} | {elapsed:0} | {paging?.Duration.TotalMilliseconds:0} | {paging?.Pages} | {paging?.Servers} | {paging?.Tools} | {paging?.Retries} | {registry.TotalRequests - requestsBefore} | {cpu:0} | {(allocAfter - allocBefore) / 1048576.0:0.0} | {GC.CollectionCount(0) - gcBefore.Item1}/{GC.CollectionCount(1) - gcBefore.Item2}/{GC.CollectionCount(2) - gcBefore.Item3} |");
                Console.Error.WriteLine(string.Create(Inv, $"gateway: walk {walk}: {elapsed:0} ms"));
                if (walk == o.Walks && o.Parts.Contains("list"))
                    listRows.AddRange(await ListAsync(gateway, o).ConfigureAwait(false));
            }
            finally
            {
                await system.Terminate().ConfigureAwait(false);
            }
        }

        if (!o.Parts.Contains("walk"))
            text.Clear();
        else
        {
            text.AppendLine();
            text.AppendLine(Inv, $"The walk's parts, measured alone on the same registry (best of {o.Walks}):");
            text.AppendLine();
            text.AppendLine("| part | ms | share of the median walk |");
            text.AppendLine("|---|---:|---:|");
            var best = (Http: double.MaxValue, Parse: double.MaxValue, Build: double.MaxValue, One: double.MaxValue);
            for (var i = 0; i < o.Walks && !Machine.Interrupted.IsCancellationRequested; i++)
            {
                var parts = await WalkPartsAsync(registry, o, upstream).ConfigureAwait(false);
                best = (Math.Min(best.Http, parts.Http), Math.Min(best.Parse, parts.Parse), Math.Min(best.Build, parts.Build), Math.Min(best.One, parts.One));
            }

            var median = Median(walkMs);
            text.AppendLine(Inv, $"| registry + loopback HTTP (the same GETs, bodies as bytes) | {best.Http:0} | {100 * best.Http / median:0} % |");
            text.AppendLine(Inv, $"| client: RegistryContract parse + map + page fingerprints | {best.Parse:0} | {100 * best.Parse / median:0} % |");
            text.AppendLine(Inv, $"| catalog: CatalogState.ApplyListing + snapshot build | {best.Build:0} | {100 * best.Build / median:0} % |");
            text.AppendLine(Inv, $"| (not in the walk) catalog: one server refreshed, ApplyServer + snapshot build, {o.Servers} servers held | {best.One:0.0} | – |");
            targets.Add(string.Create(Inv, $"| 1. enumerate {o.Servers} servers (page {o.PageSize}, {o.ToolsPerServer} tool each) cold: ≤ 1 s | median {median:0} ms over {walkMs.Count} fresh runtimes ({walkMs.Min():0}–{walkMs.Max():0} ms; the first in a JIT-cold process {walkMs[0]:0} ms) | {(median <= 1000 ? "yes" : "**no**")} |"));
        }

        Console.WriteLine(text.ToString());
        if (listRows.Count > 0)
        {
            Console.WriteLine(string.Create(Inv, $"### 2. warm listings through the facade: {o.Servers} servers, closed loop, {o.ListSeconds} s each after 1 s of warm-up"));
            Console.WriteLine();
            Console.WriteLine("| call | conc. | calls | calls/s | p50 µs | p90 µs | p99 µs | p99.9 µs | max µs | alloc B/call | errors |");
            Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
            foreach (var row in listRows)
                Console.WriteLine(row[..row.LastIndexOf('§')]);
            Console.WriteLine();
            foreach (var row in listRows)
                targets.Add(row[(row.LastIndexOf('§') + 1)..]);
        }
    }

    /// <summary>The walk's parts alone: the raw GETs, the client's parsing, the catalog's snapshot.</summary>
    private static async Task<(double Http, double Parse, double Build, double One)> WalkPartsAsync(FaultyRegistry registry, Settings o, UpstreamOptions upstream)
    {
        using var http = new HttpClient(new SocketsHttpHandler()) { BaseAddress = registry.BaseAddress };
        var serverBodies = new List<byte[]>();
        var toolBodies = new List<byte[]>();
        var start = Stopwatch.GetTimestamp();
        await FetchPagesAsync(http, "api/v1/servers", o.Servers, o.PageSize, serverBodies).ConfigureAwait(false);
        await FetchPagesAsync(http, "api/v1/tools", o.Servers * o.ToolsPerServer, o.PageSize, toolBodies).ConfigureAwait(false);
        var httpMs = Stopwatch.GetElapsedTime(start).TotalMilliseconds;

        start = Stopwatch.GetTimestamp();
        var servers = new List<ServerInfo>();
        var tools = new Dictionary<string, ImmutableArray<ToolInfo>.Builder>(StringComparer.Ordinal);
        foreach (var body in serverBodies)
        {
            var page = RegistryContract.ParseServerPage(body, Upstream).Value!;
            _ = page.Fingerprint;
            servers.AddRange(page.Servers);
        }

        foreach (var body in toolBodies)
        {
            var page = RegistryContract.ParseToolPage(body).Value!;
            _ = page.Fingerprint;
            foreach (var tool in page.Tools)
            {
                if (!tools.TryGetValue(tool.ServerName, out var list))
                    tools[tool.ServerName] = list = ImmutableArray.CreateBuilder<ToolInfo>();
                list.Add(tool);
            }
        }

        var entries = ImmutableArray.CreateBuilder<CatalogEntry>(servers.Count);
        foreach (var server in servers)
            entries.Add(new CatalogEntry(server, tools.TryGetValue(server.ServerName, out var list) ? list.ToImmutable() : []));
        var parseMs = Stopwatch.GetElapsedTime(start).TotalMilliseconds;

        start = Stopwatch.GetTimestamp();
        var state = new CatalogState(Options(upstream));
        state.ApplyListing(Upstream, entries.MoveToImmutable(), DateTimeOffset.UtcNow);
        var snapshot = state.Snapshot;
        var buildMs = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        if (snapshot.Servers.Length != o.Servers)
            throw new InvalidOperationException($"The walk's parts found {snapshot.Servers.Length} servers, not {o.Servers}.");

        // What a catalog miss on one expired server costs the catalog actor once the registry answered: the whole snapshot is rebuilt.
        var one = snapshot.ByName[FaultyRegistry.ServerName(0)];
        start = Stopwatch.GetTimestamp();
        state.ApplyServer(Upstream, one.Server.ServerName, new CatalogEntry(one.Server, one.Tools), DateTimeOffset.UtcNow);
        _ = state.Snapshot;
        var oneMs = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        return (httpMs, parseMs, buildMs, oneMs);
    }

    /// <summary>The pages the client's pager asks for: full pages, then the short (or empty) one that ends the walk.</summary>
    private static async Task FetchPagesAsync(HttpClient http, string path, int count, int pageSize, List<byte[]> bodies)
    {
        for (var offset = 0; ; offset += pageSize)
        {
            bodies.Add(await http.GetByteArrayAsync(string.Create(Inv, $"{path}?offset={offset}&limit={pageSize}"), Machine.Interrupted).ConfigureAwait(false));
            if (Math.Clamp(count - offset, 0, pageSize) < pageSize)
                return;
        }
    }

    private enum ListCall
    {
        ListServers,
        GetServer,
        ListTools,
    }

    /// <summary>Rows of the list table, each followed by '§' and its line of the targets table.</summary>
    private static async Task<List<string>> ListAsync(ISarkGateway gateway, Settings o)
    {
        var names = Enumerable.Range(0, o.Servers).Select(FaultyRegistry.ServerName).ToArray();
        var recorder = new LatencyRecorder(Math.Min(o.ListSeconds * 3_000_000, 10_000_000));
        var rows = new List<string>();
        foreach (var call in Enum.GetValues<ListCall>())
        {
            foreach (var concurrency in o.ListConcurrency)
            {
                Console.Error.WriteLine($"gateway: list {call} c={concurrency}");
                await ListLoopAsync(gateway, call, names, o, concurrency, TimeSpan.FromSeconds(1), null).ConfigureAwait(false);
                recorder.Reset();
                GC.Collect();
                GC.WaitForPendingFinalizers();
                GC.Collect();
                var allocBefore = GC.GetTotalAllocatedBytes(precise: true);
                var start = Stopwatch.GetTimestamp();
                var errors = await ListLoopAsync(gateway, call, names, o, concurrency, TimeSpan.FromSeconds(o.ListSeconds), recorder).ConfigureAwait(false);
                var seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
                var alloc = GC.GetTotalAllocatedBytes(precise: true) - allocBefore;
                var n = recorder.Count;
                var p = recorder.Summarize();
                var p999 = recorder.Quantile(0.999);
                var label = call switch
                {
                    ListCall.ListServers => "ListServersAsync()",
                    ListCall.GetServer => "GetServerAsync(random)",
                    _ => "ListToolsAsync(random)",
                };
                rows.Add(string.Create(Inv,
                    $"| {label} | {concurrency} | {n} | {n / seconds:0} | {p.P50 * 1000:0.00} | {p.P90 * 1000:0.00} | {p.P99 * 1000:0.00} | {p999 * 1000:0.00} | {p.Max * 1000:0} | {alloc / (double)Math.Max(n, 1):0} | {errors} |" +
                    $"§| 2. warm {label}, {o.Servers} servers, c={concurrency}: p99 ≤ 50 µs | p99 {p.P99 * 1000:0.00} µs (p50 {p.P50 * 1000:0.00}, p99.9 {p999 * 1000:0.00}; {n / seconds:0} calls/s, {errors} errors) | {(p.P99 * 1000 <= 50 && errors == 0 ? "yes" : "**no**")} |"));
            }
        }

        return rows;
    }

    private static async Task<long> ListLoopAsync(
        ISarkGateway gateway, ListCall call, string[] names, Settings o, int concurrency, TimeSpan duration, LatencyRecorder? recorder)
    {
        long errors = 0;
        var stopAt = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var workers = new Task[concurrency];
        for (var w = 0; w < concurrency; w++)
        {
            var seed = w;
            workers[w] = Task.Run(async () =>
            {
                var random = new Random(seed);
                while (Stopwatch.GetTimestamp() < stopAt && recorder?.IsFull != true && !Machine.Interrupted.IsCancellationRequested)
                {
                    var name = names[random.Next(names.Length)];
                    var t0 = Stopwatch.GetTimestamp();
                    bool ok;
                    try
                    {
                        ok = call switch
                        {
                            ListCall.ListServers => (await gateway.ListServersAsync().ConfigureAwait(false)).Count == o.Servers,
                            ListCall.GetServer => (await gateway.GetServerAsync(name).ConfigureAwait(false)).ServerName == name,
                            _ => (await gateway.ListToolsAsync(name).ConfigureAwait(false)).Count == o.ToolsPerServer,
                        };
                    }
                    catch (SarkException)
                    {
                        ok = false;
                    }

                    recorder?.Record(Stopwatch.GetTimestamp() - t0);
                    if (!ok)
                        Interlocked.Increment(ref errors);
                }
            });
        }

        await Task.WhenAll(workers).ConfigureAwait(false);
        return errors;
    }

    // ---- 3: read-mostly load ----

    private static async Task LoadAsync(Settings o, List<string> targets)
    {
        Console.WriteLine(string.Create(Inv, $"### 3. read-mostly load: {o.LoadServers} servers, {o.Workers} workers, {100 - o.InvokePercent} % reads (GetServerAsync or ListToolsAsync of a random server, half each), {o.InvokePercent} % InvokeToolAsync (random server), {o.Seconds} s per TTL, no invalidations"));
        Console.WriteLine();
        Console.WriteLine("| TTL s | reads | reads/s | read p50 µs | read p99 µs | invokes | invoke p50 ms | invoke p99 ms | errors | hits | misses | hit rate | fetches (CacheStats) | fetch failures | registry GET /servers/{name} | keys fetched | max per key | TTL windows (D / TTL) | most allowed per key (⌊D / TTL⌋ + 1) | GET /servers (listing) | GET /tools | POST /invoke |");
        Console.WriteLine("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var ttl in o.Ttls)
        {
            if (Machine.Interrupted.IsCancellationRequested)
                break;
            Console.Error.WriteLine($"gateway: load with TTL {ttl} s");
            await using var registry = await FaultyRegistry.StartAsync(o.LoadServers, o.ToolsPerServer).ConfigureAwait(false);
            var names = Enumerable.Range(0, o.LoadServers).Select(FaultyRegistry.ServerName).ToArray();
            var system = NewSystem();
            try
            {
                var (_, gateway) = SarkRuntime.Start(system, Options(GatewayUpstream(registry.BaseAddress, o.PageSize, TimeSpan.FromSeconds(ttl))));
                await UntilListedAsync(gateway, o.LoadServers).ConfigureAwait(false);
                var before = (await gateway.GetUpstreamsAsync(Machine.Interrupted).ConfigureAwait(false)).Single().Cache!;
                var perKeyBefore = names.Select(n => registry.RequestsTo($"/api/v1/servers/{n}")).ToArray();
                var listingBefore = registry.RequestsTo("/api/v1/servers");
                var toolsBefore = registry.RequestsTo("/api/v1/tools");
                var invokeBefore = registry.RequestsTo("/api/v1/invoke");

                var reads = new LatencyRecorder(10_000_000);
                var invokes = new LatencyRecorder(2_000_000);
                var start = Stopwatch.GetTimestamp();
                var errors = await LoadLoopAsync(gateway, names, o, TimeSpan.FromSeconds(o.Seconds), reads, invokes).ConfigureAwait(false);
                var seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;

                var after = (await gateway.GetUpstreamsAsync(Machine.Interrupted).ConfigureAwait(false)).Single().Cache!;
                var perKey = names.Select((n, i) => registry.RequestsTo($"/api/v1/servers/{n}") - perKeyBefore[i]).ToArray();
                var hits = after.Hits - before.Hits;
                var misses = after.Misses - before.Misses;
                var hitRate = 100.0 * hits / Math.Max(hits + misses, 1);
                var windows = seconds / ttl;
                var maxPerKey = perKey.Max();
                // A key fetched at t is fresh until t + TTL, so a run of D seconds allows at most floor(D / TTL) + 1 fetches of it.
                var allowed = (int)Math.Floor(seconds / ttl) + 1;
                var r = reads.Summarize();
                var iv = invokes.Summarize();
                Console.WriteLine(string.Create(Inv,
                    $"| {ttl} | {reads.Count} | {reads.Count / seconds:0} | {r.P50 * 1000:0.0} | {r.P99 * 1000:0.0} | {invokes.Count} | {iv.P50:0.000} | {iv.P99:0.000} | {errors} | {hits} | {misses} | {hitRate:0.000} % | {after.Fetches - before.Fetches} | {after.FetchFailures - before.FetchFailures} | {perKey.Sum()} | {perKey.Count(c => c > 0)} | {maxPerKey} | {windows:0.0} | {allowed} | {registry.RequestsTo("/api/v1/servers") - listingBefore} | {registry.RequestsTo("/api/v1/tools") - toolsBefore} | {registry.RequestsTo("/api/v1/invoke") - invokeBefore} |"));
                targets.Add(string.Create(Inv,
                    $"| 3. read-mostly load, TTL {ttl} s, {seconds:0} s: hit rate ≥ 95 %, ≤ 1 registry fetch per key per TTL | hit rate {hitRate:0.00} % ({hits} hits, {misses} misses); registry GET /servers/{{name}}: max {maxPerKey} per key in {windows:0.0} TTL windows (at most {allowed} allowed), {perKey.Sum()} in all; CacheStats fetches {after.Fetches - before.Fetches}; {errors} errors | {(hitRate >= 95 && maxPerKey <= allowed && errors == 0 ? "yes" : "**no**")} |"));
            }
            finally
            {
                await system.Terminate().ConfigureAwait(false);
            }
        }

        Console.WriteLine();
    }

    private static async Task<long> LoadLoopAsync(ISarkGateway gateway, string[] names, Settings o, TimeSpan duration, LatencyRecorder reads, LatencyRecorder invokes)
    {
        long errors = 0;
        var stopAt = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var workers = new Task[o.Workers];
        for (var w = 0; w < o.Workers; w++)
        {
            var seed = 1000 + w;
            workers[w] = Task.Run(async () =>
            {
                var random = new Random(seed);
                while (Stopwatch.GetTimestamp() < stopAt && !reads.IsFull && !invokes.IsFull && !Machine.Interrupted.IsCancellationRequested)
                {
                    var name = names[random.Next(names.Length)];
                    var dice = random.Next(200);
                    var t0 = Stopwatch.GetTimestamp();
                    try
                    {
                        if (dice < o.InvokePercent * 2)
                        {
                            var result = await gateway.InvokeToolAsync(name, "tool-00", InvokeArgs).ConfigureAwait(false);
                            invokes.Record(Stopwatch.GetTimestamp() - t0);
                            if (result.IsError || result.Result.GetProperty("text").GetString() != "x")
                                Interlocked.Increment(ref errors);
                        }
                        else
                        {
                            var ok = dice % 2 == 0
                                ? (await gateway.GetServerAsync(name).ConfigureAwait(false)).ServerName == name
                                : (await gateway.ListToolsAsync(name).ConfigureAwait(false)).Count == o.ToolsPerServer;
                            reads.Record(Stopwatch.GetTimestamp() - t0);
                            if (!ok)
                                Interlocked.Increment(ref errors);
                        }
                    }
                    catch (SarkException)
                    {
                        Interlocked.Increment(ref errors);
                    }
                }
            });
        }

        await Task.WhenAll(workers).ConfigureAwait(false);
        return errors;
    }

    // ---- 4: open breaker on a gateway upstream ----

    private static async Task BreakerAsync(Settings o, List<string> targets)
    {
        Console.Error.WriteLine("gateway: opening the circuit of a gateway upstream (503 storm)");
        await using var registry = await FaultyRegistry.StartAsync(10, 1).ConfigureAwait(false);
        // For comparison in the same run: the stdio upstream of the open-breaker command (a command that does not exist).
        var dead = new UpstreamOptions
        {
            Name = "dead",
            Kind = UpstreamKind.McpStdio,
            Command = ["/nonexistent/sark-benchmark-dead-upstream"],
            Backoff = new BackoffOptions { Min = TimeSpan.FromSeconds(120), Max = TimeSpan.FromSeconds(120), RandomFactor = 0 },
        };
        var upstream = GatewayUpstream(registry.BaseAddress, o.PageSize, TimeSpan.FromSeconds(300));
        var options = new SarkOptions { Upstreams = ImmutableDictionary<string, UpstreamOptions>.Empty.Add(upstream.Name, upstream).Add(dead.Name, dead) };
        var system = NewSystem();
        try
        {
            var (_, gateway) = SarkRuntime.Start(system, options);
            await OpenGatewayCircuitAsync(gateway, registry, 10).ConfigureAwait(false);
            var deadline = Stopwatch.GetTimestamp() + (long)(ReadyTimeout.TotalSeconds * Stopwatch.Frequency);
            while ((await gateway.GetUpstreamsAsync(Machine.Interrupted).ConfigureAwait(false)).Single(u => u.Name == dead.Name).Breaker != BreakerState.Open)
            {
                if (Stopwatch.GetTimestamp() > deadline)
                    throw new TimeoutException("The stdio upstream's circuit did not open.");
                await Task.Delay(20, Machine.Interrupted).ConfigureAwait(false);
            }

            Console.WriteLine(string.Create(Inv, $"### 4. open circuit on a gateway upstream: refused calls through the facade, closed loop, {o.BreakerSeconds} s per run after 1 s of warm-up"));
            Console.WriteLine();
            Console.WriteLine("| upstream | path | conc. | refusals | refusals/s | p50 µs | p99 µs | harness CPU µs/refusal | wrong answers |");
            Console.WriteLine("|---|---|---:|---:|---:|---:|---:|---:|---:|");
            var best = 0.0;
            var bestC = 0;
            var bestCpu = 0.0;
            var paths = new (string Upstream, string Server, string Tool, string Name, ISarkGateway Gateway)[]
            {
                ("gateway", "server-0001", "tool-00", "facade (board)", gateway),
                ("gateway", "server-0001", "tool-00", "facade, no board (Ask)", gateway.WithoutCircuitBoard()),
                ("stdio (comparison)", "dead", "echo", "facade (board)", gateway),
            };
            var recorder = new LatencyRecorder(o.BreakerSeconds * 600_000);
            foreach (var concurrency in o.BreakerConcurrency)
            {
                foreach (var (kind, server, tool, name, target) in paths)
                {
                    await OpenBreakerCommand.RunOnceAsync(target, server, tool, concurrency, TimeSpan.FromSeconds(1), null).ConfigureAwait(false);
                    recorder.Reset();
                    using var self = Process.GetCurrentProcess();
                    var cpuBefore = self.TotalProcessorTime;
                    var start = Stopwatch.GetTimestamp();
                    var (count, wrong) = await OpenBreakerCommand.RunOnceAsync(target, server, tool, concurrency, TimeSpan.FromSeconds(o.BreakerSeconds), recorder).ConfigureAwait(false);
                    var seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
                    self.Refresh();
                    var cpuUs = (self.TotalProcessorTime - cpuBefore).TotalMicroseconds / Math.Max(count, 1);
                    var p = recorder.Summarize();
                    var rate = count / seconds;
                    Console.WriteLine(string.Create(Inv, $"| {kind} | {name} | {concurrency} | {count} | {rate:0} | {p.P50 * 1000:0.0} | {p.P99 * 1000:0.0} | {cpuUs:0.0} | {wrong} |"));
                    if (target == gateway && server != "dead" && wrong == 0 && rate > best)
                        (best, bestC, bestCpu) = (rate, concurrency, cpuUs);
                }
            }

            var status = (await gateway.GetUpstreamsAsync(Machine.Interrupted).ConfigureAwait(false)).Single(u => u.Name == Upstream);
            Console.WriteLine();
            Console.WriteLine(string.Create(Inv, $"The gateway circuit was {status.Breaker} at the end; the registry received {registry.RequestsTo("/api/v1/invoke")} invokes in all (those that opened it). A run ends early if its recorder ({recorder.Capacity} latencies) fills; the rate uses the time it ran."));
            Console.WriteLine();
            targets.Add(string.Create(Inv, $"| 4. open breaker on a gateway upstream: ≥ 200,000 refusals/s through the facade | {best:0}/s (facade with the board, c={bestC}; {bestCpu:0.0} µs of harness CPU per refusal) | {(best >= 200_000 ? "yes" : "**no**")} |"));
        }
        finally
        {
            await system.Terminate().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// After discovery, the registry answers 503 to everything; invokes fail until the connection
    /// reaches its failure threshold and the circuit opens (backoff 120 s: it stays open for the run).
    /// </summary>
    internal static async Task OpenGatewayCircuitAsync(ISarkGateway gateway, FaultyRegistry registry, int servers)
    {
        await UntilListedAsync(gateway, servers).ConfigureAwait(false);
        registry.StartStatusStorm(HttpStatusCode.ServiceUnavailable, int.MaxValue);
        var deadline = Stopwatch.GetTimestamp() + (long)(ReadyTimeout.TotalSeconds * Stopwatch.Frequency);
        while ((await gateway.GetUpstreamsAsync(Machine.Interrupted).ConfigureAwait(false)).Single(u => u.Name == Upstream).Breaker != BreakerState.Open)
        {
            if (Stopwatch.GetTimestamp() > deadline)
                throw new TimeoutException("The gateway upstream's circuit did not open.");
            try
            {
                await gateway.InvokeToolAsync("server-0001", "tool-00", InvokeArgs, cancellationToken: Machine.Interrupted).ConfigureAwait(false);
            }
            catch (SarkException)
            {
                // Expected: 503 until the threshold, then refusals.
            }
        }
    }

    internal static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        var n = sorted.Count;
        return n == 0 ? double.NaN : n % 2 == 1 ? sorted[n / 2] : (sorted[(n / 2) - 1] + sorted[n / 2]) / 2;
    }
}
