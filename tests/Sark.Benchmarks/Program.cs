using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Running;
using Sark.Benchmarks.Load;
using Sark.Benchmarks.Micro;

// Sark load harness. Commands:
//   stdio [--seconds N] [--warmup N] [--concurrency 1,16] [--paths direct,facade,kestrel,rest,actors]
//   rss   [--idle N] [--load-calls N] [--ready-timeout N]
//   micro [BenchmarkDotNet arguments]
//   open-breaker [--seconds N] [--concurrency 1,16]
//   audit [--store sqlite|postgres] [--events N] [--producers P] [--batch N] [--pg CONNSTR]
//   gateway [--servers N] [--page-size N] [--seconds N] [--ttl 300,5] [--workers N] [--parts walk,list,load,breaker] ...
//   cluster [--seconds N] [--warmup N] [--concurrency 16] [--upstreams 3] [--stable-after 2s]
//   streams [--parts single,fifty,clients,mcphttp] [--seconds N] [--streams 50] [--rate 1000] [--clients 2000] [--clients-target node|kestrel] ...
//   policy-audit [--parts decide,opa,invoke,policy-only] [--decisions N] [--cache-entries N] [--opa-seconds N] [--seconds N] [--warmup N] [--concurrency 1,16]
//   frontdoor [--parts throughput,paced,multiplex,sessions] [--shapes 1x1,1x16,8x16] [--transports streamable,stateless,sse] ...
//   telemetry [--seconds N] [--warmup N] [--prewarm N] [--rounds N] [--concurrency 1,16] [--modes off,on,all,tracing,metrics] [--sample-ratio R]
//   serve-kestrel --config FILE --bind HOST:PORT   (internal: the bare Kestrel endpoint the stdio command starts)
//   serve-passthrough --everything SCRIPT --stateless 0|1 --config FILE --bind HOST:PORT   (internal: the frontdoor command's bare SDK pass-through)
const string Usage = """
    usage: Sark.Benchmarks <command> [options]
      stdio [--seconds N] [--warmup N] [--concurrency 1,16] [--paths direct,facade,kestrel,rest,actors]
                  echo calls to server-everything: SDK direct, facade, bare Kestrel
                  endpoint over the facade, REST node (if built); actors (not by
                  default) is the facade over an in-memory connection, no process
      rss   [--idle N] [--load-calls N] [--ready-timeout N]
                  node RSS with three upstreams ready (if the node is built)
      micro [BenchmarkDotNet arguments]
                  JSON-RPC parse/write, facade-to-in-memory-connection and
                  policy (embedded decision, cache hit, arguments hash)
                  micro-benchmarks (short in-process job)
      open-breaker [--seconds N] [--concurrency 1,16]
                  calls refused by an open circuit through the facade, with and
                  without the circuit board (the Ask path), in one run
      audit [--store sqlite|postgres] [--events N] [--producers P] [--batch N] [--pg CONNSTR] [--direct 1]
                  sustained audit events/s through AuditLog into a real store, to the
                  shutdown flush; postgres without --pg starts a private server
                  (/usr/lib/postgresql/*/bin, fsync on); --direct 1 times the store alone
      gateway [--servers 10000] [--page-size 1000] [--tools-per-server 1] [--walks 3]
              [--list-seconds 3] [--list-concurrency 1] [--load-servers 1000] [--workers 4]
              [--seconds 20] [--ttl 300,5] [--invoke-percent 5] [--breaker-seconds 5]
              [--concurrency 1,16] [--parts walk,list,load,breaker]
                  issue 4 against the integration tests' FaultyRegistry (in process, 127.0.0.1):
                  the discovery walk from a fresh runtime, warm listings (p50/p99/p99.9),
                  a read-mostly load (hit rate, fetches per key per TTL from CacheStats and
                  the registry's counters), refusals of an open gateway circuit
      cluster [--seconds 10] [--warmup 3] [--concurrency 16] [--upstreams 3] [--stable-after 2s]
                  issue 9: the same REST echo load against 1 node vs 3 clustered nodes on this
                  machine (upstreams sharded over them), calls/s of each and the ratio, then the
                  hand-over time after a kill -9 of a node that hosts an upstream
      streams [--parts single,fifty,clients,mcphttp] [--seconds 10] [--warmup 2] [--streams 50]
              [--rate 1000] [--clients 2000] [--invoke-rate 20] [--concurrency 1]
              [--clients-target node|kestrel] [--node-gc server|workstation] [--node-env K=V,...]
                  issue 5: one subscription as fast as it reads (events/s), 50 paced
                  subscriptions (events/s each, delivery p50/p99), a real node's RSS with
                  2000 GET /api/v1/events clients (or the bare Kestrel endpoint's, the
                  floor), mcp-http echo direct (SDK) vs facade
      policy-audit [--parts decide,opa,invoke,policy-only] [--decisions 1000000] [--cache-entries 10000] [--opa-seconds 5]
                   [--seconds 10] [--warmup 3] [--concurrency 1,16]
                  issue 6: embedded decision latency (engine, gate uncached/cached, p99),
                  the OPA path over loopback (the tests' OPA stand-in, nothing cached), and
                  the facade → demo server echo without and with policy + audit (SQLite)
      frontdoor [--parts throughput,paced,multiplex,sessions] [--seconds 10] [--warmup 5] [--prewarm 15] [--rounds 1]
                [--shapes 1x1,1x16,8x16] [--transports streamable,stateless,sse] [--paths direct,bare,node[,twin]]
                [--rate 1000] [--paced-seconds 10] [--multiplex 64] [--sessions 1000]
                [--node-sse-path /sse] [--node-hocon TEXT] [--node-env K=V,...] [--bare-env K=V,...] [--gc workstation|server]
                  issue 7: MCP sessions calling echo over stdio through the node's front door,
                  against the SDK client direct and a bare SDK pass-through (same run):
                  throughput and p50/p99 per shape and transport, p99 at a paced rate,
                  sessions multiplexed on one upstream (crossed replies), memory per session;
                  twin adds a second pass-through: twin / bare is the harness's own spread (A/A)
      telemetry [--seconds 5] [--warmup 2] [--prewarm 15] [--rounds 2] [--concurrency 1,16] [--modes off,on,all] [--sample-ratio node default]
                  issue 8: the invoke path (facade + policy → demo server) with tracing and
                  metrics on vs both off, alternating rounds in one run (target: on ≥ 95 %);
                  --modes may add tracing and metrics (each alone)
    """;

