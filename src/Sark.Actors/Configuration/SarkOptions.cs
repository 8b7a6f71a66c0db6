using System.Collections.Immutable;

namespace Sark.Actors.Configuration;

/// <summary>The kinds of upstream (DESIGN.md section 2).</summary>
public enum UpstreamKind
{
    McpStdio,
    McpHttp,
    Gateway,
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

    /// <summary>The configured upstreams, by name. The name is also the server name of an <c>mcp-*</c> upstream.</summary>
    public ImmutableDictionary<string, UpstreamOptions> Upstreams { get; init; } =
        ImmutableDictionary<string, UpstreamOptions>.Empty.WithComparers(StringComparer.Ordinal);

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

/// <summary>The node's own settings (<c>sark.node</c>).</summary>
public sealed record NodeOptions
{
    /// <summary>HOST:PORT of the REST API and health endpoints.</summary>
    public string HttpBind { get; init; } = "127.0.0.1:8080";

    /// <summary>How long in-flight calls may run on after shutdown starts before they fail with <c>shutting_down</c>.</summary>
    public TimeSpan ShutdownDrain { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The largest REST request body accepted.</summary>
    public long MaxRequestBodyBytes { get; init; } = 4 * 1024 * 1024;
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

    /// <summary>gateway: the registry's API key, sent as <c>X-API-Key</c>. From the environment: <c>${?VAR}</c>.</summary>
    public string? ApiKey { get; init; }

    /// <summary>gateway: the <c>limit</c> of each page of servers and tools (at most 1000).</summary>
    public int PageSize { get; init; } = 100;

    /// <summary>gateway: connections kept to the registry at most.</summary>
    public int MaxConnections { get; init; } = 50;

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
