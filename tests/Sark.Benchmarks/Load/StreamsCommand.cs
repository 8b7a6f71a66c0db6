using System.Collections.Immutable;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Akka.Actor;
using Sark.Actors;
using Sark.Actors.Configuration;
using Sark.Actors.Events;
using Sark.Actors.Hosting;

namespace Sark.Benchmarks.Load;

/// <summary>
/// The benchmarks of issue 5 (event streams and mcp-http) in one run:
/// <list type="number">
/// <item>single: one subscription (<see cref="ISarkGateway.SubscribeAsync"/>) to a server that writes
/// small events as fast as they are read; the subscriber reads the <see cref="EventSubscriptionReader"/>
/// in a tight loop; events/s;</item>
/// <item>fifty: <c>--streams</c> subscriptions at once, each paced at <c>--rate</c> events/s, every
/// event stamped with its send time; events/s per stream and the delivery latency (now − stamp);</item>
/// <item>clients: a real node (<see cref="NodeProcess"/>) with <c>--clients</c> open
/// <c>GET /api/v1/events</c> connections while invocations publish events; its RSS before and after;</item>
/// <item>mcphttp: <c>echo</c> on server-everything (streamableHttp) through the SDK client directly and
/// through the facade's mcp-http upstream, closed loop, same run.</item>
/// </list>
/// Every loop is bounded in time; every actor system, server and process is stopped in <c>finally</c>.
/// </summary>
internal static class StreamsCommand
{
    public const string Command = "streams";

    private const string Feed = "feed";
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static async Task<int> RunAsync(Args args)
    {
        var o = new Settings(
            Seconds: args.Int("--seconds", 10, 1, 600),
            Warmup: args.Int("--warmup", 2, 0, 600),
            Streams: args.Int("--streams", 50, 1, 50),
            Rate: args.Int("--rate", 1000, 1, 100_000),
            Clients: args.Int("--clients", 2000, 1, 20_000),
            InvokeRate: args.Int("--invoke-rate", 20, 0, 10_000),
            Concurrency: args.IntList("--concurrency", [1], 1, 256),
            NodeGc: args.String("--node-gc"),
            NodeEnv: args.Environment("--node-env", into: null),
            ClientsTarget: args.String("--clients-target") ?? "node",
            Parts: args.StringList("--parts", ["single", "fifty", "clients", "mcphttp"]));

        Console.WriteLine("## event streams and mcp-http (issue 5)");
        Console.WriteLine();
        Console.Write(Machine.Describe());
        Console.WriteLine(string.Create(Inv, $"- settings: {o.Seconds} s measured after {o.Warmup} s of warm-up; {o.Streams} paced streams at {o.Rate} events/s; {o.Clients} node clients, {o.InvokeRate} invocations/s; mcp-http c={string.Join(",", o.Concurrency)}; parts {string.Join(",", o.Parts)}"));
        Console.WriteLine($"- load average at start: {LoadAverage()}");
        Console.WriteLine();

        var targets = new List<string>();
        if (o.Parts.Contains("single"))
            await SingleAsync(o, targets).ConfigureAwait(false);
        if (o.Parts.Contains("fifty"))
            await FiftyAsync(o, targets).ConfigureAwait(false);
        if (o.Parts.Contains("clients"))
            await ClientsAsync(o, targets).ConfigureAwait(false);
        if (o.Parts.Contains("mcphttp"))
            await McpHttpAsync(o, targets).ConfigureAwait(false);

        Console.WriteLine($"- load average at the end: {LoadAverage()}");
        Console.WriteLine();
        Console.WriteLine("### targets (issue 5)");
        Console.WriteLine();
        Console.WriteLine("| target | measured | met |");
        Console.WriteLine("|---|---|:---:|");
        foreach (var line in targets)
            Console.WriteLine(line);
        return 0;
    }

