using System.Collections.Immutable;

namespace Sark.Actors.Configuration;

/// <summary>The kinds of upstream (DESIGN.md section 2).</summary>
public enum UpstreamKind
{
    McpStdio,
    McpHttp,
    Gateway,
}

/// <summary>The HTTP transport of an <c>mcp-http</c> upstream (<c>transport = auto | streamable-http | sse</c>).</summary>
public enum McpHttpTransport
{
    Auto,
    StreamableHttp,
    Sse,
}

/// <summary>The configuration spelling of <see cref="UpstreamKind"/>, used wherever a kind is shown.</summary>
public static class UpstreamKinds
{
    public static string ToConfigName(this UpstreamKind kind) => kind switch
    {
        UpstreamKind.McpStdio => "mcp-stdio",
        UpstreamKind.McpHttp => "mcp-http",
        UpstreamKind.Gateway => "gateway",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };

    public static UpstreamKind? FromConfigName(string? name) => name switch
    {
        "mcp-stdio" => UpstreamKind.McpStdio,
        "mcp-http" => UpstreamKind.McpHttp,
        "gateway" => UpstreamKind.Gateway,
        _ => null,
    };
}

/// <summary>Everything the runtime needs, read from the <c>sark</c> HOCON section by <see cref="SarkConfigLoader"/>.</summary>
public sealed record SarkOptions
{
    public NodeOptions Node { get; init; } = new();

    /// <summary>Akka.Cluster membership and upstream sharding (<c>sark.cluster</c>); off by default.</summary>
    public ClusterOptions Cluster { get; init; } = new();

    /// <summary>The configured upstreams, by name. The name is also the server name of an <c>mcp-*</c> upstream.</summary>
    public ImmutableDictionary<string, UpstreamOptions> Upstreams { get; init; } =
        ImmutableDictionary<string, UpstreamOptions>.Empty.WithComparers(StringComparer.Ordinal);

    /// <summary>The catalog's bounds (<c>sark.catalog</c>).</summary>
    public CatalogOptions Catalog { get; init; } = new();

    /// <summary>
    /// The policy every call and listing is authorized by (<c>sark.policy</c>). Configuration
    /// read from HOCON always has one (its default denies what no rule allows). Null, only for
    /// options built in code without one, means no policy decision point: nothing is filtered.
    /// </summary>
    public Policy.PolicyOptions? Policy { get; init; }

    /// <summary>
    /// The audit log (<c>sark.audit</c>): one event per decision and per outcome. Configuration read
    /// from HOCON always has one; null, only for options built in code without one, records nothing.
    /// </summary>
    public Audit.AuditOptions? Audit { get; init; }

    /// <summary>Event subscriptions and the node's own event stream (<c>sark.events</c>).</summary>
    public EventsOptions Events { get; init; } = new();

    /// <summary>Which kinds of upstream a call may take when a server is reachable through several (<c>sark.routing.mode</c>).</summary>
    public RouteMode RouteMode { get; init; } = RouteMode.Auto;

    /// <summary>Observability settings (<c>sark.telemetry</c>).</summary>
    public TelemetryOptions Telemetry { get; init; } = new();

    /// <summary>The default facade timeout margin over an upstream's own call timeout.</summary>
    public TimeSpan AskMargin { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>The longest <c>stop-grace</c> + <c>kill-grace</c> of any upstream: how long stopping them all may take.</summary>
    public TimeSpan LongestUpstreamStop
    {
        get
        {
            var longest = TimeSpan.Zero;
            foreach (var upstream in Upstreams.Values)
            {
                if (upstream.StopGrace + upstream.KillGrace > longest)
                    longest = upstream.StopGrace + upstream.KillGrace;
            }

            return longest;
        }
    }
}

/// <summary>Observability settings (<c>sark.telemetry</c>, docs/observability.md).</summary>
public sealed record TelemetryOptions
{
    /// <summary>
    /// The node's metrics and traces (<c>sark.telemetry.enabled</c>). Off: no meter or tracer
    /// provider, no <c>/metrics</c>, no spans; logs and health stay.
    /// </summary>
    public bool Enabled { get; init; } = true;

