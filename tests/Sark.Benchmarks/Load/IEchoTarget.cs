namespace Sark.Benchmarks.Load;

/// <summary>One way of calling server-everything's <c>echo</c> tool with <c>{"message":"hi"}</c>.</summary>
internal interface IEchoTarget : IAsyncDisposable
{
    /// <summary>The path's name in the tables: direct, facade, rest.</summary>
    string Name { get; }

    /// <summary>The server-everything process this path talks to, for its CPU time.</summary>
    int? PeerPid { get; }

    /// <summary>A gateway process other than the harness (the REST node), for its CPU time.</summary>
    int? GatewayPid { get; }

    /// <summary>The garbage of the server process of this path, when it says (see <see cref="ServerGc"/>).</summary>
    ServerGc? ServerGc => null;

    /// <summary>Makes per-worker state for up to <paramref name="workers"/> workers (before a run, off the clock).</summary>
    void Prepare(int workers);

    /// <summary>One call. True when the reply is the expected <c>Echo: hi</c>; false (or a throw) is an error.</summary>
    ValueTask<bool> CallAsync(int worker, CancellationToken cancellationToken);
}
