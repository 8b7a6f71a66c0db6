using System.Diagnostics.Metrics;
using Sark.Actors.Telemetry;

namespace Sark.Host.FrontDoor;

/// <summary>The front door's shared state on one node: its options, the Host/Origin policy, the session ledger, the keep-alive ticker and the sessions of direct tool calls.</summary>
internal sealed class FrontDoorRuntime : IAsyncDisposable
{
    private static readonly UpDownCounter<long> LegacySessions =
        SarkTelemetry.Meter.CreateUpDownCounter<long>("sark.legacy_sse.sessions", "{session}", "Open sessions of the deprecated HTTP+SSE transport (/sse).");

    public FrontDoorRuntime(FrontDoorOptions options, string bindHost)
    {
        Options = options;
        Policy = HostOriginPolicy.Create(options.AllowedHosts, options.AllowedOrigins, bindHost);
        Ledger = new SessionLedger(options.MaxSessions, options.LegacySse.MaxSessions, options.MaxSessionsPerCaller);
        KeepAlive = new KeepAliveTicker(options.KeepAlive);
        DirectSessions = new DirectSessions(options.IdleTimeout);
    }

    public FrontDoorOptions Options { get; }

    public HostOriginPolicy Policy { get; }

    public SessionLedger Ledger { get; }

    /// <summary>Comments on every quiet SSE stream of the front door, from one timer.</summary>
    public KeepAliveTicker KeepAlive { get; }

    /// <summary>The Streamable HTTP sessions whose plain tool calls the node answers itself (<c>direct-tool-calls</c>).</summary>
    public DirectSessions DirectSessions { get; }

    public ValueTask DisposeAsync() => KeepAlive.DisposeAsync();

    /// <summary>Whether <paramref name="path"/> is a Streamable HTTP endpoint (<c>/mcp</c> or <c>/servers/{name}/mcp</c>).</summary>
    public bool IsStreamablePath(PathString path) => FrontDoorPaths.Of(path.Value, Options.Path) == FrontDoorEndpointKind.Streamable;

    /// <summary>Whether <paramref name="path"/> is one of the legacy SSE endpoints (when they are served), aggregated or of one server.</summary>
    public bool IsLegacyPath(PathString path) =>
        Options.LegacySse.Enabled && FrontDoorPaths.Of(path.Value, Options.Path) is FrontDoorEndpointKind.LegacySse or FrontDoorEndpointKind.LegacyMessages;

    /// <summary>Whether <paramref name="path"/> is an MCP endpoint of this node.</summary>
    public bool Serves(PathString path) =>
        Options.Enabled && FrontDoorPaths.Of(path.Value, Options.Path) switch
        {
            FrontDoorEndpointKind.None => false,
            FrontDoorEndpointKind.Streamable => true,
            _ => Options.LegacySse.Enabled,
        };

    /// <summary>Takes a session slot for <paramref name="callerId"/>, counted in the metrics until disposed; null with the refusal.</summary>
    public IDisposable? TryOpen(string callerId, SessionKind kind, out SessionRefusal refusal)
    {
        refusal = Ledger.TryOpen(callerId, kind, out var slot);
        if (slot is null)
            return null;
        var transport = kind == SessionKind.Streamable ? SarkTelemetry.Transports.StreamableHttp : SarkTelemetry.Transports.Sse;
        SarkTelemetry.SessionOpened(transport);
        if (kind != SessionKind.Streamable)
            LegacySessions.Add(1);
        return new Counted(slot, transport);
    }

    /// <summary>The sentence of a refusal, naming the limit and what to do.</summary>
    public string Describe(SessionRefusal refusal) => refusal switch
    {
        SessionRefusal.NodeLimit =>
            $"The node has {Options.MaxSessions} MCP sessions open (sark.front-door.max-sessions). Close an unused session (DELETE with its Mcp-Session-Id) or retry later.",
        SessionRefusal.LegacyLimit =>
            $"The node has {Options.LegacySse.MaxSessions} legacy SSE sessions open (sark.front-door.legacy-sse.max-sessions). Move the client to Streamable HTTP at {Options.Path}.",
        SessionRefusal.CallerLimit =>
            $"This caller has {Options.MaxSessionsPerCaller} MCP sessions open (sark.front-door.max-sessions-per-caller). Close one before opening another.",
        _ => "The session was refused.",
    };

    private sealed class Counted(IDisposable slot, string transport) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0)
                return;
            slot.Dispose();
            SarkTelemetry.SessionClosed(transport);
            if (transport == SarkTelemetry.Transports.Sse)
                LegacySessions.Add(-1);
        }
    }
}