    /// <summary>A call slower than this is logged with its breakdown; zero turns that off.</summary>
    public TimeSpan SlowCallThreshold { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Where traces and metrics also go over OTLP; null for no OTLP export.</summary>
    public Uri? OtlpEndpoint { get; init; }

    /// <summary><c>grpc</c> or <c>http/protobuf</c>.</summary>
    public string OtlpProtocol { get; init; } = "grpc";

    /// <summary>How often metrics are pushed over OTLP.</summary>
    public TimeSpan OtlpMetricsInterval { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// The share of new traces whose spans the node records (0 to 1; <c>trace-sample-ratio</c>).
    /// A call that arrives with a sampled <c>traceparent</c> is always recorded; every call has a
    /// trace id either way (audit, <c>traceparent</c> upstream).
    /// </summary>
    public double TraceSampleRatio { get; init; } = 0.1;

    /// <summary><c>text</c> or <c>json</c> console logs.</summary>
    public string LogFormat { get; init; } = "text";

    /// <summary>Log lines per error code (or slow server) per 10 s window before suppression.</summary>
    public int ErrorLogBurst { get; init; } = 10;
}

/// <summary>The node's own settings (<c>sark.node</c>).</summary>
public sealed record NodeOptions
{
    /// <summary>HOST:PORT of the REST API and health endpoints.</summary>
    public string HttpBind { get; init; } = "127.0.0.1:8080";

    /// <summary>How long in-flight calls may run on after shutdown starts before they fail with <c>shutting_down</c>.</summary>
    public TimeSpan ShutdownDrain { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The largest REST request body accepted.</summary>
    public long MaxRequestBodyBytes { get; init; } = 4 * 1024 * 1024;

    /// <summary>
    /// The node process's GC generation-0 budget in bytes (<c>sark.node.gc.gen0-budget</c>), or 0
    /// for the runtime's own. The runtime takes it only from the environment
    /// (<c>DOTNET_GCgen0size</c>), so the node re-executes itself once to set it; see
    /// docs/production.md ("Sizing").
    /// </summary>
    public long Gen0Budget { get; init; }

    /// <summary>
    /// The node process's GC (<c>sark.node.gc.mode</c>): workstation (the default; memory-lean,
    /// with <see cref="Gen0Budget"/>) or server (the runtime's dynamically sized server GC: more
    /// calls per second under load, more memory per connection). Set like the budget, through the
    /// environment (<c>DOTNET_gcServer</c>); see docs/production.md ("Sizing").
    /// </summary>
    public GcMode GcMode { get; init; } = GcMode.Workstation;

    /// <summary>The ops console's command host (<c>sark.node.ops</c>).</summary>
    public Ops.OpsOptions Ops { get; init; } = new();
}

/// <summary>The catalog's bounds (<c>sark.catalog</c>).</summary>
public sealed record CatalogOptions
{
    /// <summary>Servers held at most, over every upstream; a listing beyond it is cut (and counted).</summary>
    public int MaxEntries { get; init; } = 100_000;

    /// <summary>After a failed refresh, the stale entry is served this long before another fetch is tried.</summary>
    public TimeSpan StaleRetry { get; init; } = TimeSpan.FromSeconds(5);
}

/// <summary>Event subscriptions (SSE client) and the node's own event stream (<c>sark.events</c>).</summary>
public sealed record EventsOptions
{
    /// <summary>Concurrent subscriptions at most; the next gets <c>stream_limit_reached</c>.</summary>
    public int MaxStreams { get; init; } = 50;

    /// <summary>Events buffered for a subscriber before the stream waits for it (back-pressure).</summary>
    public int BufferSize { get; init; } = 1024;

    /// <summary>No byte for this long means a dead connection; keep-alive comments reset it.</summary>
    public TimeSpan ReadTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>The largest single event accepted.</summary>
    public long MaxEventBytes { get; init; } = 1024 * 1024;

    /// <summary>Reconnect backoff: 1 s doubling to 60 s with jitter.</summary>
    public BackoffOptions Backoff { get; init; } = new() { Min = TimeSpan.FromSeconds(1), Max = TimeSpan.FromSeconds(60), RandomFactor = 0.2 };

    /// <summary>The node's own stream: events held for replay with Last-Event-ID.</summary>
    public int JournalSize { get; init; } = 4096;

    /// <summary>The node's own stream: a comment after this long without an event.</summary>
    public TimeSpan KeepAlive { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>The node's own stream: concurrent clients at most.</summary>
    public int MaxClients { get; init; } = 5000;
}

/// <summary>Retries of reads (list, get, health) against a remote upstream: one budget per logical call.</summary>
public sealed record ReadRetryOptions
{
    /// <summary>Attempts in all, the first included.</summary>
    public int Attempts { get; init; } = 3;

    public TimeSpan MinBackoff { get; init; } = TimeSpan.FromMilliseconds(100);

    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(2);
}

/// <summary>Backoff of an upstream's circuit (DESIGN.md section 4).</summary>
public sealed record BackoffOptions
{
    public TimeSpan Min { get; init; } = TimeSpan.FromSeconds(1);

    public TimeSpan Max { get; init; } = TimeSpan.FromSeconds(30);

    public double RandomFactor { get; init; } = 0.2;

    /// <summary>After this long connected, the restart counter resets (the circuit's auto-reset).</summary>
    public TimeSpan ResetAfter { get; init; } = TimeSpan.FromSeconds(60);
}

/// <summary>Bounds on what an upstream process may write to stderr into our log.</summary>
public sealed record StderrOptions
{
    public int MaxLineLength { get; init; } = 2048;

    public int LinesPerSecond { get; init; } = 20;

    public int Burst { get; init; } = 50;
}

/// <summary>One upstream (<c>sark.upstreams.&lt;name&gt;</c>) merged over <c>sark.upstream-defaults</c>.</summary>
public sealed record UpstreamOptions
{
    public required string Name { get; init; }

    public required UpstreamKind Kind { get; init; }

    /// <summary>In a cluster: the role a node needs to host this upstream (empty: any node with <c>sark.cluster.upstream-role</c>).</summary>
    public string ClusterRole { get; init; } = "";

    /// <summary>mcp-stdio: argv, run directly and never through a shell.</summary>
    public ImmutableArray<string> Command { get; init; } = [];

    /// <summary>mcp-stdio: the working directory; the node's by default.</summary>
    public string? WorkingDirectory { get; init; }

    /// <summary>mcp-stdio: variables set for the process, on top of the allowlisted ones.</summary>
    public ImmutableDictionary<string, string> Env { get; init; } = ImmutableDictionary<string, string>.Empty;

    /// <summary>mcp-stdio: names of variables the process inherits from the node; nothing else is inherited.</summary>
    public ImmutableArray<string> EnvAllowlist { get; init; } = DefaultEnvAllowlist;

    /// <summary>Remote upstreams: the base URL.</summary>
    public string? Url { get; init; }

    /// <summary>
    /// The node's <c>sark.events</c> (read timeout, max event size, backoff) for the event streams
    /// this upstream follows itself (a gateway upstream's registry events); the loader copies them
    /// from <see cref="SarkOptions.Events"/>.
    /// </summary>
    public EventsOptions Events { get; init; } = new();

    /// <summary>mcp-http: which HTTP transport to speak (auto tries Streamable HTTP, then legacy HTTP+SSE).</summary>
    public McpHttpTransport Transport { get; init; } = McpHttpTransport.Auto;

    /// <summary>mcp-http: static headers sent with every request (no CR/LF: refused at load).</summary>
    public ImmutableDictionary<string, string> Headers { get; init; } = ImmutableDictionary<string, string>.Empty;

    /// <summary>gateway: the registry's API key, sent as <c>X-API-Key</c>. From the environment: <c>${?VAR}</c>.</summary>
    public string? ApiKey { get; init; }

    /// <summary>gateway: the <c>limit</c> of each page of servers and tools (at most 1000).</summary>
    public int PageSize { get; init; } = 100;

    /// <summary>gateway: connections kept to the registry at most.</summary>
    public int MaxConnections { get; init; } = 50;

    /// <summary>gateway: how long a listing or a server read from the registry is served before it is read again.</summary>
    public TimeSpan CacheTtl { get; init; } = TimeSpan.FromSeconds(300);

    /// <summary>gateway: pass the caller's bearer token on as <c>Authorization: Bearer</c>.</summary>
    public bool ForwardCallerToken { get; init; }

    /// <summary>
    /// mcp-stdio and mcp-http: offer the sampling and elicitation client capabilities, and relay the server's
    /// requests for them (and its log messages) to the caller of the only call in flight that
    /// has a <see cref="InvokeOptions.ClientRequests"/> handler.
    /// </summary>
    public bool RelayClientRequests { get; init; }

    /// <summary>gateway: how often the registry's <c>GET /health</c> is read (it feeds readiness).</summary>
    public TimeSpan HealthInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>gateway: subscribe to the registry's <c>GET /api/v1/events</c> and invalidate the catalog on its changes.</summary>
    public bool SubscribeEvents { get; init; } = true;

    /// <summary>gateway: retries of reads (list, get, health).</summary>
    public ReadRetryOptions ReadRetry { get; init; } = new();

    public TimeSpan CallTimeout { get; init; } = TimeSpan.FromSeconds(30);

    public TimeSpan InitTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>The largest single JSON-RPC message accepted from or sent to the upstream.</summary>
    public int MaxMessageBytes { get; init; } = 4 * 1024 * 1024;

    /// <summary>Consecutive failed requests that open the circuit.</summary>
    public int FailureThreshold { get; init; } = 5;

    public BackoffOptions Backoff { get; init; } = new();

    /// <summary>After this long without any message from the upstream, a liveness ping is sent.</summary>
    public TimeSpan IdlePingAfter { get; init; } = TimeSpan.FromSeconds(30);

    public TimeSpan PingTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Stop: after stdin is closed, how long to wait before SIGTERM.</summary>
    public TimeSpan StopGrace { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Stop: after SIGTERM, how long to wait before SIGKILL.</summary>
    public TimeSpan KillGrace { get; init; } = TimeSpan.FromSeconds(3);

    public StderrOptions Stderr { get; init; } = new();

    /// <summary>Calls waiting while the upstream connects, at most; more are refused.</summary>
    public int MaxPendingWhileConnecting { get; init; } = 1000;

    /// <summary>Calls in flight at once, at most; more are refused with <c>upstream_unavailable</c>.</summary>
    public int MaxInFlight { get; init; } = 10_000;

    /// <summary>Pages of <c>tools/list</c> followed at most.</summary>
    public int MaxListPages { get; init; } = 100;

    /// <summary>Readiness requires this upstream's circuit to be closed.</summary>
    public bool Required { get; init; }

    public static readonly ImmutableArray<string> DefaultEnvAllowlist =
        ["PATH", "HOME", "USER", "LANG", "LC_ALL", "TZ", "TMPDIR", "DOTNET_ROOT", "SYSTEMROOT"];
}

/// <summary>
/// Which kinds of upstream a call may take when its server is reachable through several
/// (DESIGN.md section 5, the original's AUTO/HTTP_ONLY/SSE_ONLY/STDIO_ONLY made real).
/// </summary>
public enum RouteMode
{
    /// <summary>Any kind; a closed local route first: stdio, then mcp-http, then gateway.</summary>
    Auto,

    /// <summary>Only <c>gateway</c> upstreams (a registry's REST API).</summary>
    HttpOnly,

    /// <summary>Only <c>mcp-http</c> upstreams (remote MCP servers).</summary>
    SseOnly,

    /// <summary>Only <c>mcp-stdio</c> upstreams (local processes).</summary>
    StdioOnly,
}

/// <summary>The configuration spelling of <see cref="RouteMode"/>, and which kinds each mode admits.</summary>
public static class RouteModes
{
    public static string ToConfigName(this RouteMode mode) => mode switch
    {
        RouteMode.Auto => "auto",
        RouteMode.HttpOnly => "http-only",
        RouteMode.SseOnly => "sse-only",
        RouteMode.StdioOnly => "stdio-only",
        _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, null),
    };

    public static RouteMode? FromConfigName(string? name) => name switch
    {
        "auto" => RouteMode.Auto,
        "http-only" => RouteMode.HttpOnly,
        "sse-only" => RouteMode.SseOnly,
        "stdio-only" => RouteMode.StdioOnly,
        _ => null,
    };

    /// <summary>Whether a call in this mode may take an upstream of this kind.</summary>
    public static bool Admits(this RouteMode mode, UpstreamKind kind) => mode switch
    {
        RouteMode.Auto => true,
        RouteMode.HttpOnly => kind == UpstreamKind.Gateway,
        RouteMode.SseOnly => kind == UpstreamKind.McpHttp,
        RouteMode.StdioOnly => kind == UpstreamKind.McpStdio,
        _ => false,
    };

    /// <summary>The order AUTO tries kinds in: local first.</summary>
    public static int Preference(this UpstreamKind kind) => kind switch
    {
        UpstreamKind.McpStdio => 0,
        UpstreamKind.McpHttp => 1,
        _ => 2,
    };
}

/// <summary>Which garbage collector the node process runs (<c>sark.node.gc.mode</c>).</summary>
public enum GcMode
{
    /// <summary>One heap, collections on the allocating thread, a fixed generation-0 budget: least memory per connection.</summary>
    Workstation,

    /// <summary>The runtime's server GC (its heap count adapts to the load): collections on dedicated threads, in parallel.</summary>
    Server,
}