if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
{
    Console.WriteLine(Usage);
    return args.Length == 0 ? 2 : 0;
}

var rest = new Args(args[1..]);
if (args[0] == KestrelFloorServer.Command)
    return await KestrelFloorServer.RunAsync(rest).ConfigureAwait(false);
if (args[0] == PassThroughServer.Command)
    return await PassThroughServer.RunAsync(rest).ConfigureAwait(false);

Machine.HookCtrlC();
try
{
    switch (args[0])
    {
        case "stdio":
            return await StdioCommand.RunAsync(rest).ConfigureAwait(false);
        case "rss":
            return await RssCommand.RunAsync(rest).ConfigureAwait(false);
        case OpenBreakerCommand.Command:
            return await OpenBreakerCommand.RunAsync(rest).ConfigureAwait(false);
        case AuditCommand.Command:
            return await AuditCommand.RunAsync(rest).ConfigureAwait(false);
        case StreamsCommand.Command:
            return await StreamsCommand.RunAsync(rest).ConfigureAwait(false);
        case PolicyAuditCommand.Command:
            return await PolicyAuditCommand.RunAsync(rest).ConfigureAwait(false);
        case FrontDoorCommand.Command:
            return await FrontDoorCommand.RunAsync(rest).ConfigureAwait(false);
        case ClusterCommand.Command:
            return await ClusterCommand.RunAsync(rest).ConfigureAwait(false);
        case TelemetryCommand.Command:
            return await TelemetryCommand.RunAsync(rest).ConfigureAwait(false);
        case GatewayCommand.Command:
            return await GatewayCommand.RunAsync(rest).ConfigureAwait(false);
        case "micro":
            var config = DefaultConfig.Instance.WithArtifactsPath(Path.Combine(Path.GetTempPath(), "sark-benchmarks-artifacts"));
            var summaries = BenchmarkRunner.Run([typeof(JsonRpcBenchmarks), typeof(FacadeBenchmarks), typeof(PolicyBenchmarks), typeof(TracingBenchmarks)], config, args[1..]);
            return summaries.Any(s => s.HasCriticalValidationErrors || s.Reports.Any(r => !r.Success)) ? 1 : 0;
        default:
            Console.Error.WriteLine($"unknown command '{args[0]}'");
            Console.Error.WriteLine(Usage);
            return 2;
    }
}
catch (ArgumentException ex)
{
    Console.Error.WriteLine(ex.Message);
    return 2;
}
#pragma warning disable CA1031 // The last resort of a console tool: say what failed (every process is already stopped by then).
catch (Exception ex)
#pragma warning restore CA1031
{
    Console.Error.WriteLine($"failed: {ex.GetType().Name}: {ex.Message}");
    return 1;
}