    private sealed record Settings(int Seconds, int Warmup, int Streams, int Rate, int Clients, int InvokeRate, int[] Concurrency, string? NodeGc, Dictionary<string, string>? NodeEnv, string ClientsTarget, string[] Parts);

    private static string LoadAverage()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "n/a";
        }
    }

    /// <summary>A runtime with one gateway upstream (<c>feed</c>) on the bench server; its own discovery finds no servers.</summary>
    private static (ActorSystem System, ISarkGateway Gateway) StartRuntime(Uri server)
    {
        var upstream = new UpstreamOptions
        {
            Name = Feed,
            Kind = UpstreamKind.Gateway,
            Url = server.GetLeftPart(UriPartial.Authority),
            SubscribeEvents = false,
            Backoff = new BackoffOptions { Min = TimeSpan.FromSeconds(120), Max = TimeSpan.FromSeconds(120), RandomFactor = 0 },
        };
        var options = new SarkOptions { Upstreams = ImmutableDictionary<string, UpstreamOptions>.Empty.Add(upstream.Name, upstream) };
        var system = ActorSystem.Create("bench-streams", "akka.loglevel = WARNING");
        return (system, SarkRuntime.Start(system, options).Gateway);
    }

    private static async Task TerminateAsync(ActorSystem system)
    {
        try
        {
            await system.Terminate().WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // Left to the process exit.
        }
    }

    // ---- 1: one subscription, as fast as it goes ----

    private static async Task SingleAsync(Settings o, List<string> targets)
    {
        Console.Error.WriteLine("streams: single: starting the SSE server and a runtime");
        await using var server = await SseBenchServer.StartAsync().ConfigureAwait(false);
        var (system, gateway) = StartRuntime(server.BaseAddress);
        try
        {
            var reader = await gateway.SubscribeAsync(Feed, "/fast", cancellationToken: Machine.Interrupted).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                using var hard = CancellationTokenSource.CreateLinkedTokenSource(Machine.Interrupted);
                hard.CancelAfter(TimeSpan.FromSeconds(o.Warmup + o.Seconds + 60));
                long count = 0;
                long checkedBad = 0;
                var measuring = 0;
                long measuredFrom = 0;
                var clock = Stopwatch.StartNew();
                var warmupEnd = TimeSpan.FromSeconds(o.Warmup);
                var end = warmupEnd + TimeSpan.FromSeconds(o.Seconds);
                double cpuBefore = 0;
                long allocBefore = 0;
                int gc0 = 0, gc1 = 0, gc2 = 0;
                using var self = Process.GetCurrentProcess();
                double seconds = 0;
                while (await reader.WaitToReadAsync(hard.Token).ConfigureAwait(false))
                {
                    while (reader.TryRead(out var e))
                    {
                        count++;
                        if (e.Data.Length != 13)
                            checkedBad++;
                    }

                    if (measuring == 0 && clock.Elapsed >= warmupEnd)
                    {
                        measuring = 1;
                        measuredFrom = count;
                        self.Refresh();
                        cpuBefore = self.TotalProcessorTime.TotalMilliseconds;
                        allocBefore = GC.GetTotalAllocatedBytes(precise: false);
                        (gc0, gc1, gc2) = (GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2));
                        clock.Restart();
                        end = TimeSpan.FromSeconds(o.Seconds);
                    }
                    else if (measuring == 1 && clock.Elapsed >= end)
                    {
                        seconds = clock.Elapsed.TotalSeconds;
                        break;
                    }
                }

                var events = count - measuredFrom;
                self.Refresh();
                var cpu = self.TotalProcessorTime.TotalMilliseconds - cpuBefore;
                var alloc = GC.GetTotalAllocatedBytes(precise: false) - allocBefore;
                var rate = events / Math.Max(seconds, 1e-9);
                Console.WriteLine(string.Create(Inv, $"### 1. one subscription, as fast as it reads ({o.Seconds} s after {o.Warmup} s of warm-up)"));
                Console.WriteLine();
                Console.WriteLine("| events | seconds | events/s | harness CPU µs/event | harness alloc B/event | GCs (gen 0/1/2) | bad events | state |");
                Console.WriteLine("|---:|---:|---:|---:|---:|---:|---:|---|");
                Console.WriteLine(string.Create(Inv, $"| {events} | {seconds:0.00} | {rate:0} | {cpu * 1000 / Math.Max(events, 1):0.00} | {(double)alloc / Math.Max(events, 1):0} | {GC.CollectionCount(0) - gc0}/{GC.CollectionCount(1) - gc1}/{GC.CollectionCount(2) - gc2} | {checkedBad} | {reader.State} |"));
                Console.WriteLine();
                Console.WriteLine(string.Create(Inv, $"The server writes batches of {SseBenchServer.EventsPerBatch} events of {Encoding.UTF8.GetByteCount(SseBenchServer.FastEvent)} bytes (`{SseBenchServer.FastEvent.Replace("\n", "\\n", StringComparison.Ordinal)}`) on Kestrel in this process; the CPU and allocation figures include the server's share."));
                Console.WriteLine();
                targets.Add(string.Create(Inv, $"| one subscription: ≥ 100,000 events/s | {rate:0} events/s | {(rate >= 100_000 ? "yes" : "**no**")} |"));
            }
        }
        finally
        {
            await TerminateAsync(system).ConfigureAwait(false);
        }
    }

    // ---- 2: fifty paced subscriptions, delivery latency ----

    private static async Task FiftyAsync(Settings o, List<string> targets)
    {
        Console.Error.WriteLine($"streams: fifty: starting the SSE server and {o.Streams} subscriptions at {o.Rate} events/s");
        await using var server = await SseBenchServer.StartAsync().ConfigureAwait(false);
        var (system, gateway) = StartRuntime(server.BaseAddress);
        var readers = new List<EventSubscriptionReader>();
        try
        {
            for (var i = 0; i < o.Streams; i++)
                readers.Add(await gateway.SubscribeAsync(Feed, $"/paced?rate={o.Rate.ToString(Inv)}", cancellationToken: Machine.Interrupted).ConfigureAwait(false));

            var recorder = new LatencyRecorder((int)Math.Min(100_000_000L, (long)o.Streams * o.Rate * (o.Seconds + 5) * 2));
            var counts = new long[o.Streams];
            var bad = new long[o.Streams];
            var measuring = 0;
            using var hard = CancellationTokenSource.CreateLinkedTokenSource(Machine.Interrupted);
            hard.CancelAfter(TimeSpan.FromSeconds(o.Warmup + o.Seconds + 60));
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(hard.Token);

            async Task ReadAsync(int index)
            {
                var reader = readers[index];
                try
                {
                    while (await reader.WaitToReadAsync(stop.Token).ConfigureAwait(false))
                    {
                        while (reader.TryRead(out var e))
                        {
                            var now = Stopwatch.GetTimestamp();
                            if (!long.TryParse(e.Data, NumberStyles.None, Inv, out var stamp))
                            {
                                bad[index]++;
                                continue;
                            }

                            if (Volatile.Read(ref measuring) == 1)
                            {
                                counts[index]++;
                                recorder.Record(now - stamp);
                            }
                        }
                    }
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                    // The run is over.
                }
            }

            var tasks = new Task[o.Streams];
            for (var i = 0; i < o.Streams; i++)
            {
                var index = i;
                tasks[i] = Task.Run(() => ReadAsync(index), CancellationToken.None);
            }

            await Task.Delay(TimeSpan.FromSeconds(Math.Max(o.Warmup, 1)), hard.Token).ConfigureAwait(false);
            var connected = readers.Count(r => r.State == SubscriptionState.Connected);
            using var self = Process.GetCurrentProcess();
            self.Refresh();
            var cpuBefore = self.TotalProcessorTime.TotalMilliseconds;
            var allocBefore = GC.GetTotalAllocatedBytes(precise: false);
            var sentBefore = server.PacedEventsWritten;
            var clock = Stopwatch.StartNew();
            Volatile.Write(ref measuring, 1);
            await Task.Delay(TimeSpan.FromSeconds(o.Seconds), hard.Token).ConfigureAwait(false);
            Volatile.Write(ref measuring, 0);
            var seconds = clock.Elapsed.TotalSeconds;
            var sent = server.PacedEventsWritten - sentBefore;
            self.Refresh();
            var cpu = self.TotalProcessorTime.TotalMilliseconds - cpuBefore;
            var alloc = GC.GetTotalAllocatedBytes(precise: false) - allocBefore;
            await stop.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(tasks).WaitAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false);

            var total = counts.Sum();
            var perStream = counts.Select(c => c / seconds).Order().ToArray();
            var p = recorder.Summarize();
            var p999 = recorder.Quantile(0.999);
            Console.WriteLine(string.Create(Inv, $"### 2. {o.Streams} subscriptions at once, {o.Rate} events/s each ({o.Seconds} s after {Math.Max(o.Warmup, 1)} s of warm-up)"));
            Console.WriteLine();
            Console.WriteLine("| streams connected | events delivered | written by the server | events/s, all | per stream min | per stream median | per stream max | delivery p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | harness CPU µs/event | harness alloc B/event | bad events |");
            Console.WriteLine("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
            Console.WriteLine(string.Create(Inv, $"| {connected} | {total} | {sent} | {total / seconds:0} | {perStream[0]:0} | {perStream[perStream.Length / 2]:0} | {perStream[^1]:0} | {p.P50:0.000} | {p.P90:0.000} | {p.P99:0.000} | {p999:0.000} | {p.Max:0.0} | {cpu * 1000 / Math.Max(total, 1):0.00} | {(double)alloc / Math.Max(total, 1):0} | {bad.Sum()} |"));
            Console.WriteLine();
            Console.WriteLine("Delivery is the time from the server's write (a Stopwatch stamp in the data) to the subscriber's read of the event from its reader; the server (Kestrel) runs in this process.");
            Console.WriteLine();
            var rateMet = perStream[0] >= o.Rate * 0.99;
            targets.Add(string.Create(Inv, $"| {o.Streams} subscriptions: ≥ 1,000 events/s each | min {perStream[0]:0}/s, median {perStream[perStream.Length / 2]:0}/s per stream | {(rateMet && o.Rate >= 1000 ? "yes" : "**no**")} |"));
            targets.Add(string.Create(Inv, $"| … with p99 delivery ≤ 10 ms | p99 {p.P99:0.000} ms (p50 {p.P50:0.000}, max {p.Max:0.0}) | {(p.P99 <= 10 ? "yes" : "**no**")} |"));
        }
        finally
        {
            foreach (var reader in readers)
                await reader.DisposeAsync().ConfigureAwait(false);
            await TerminateAsync(system).ConfigureAwait(false);
        }
    }

    // ---- 3: the node's /api/v1/events with many clients ----

    private static async Task ClientsAsync(Settings o, List<string> targets)
    {
        var layout = RepoLayout.Find();
        if (layout.HostDll() is not { } host)
        {
            Console.WriteLine("clients skipped: src/Sark.Host is not built.");
            targets.Add("| node: ≤ 40 KB per /api/v1/events client | skipped (node not built) | – |");
            return;
        }

        var config = BenchConfig.Hocon(layout, ("everything", BenchConfig.Everything(layout)));
        Console.Error.WriteLine($"streams: clients: starting the node ({host.Configuration} build)");
        // --node-gc workstation|server overrides the node's runtimeconfig (DOTNET_gcServer), to tell the GC's share from the connections'.
        var environment = o.NodeGc switch
        {
            null => null,
            "server" => new Dictionary<string, string> { ["DOTNET_gcServer"] = "1" },
            "workstation" => new Dictionary<string, string> { ["DOTNET_gcServer"] = "0" },
            _ => throw new ArgumentException($"--node-gc must be server or workstation, not '{o.NodeGc}'."),
        };
        // --node-env NAME=VALUE,... adds runtime knobs (for example DOTNET_GCgen0size) for diagnosis.
        foreach (var (name, value) in o.NodeEnv ?? [])
            (environment ??= [])[name] = value;

        // --clients-target kestrel: the same clients against the harness's bare Kestrel endpoint (child
        // process, server GC, an SSE handler that flushes its headers and waits): the floor of a connection.
        var bare = o.ClientsTarget switch
        {
            "node" => false,
            "kestrel" => true,
            _ => throw new ArgumentException($"--clients-target must be node or kestrel, not '{o.ClientsTarget}'."),
        };
        if (bare)
        {
            environment ??= [];
            environment.TryAdd("DOTNET_gcServer", "1");
        }

        var node = bare
            ? await NodeProcess.StartAsync(Path.Combine(AppContext.BaseDirectory, "Sark.Benchmarks.dll"), [KestrelFloorServer.Command], config, TimeSpan.FromSeconds(60), environment).ConfigureAwait(false)
            : await NodeProcess.StartAsync(host.Dll, [], config, TimeSpan.FromSeconds(60), environment).ConfigureAwait(false);
        var what = bare ? $"bare Kestrel endpoint (no journal, no middleware{(o.InvokeRate > 0 ? $", one event to every client {o.InvokeRate} times a second" : "")})" : $"{host.Configuration} node";
        var gc = o.NodeGc ?? (bare ? "server" : Machine.GcOf(host.Dll));
        var clients = new List<SseClient>(o.Clients);
        await using (node.ConfigureAwait(false))
        {
            try
            {
                using var http = RestTarget.NewClient();
                await node.WaitUpstreamsReadyAsync(http, ["everything"], TimeSpan.FromSeconds(90)).ConfigureAwait(false);

                // The same invocation load with no client first, so that "before" already holds what the load itself costs.
                Console.Error.WriteLine($"streams: clients: {o.Seconds} s of invocations without clients");
                var (baseCalls, baseErrors) = await InvokeLoadAsync(node, http, o.InvokeRate, TimeSpan.FromSeconds(o.Seconds)).ConfigureAwait(false);
                await Task.Delay(TimeSpan.FromSeconds(3), Machine.Interrupted).ConfigureAwait(false);
                var rssBefore = ProcStat.StatusKiB(node.Pid, "VmRSS");
                var threadsBefore = ProcStat.StatusKiB(node.Pid, "Threads");

                Console.Error.WriteLine($"streams: clients: opening {o.Clients} connections to /api/v1/events");
                var endpoint = new IPEndPoint(IPAddress.Loopback, node.BaseAddress.Port);
                // The bare endpoint has no journal: it ticks an event of the node's size at the invocation rate.
                var request = Encoding.ASCII.GetBytes(
                    $"GET /api/v1/events{(bare && o.InvokeRate > 0 ? $"?tick={o.InvokeRate.ToString(Inv)}" : "")} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n");
                var openClock = Stopwatch.StartNew();
                using (var gate = new SemaphoreSlim(64))
                {
                    var opening = new Task<SseClient>[o.Clients];
                    for (var i = 0; i < o.Clients; i++)
                    {
                        opening[i] = Task.Run(async () =>
                        {
                            await gate.WaitAsync(Machine.Interrupted).ConfigureAwait(false);
                            try
                            {
                                return await SseClient.OpenAsync(endpoint, request).ConfigureAwait(false);
                            }
                            finally
                            {
                                gate.Release();
                            }
                        });
                    }

                    foreach (var t in opening)
                    {
                        try
                        {
                            clients.Add(await t.WaitAsync(TimeSpan.FromSeconds(120)).ConfigureAwait(false));
                        }
                        catch (Exception ex) when (ex is SocketException or IOException or TimeoutException or InvalidOperationException)
                        {
                            Console.Error.WriteLine($"streams: clients: a connection failed: {ex.Message}");
                        }
                    }
                }

                var openSeconds = openClock.Elapsed.TotalSeconds;
                var open = clients.Count;
                Console.Error.WriteLine($"streams: clients: {open} open in {openSeconds:0.0} s; {o.Seconds} s of invocations");
                var (calls, errors) = await InvokeLoadAsync(node, http, o.InvokeRate, TimeSpan.FromSeconds(o.Seconds)).ConfigureAwait(false);
                await Task.Delay(TimeSpan.FromSeconds(3), Machine.Interrupted).ConfigureAwait(false);
                var rssAfter = ProcStat.StatusKiB(node.Pid, "VmRSS");
                var hwm = ProcStat.StatusKiB(node.Pid, "VmHWM");
                var threadsAfter = ProcStat.StatusKiB(node.Pid, "Threads");
                var alive = clients.Count(c => c.Alive);
                var events = clients.Select(c => c.Blocks).Order().ToArray();
                var perClient = rssBefore is { } b && rssAfter is { } a && open > 0 ? (a - b) * 1024.0 / open : double.NaN;

                Console.WriteLine(string.Create(Inv, $"### 3. GET /api/v1/events with {o.Clients} clients ({what}, {gc} GC{(o.NodeEnv is { Count: > 0 } env ? ", " + string.Join(", ", env.Select(e => $"{e.Key}={e.Value}")) : "")})"));
                Console.WriteLine();
                Console.WriteLine("| clients open | still open at the end | opened in s | invocations (errors) without clients | with clients | events per client min / median / max | node VmRSS before MiB | after MiB | VmHWM MiB | threads before / after | (after − before) / clients |");
                Console.WriteLine("|---:|---:|---:|---:|---:|---|---:|---:|---:|---|---:|");
                Console.WriteLine(string.Create(Inv, $"| {open} | {alive} | {openSeconds:0.0} | {baseCalls} ({baseErrors}) | {calls} ({errors}) | {(events.Length > 0 ? $"{events[0]} / {events[events.Length / 2]} / {events[^1]}" : "–")} | {MiB(rssBefore)} | {MiB(rssAfter)} | {MiB(hwm)} | {threadsBefore} / {threadsAfter} | {perClient / 1024:0.0} KiB |"));
                Console.WriteLine();
                Console.WriteLine(string.Create(Inv, $"Each client is a raw socket that sends one `GET /api/v1/events` and reads whatever comes into a 2 KiB buffer (blank-line-ended blocks are counted as events). Invocations: sequential REST `echo` calls at up to {o.InvokeRate}/s, each publishing one `invocation` event to every client. \"before\" is read 3 s after the same invocation load ran with no client."));
                Console.WriteLine();
                targets.Add(string.Create(Inv, $"| {(bare ? "bare Kestrel (floor, no target)" : "node")}: {o.Clients} /api/v1/events clients at ≤ 40 KB each | {perClient / 1024:0.0} KiB per client ({open} open, {alive} at the end) | {(perClient <= 40_000 && open == o.Clients && alive == open ? "yes" : "**no**")} |"));
            }
            finally
            {
                foreach (var client in clients)
                    client.Dispose();
            }
        }
    }

    private static string MiB(long? kib) => kib is { } k ? (k / 1024.0).ToString("0.0", Inv) : "n/a";

    /// <summary>Sequential REST echo calls at up to <paramref name="rate"/> per second for <paramref name="duration"/>.</summary>
    private static async Task<(int Calls, int Errors)> InvokeLoadAsync(NodeProcess node, HttpClient http, int rate, TimeSpan duration)
    {
        var uri = new Uri(node.BaseAddress, "/api/v1/invoke");
        var clock = Stopwatch.StartNew();
        var calls = 0;
        var errors = 0;
        while (clock.Elapsed < duration && !Machine.Interrupted.IsCancellationRequested)
        {
            var due = (int)(clock.Elapsed.TotalSeconds * rate);
            if (calls >= due)
            {
                await Task.Delay(5, Machine.Interrupted).ConfigureAwait(false);
                continue;
            }

            calls++;
            try
            {
                using var call = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                using var content = new StringContent("""{"server":"everything","tool":"echo","parameters":{"message":"hi"}}""", Encoding.UTF8, "application/json");
                using var response = await http.PostAsync(uri, content, call.Token).ConfigureAwait(false);
                var body = await response.Content.ReadAsByteArrayAsync(call.Token).ConfigureAwait(false);
                if (!response.IsSuccessStatusCode || !EchoReply.BodyHasEcho(body))
                    errors++;
            }
            catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException)
            {
                errors++;
            }
        }

        return (calls, errors);
    }

    /// <summary>One raw HTTP/1.1 client of <c>GET /api/v1/events</c>: connects, checks the 200, then reads until disposed.</summary>
    private sealed class SseClient : IDisposable
    {
        private readonly Socket _socket;
        private readonly CancellationTokenSource _stop = new();
        private long _blocks;
        private int _alive = 1;

        private SseClient(Socket socket) => _socket = socket;

        public long Blocks => Interlocked.Read(ref _blocks);

        public bool Alive => Volatile.Read(ref _alive) == 1;

        public static async Task<SseClient> OpenAsync(IPEndPoint endpoint, byte[] request)
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                await socket.ConnectAsync(endpoint, timeout.Token).ConfigureAwait(false);
                await socket.SendAsync(request, SocketFlags.None, timeout.Token).ConfigureAwait(false);
                var buffer = new byte[2048];
                var got = 0;
                int headerEnd;
                while ((headerEnd = buffer.AsSpan(0, got).IndexOf("\r\n\r\n"u8)) < 0)
                {
                    if (got == buffer.Length)
                        throw new InvalidOperationException("The response headers are larger than 2 KiB.");
                    var n = await socket.ReceiveAsync(buffer.AsMemory(got), SocketFlags.None, timeout.Token).ConfigureAwait(false);
                    if (n == 0)
                        throw new IOException("The node closed the connection before its headers.");
                    got += n;
                }

                if (!buffer.AsSpan(0, got).StartsWith("HTTP/1.1 200"u8))
                    throw new InvalidOperationException($"The node answered {Encoding.ASCII.GetString(buffer, 0, Math.Min(got, 40)).Split('\r')[0]}.");
                var client = new SseClient(socket);
                _ = Task.Run(() => client.ReadAsync(buffer), CancellationToken.None);
                return client;
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }

        private async Task ReadAsync(byte[] buffer)
        {
            var newlines = 0;
            try
            {
                while (true)
                {
                    var n = await _socket.ReceiveAsync(buffer, SocketFlags.None, _stop.Token).ConfigureAwait(false);
                    if (n == 0)
                        break;
                    foreach (var b in buffer.AsSpan(0, n))
                    {
                        if (b == (byte)'\n')
                        {
                            if (++newlines == 2)
                                Interlocked.Increment(ref _blocks);
                        }
                        else if (b != (byte)'\r')
                        {
                            newlines = 0;
                        }
                    }
                }
            }
            catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException)
            {
                // Closed.
            }

            Volatile.Write(ref _alive, 0);
        }

        public void Dispose()
        {
            _stop.Cancel();
            _socket.Dispose();
            _stop.Dispose();
        }
    }

    // ---- 4: mcp-http echo, SDK direct against the facade ----

    private static async Task McpHttpAsync(Settings o, List<string> targets)
    {
        var layout = RepoLayout.Find();
        if (!File.Exists(layout.EverythingScript))
        {
            Console.WriteLine($"mcphttp skipped: server-everything is not installed at {layout.EverythingScript}.");
            return;
        }

        Console.Error.WriteLine("streams: mcphttp: starting server-everything (streamableHttp)");
        await using var server = await EverythingHttp.StartAsync(layout).ConfigureAwait(false);
        var list = new List<IEchoTarget>();
        var results = new List<RunResult>();
        try
        {
            using var setup = CancellationTokenSource.CreateLinkedTokenSource(Machine.Interrupted);
            setup.CancelAfter(TimeSpan.FromSeconds(90));
            list.Add(await McpHttpDirectTarget.StartAsync(server, setup.Token).ConfigureAwait(false));
            var upstream = new UpstreamOptions
            {
                Name = "everything",
                Kind = UpstreamKind.McpHttp,
                Url = server.Url,
                Transport = McpHttpTransport.StreamableHttp,
                CallTimeout = TimeSpan.FromSeconds(30),
                InitTimeout = TimeSpan.FromSeconds(20),
            };
            var options = new SarkOptions
            {
                Upstreams = ImmutableDictionary<string, UpstreamOptions>.Empty.Add(upstream.Name, upstream),
                Policy = SarkConfigLoader.Parse(BenchConfig.Hocon(layout)).Policy,
            };
            list.Add(await FacadeTarget.StartAsync(options, "everything", setup.Token).ConfigureAwait(false));

            var recorder = new LatencyRecorder((int)Math.Min(16_000_000L, Math.Max(1_000_000L, o.Seconds * 100_000L)));
            foreach (var c in o.Concurrency)
            {
                foreach (var target in list)
                {
                    Console.Error.WriteLine($"streams: mcphttp: {target.Name} c={c}");
                    results.Add(await ClosedLoop.RunAsync(target, c, TimeSpan.FromSeconds(Math.Max(o.Warmup, 3)), TimeSpan.FromSeconds(o.Seconds), recorder).ConfigureAwait(false));
                }
            }
        }
        finally
        {
            foreach (var target in list)
                await target.DisposeAsync().ConfigureAwait(false);
        }

        Console.WriteLine(string.Create(Inv, $"### 4. mcp-http echo: SDK client direct against the facade (server-everything streamableHttp, {o.Seconds} s per path after {Math.Max(o.Warmup, 3)} s of warm-up)"));
        Console.WriteLine();
        Console.Write(Report.Table(results));
        foreach (var r in results)
        {
            if (r.FirstError is not null)
                Console.WriteLine($"- first error of {r.Path} c={r.Concurrency}: {r.FirstError}");
        }

        Console.WriteLine();
        Console.WriteLine("| c | facade p50 − direct p50 ms | facade p99 − direct p99 ms | facade / direct throughput |");
        Console.WriteLine("|---:|---:|---:|---:|");
        foreach (var c in o.Concurrency)
        {
            if (results.FirstOrDefault(r => r.Path == "direct" && r.Concurrency == c) is not { } d
                || results.FirstOrDefault(r => r.Path == "facade" && r.Concurrency == c) is not { } f)
            {
                continue;
            }

            var delta = f.Latency.P50 - d.Latency.P50;
            Console.WriteLine(string.Create(Inv, $"| {c} | {delta:+0.000;-0.000} | {f.Latency.P99 - d.Latency.P99:+0.000;-0.000} | {100.0 * f.Throughput / d.Throughput:0.0} % |"));
            if (c == 1 || o.Concurrency.Length == 1)
                targets.Add(string.Create(Inv, $"| mcp-http echo through the facade, c={c}: p50 ≤ direct p50 + 0.5 ms | direct p50 {d.Latency.P50:0.000} ms, facade p50 {f.Latency.P50:0.000} ms: {delta:+0.000;-0.000} ms (p99 {d.Latency.P99:0.000} / {f.Latency.P99:0.000} ms) | {(delta <= 0.5 ? "yes" : "**no**")} |"));
        }

        Console.WriteLine();
    }
}
