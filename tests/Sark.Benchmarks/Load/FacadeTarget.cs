using System.Text.Json;
using Akka.Actor;
using Akka.Hosting;
using Sark.Actors;
using Sark.Actors.Catalog;
using Sark.Actors.Configuration;
using Sark.Actors.Hosting;
using Sark.Actors.Upstreams;
using Sark.Actors.Upstreams.Stdio;

namespace Sark.Benchmarks.Load;

/// <summary>
/// The library path: <see cref="ISarkGateway.InvokeToolAsync"/> through the Sark actor tree
/// (facade Ask → upstreams → circuit → stdio connection → server-everything), in this process.
/// </summary>
internal sealed class FacadeTarget : IEchoTarget
{
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(30);

    private readonly ActorSystem _system;
    private readonly IActorRef _root;
    private readonly ISarkGateway _gateway;
    private readonly JsonElement _arguments;
    private readonly string _server;

    private FacadeTarget(string name, string server, ActorSystem system, IActorRef root, ISarkGateway gateway)
    {
        Name = name;
        _server = server;
        _system = system;
        _root = root;
        _gateway = gateway;
        using var document = JsonDocument.Parse($$"""{"message":"{{EchoReply.Message}}"}""");
        _arguments = document.RootElement.Clone();
    }

    /// <summary><c>facade</c>, or <c>actors</c> when the connection is <see cref="InMemoryEchoConnection"/>.</summary>
    public string Name { get; }

    public int? PeerPid { get; private set; }

    public int? GatewayPid => null;

    /// <summary>The facade itself, for the bare Kestrel endpoint.</summary>
    public ISarkGateway Gateway => _gateway;

    /// <summary>The facade's audit log, when audit is on.</summary>
    public Sark.Actors.Audit.AuditLog? Audit => (_gateway as SarkGateway)?.Audit;

    /// <summary>
    /// Starts the tree and waits until <paramref name="upstream"/> is ready. With
    /// <paramref name="inMemory"/>, the connection actor is <see cref="InMemoryEchoConnection"/>: no process.
    /// <paramref name="name"/> overrides the path's name in the tables.
    /// </summary>
    public static async Task<FacadeTarget> StartAsync(SarkOptions options, string upstream, CancellationToken cancellationToken, bool inMemory = false, string? name = null)
    {
        var system = ActorSystem.Create("bench", "akka.loglevel = WARNING");
        FacadeTarget? target = null;
        try
        {
            var (root, gateway) = SarkRuntime.Start(system, options, inMemory ? InMemoryEchoConnection.Props : null);
            target = new FacadeTarget(name ?? (inMemory ? "actors" : "facade"), upstream, system, root, gateway);
            target.PeerPid = await WaitReadyAsync(target._gateway, upstream, cancellationToken).ConfigureAwait(false);
            return target;
        }
        catch
        {
            if (target is not null)
            {
                await target.DisposeAsync().ConfigureAwait(false);
            }
            else
            {
                await ChildProcesses.StopAllAsync(TimeSpan.FromSeconds(8)).ConfigureAwait(false);
                await TerminateAsync(system).ConfigureAwait(false);
            }

            throw;
        }
    }

    /// <summary>Polls the upstream's status until it is Ready; returns its process id.</summary>
    private static async Task<int?> WaitReadyAsync(ISarkGateway gateway, string upstream, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + ReadyTimeout;
        UpstreamStatus? last = null;
        while (DateTime.UtcNow < deadline)
        {
            var statuses = await gateway.GetUpstreamsAsync(cancellationToken).WaitAsync(TimeSpan.FromSeconds(15), cancellationToken).ConfigureAwait(false);
            foreach (var status in statuses)
            {
                if (status.Name != upstream)
                    continue;
                last = status;
                if (status.State == UpstreamState.Ready)
                    return status.ProcessId;
            }

            await Task.Delay(100, cancellationToken).ConfigureAwait(false);
        }

        throw new TimeoutException($"Upstream '{upstream}' was not ready within {ReadyTimeout.TotalSeconds:0}s (state {last?.State}, last error: {last?.LastError ?? "none"}).");
    }

    public void Prepare(int workers)
    {
    }

    public async ValueTask<bool> CallAsync(int worker, CancellationToken cancellationToken)
    {
        var result = await _gateway.InvokeToolAsync(_server, "echo", _arguments, null, cancellationToken).ConfigureAwait(false);
        return !result.IsError && EchoReply.IsEcho(result.Result);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _root.GracefulStop(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        catch (TaskCanceledException)
        {
            // Took too long; the processes are stopped below regardless.
        }

        await ChildProcesses.StopAllAsync(TimeSpan.FromSeconds(8)).ConfigureAwait(false);
        await TerminateAsync(_system).ConfigureAwait(false);
    }

    private static async Task TerminateAsync(ActorSystem system)
    {
        try
        {
            await system.Terminate().WaitAsync(TimeSpan.FromSeconds(10), CancellationToken.None).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // The actor system is left to the process exit; its child processes are already reaped.
        }
    }
}
