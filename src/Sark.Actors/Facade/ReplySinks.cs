using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using Akka.Actor;

namespace Sark.Actors;

/// <summary>
/// Where the answer to one tool call sent straight to an upstream's ready connection comes back:
/// an actor ref that completes a task. Lighter than an Ask (no temporary actor registered under
/// its own path, no timer or linked token source per call): a connection answers every call it
/// takes (its own deadline sweep times calls out, and it fails what is in flight when it stops),
/// a call sent to a connection that has just stopped is re-routed from the dead letters by the
/// upstream manager, and <see cref="ReplySinks"/> answers whatever is left past its deadline.
/// </summary>
internal sealed class ReplySink : MinimalActorRef
{
    private readonly ReplySinks _owner;

    internal ReplySink(ReplySinks owner, long key, IActorRef target, string requestId, string upstream, long deadline)
    {
        _owner = owner;
        Key = key;
        Target = target;
        RequestId = requestId;
        Upstream = upstream;
        Deadline = deadline;
    }

    /// <summary>Completes with the connection's answer, is cancelled with the caller's token, or fails with <see cref="AskTimeoutException"/> past its deadline.</summary>
    public TaskCompletionSource<object> Reply { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    internal long Key { get; }

    /// <summary>The actor the call went to: where a cancellation goes.</summary>
    internal IActorRef Target { get; }

    internal string RequestId { get; }

    internal string Upstream { get; }

    /// <summary>The <see cref="Stopwatch"/> timestamp past which the sweep answers for the connection.</summary>
    internal long Deadline { get; }

    public override ActorPath Path => _owner.Path;

    public override IActorRefProvider Provider => _owner.Provider;

    protected override void TellInternal(object message, IActorRef sender) => Reply.TrySetResult(message);
}

/// <summary>
/// The <see cref="ReplySink"/>s of one facade: made and dropped per call, and swept once a second
/// by one timer, which fails a sink still open past its deadline (a lost message; the margin over
/// the call timeout makes that the only case). The timer holds the sinks weakly, so a facade that
/// is no longer used does not live on through it.
/// </summary>
internal sealed class ReplySinks
{
    private static readonly TimeSpan SweepEvery = TimeSpan.FromSeconds(1);

    private readonly ConcurrentDictionary<long, ReplySink> _open = new();
    private readonly ActorPath _path;
    private readonly IActorRefProvider _provider;

    /// <summary>The sweep's timer, boxed so that its own callback can dispose it once the sinks are gone.</summary>
    private readonly StrongBox<Timer?> _sweep = new();
    private long _next;

    public ReplySinks(IActorRef anyLocalActor)
    {
        _provider = ((IInternalActorRef)anyLocalActor).Provider;
        _path = new RootActorPath(anyLocalActor.Path.Address) / "temp" / "sark-reply";
        _sweep.Value = new Timer(static state =>
        {
            var (weak, timer) = ((WeakReference<ReplySinks>, StrongBox<Timer?>))state!;
            if (weak.TryGetTarget(out var sinks))
                sinks.Sweep(Stopwatch.GetTimestamp());
            else
                timer.Value?.Dispose();
        }, (new WeakReference<ReplySinks>(this), _sweep), SweepEvery, SweepEvery);
    }

    internal ActorPath Path => _path;

    internal IActorRefProvider Provider => _provider;

    /// <summary>Sinks open now.</summary>
    internal int Count => _open.Count;

    /// <summary>A sink for a call to <paramref name="target"/> that is answered for after <paramref name="wait"/>.</summary>
    public ReplySink Open(IActorRef target, string requestId, string upstream, TimeSpan wait)
    {
        var key = Interlocked.Increment(ref _next);
        var sink = new ReplySink(this, key, target, requestId, upstream, Stopwatch.GetTimestamp() + (long)(wait.TotalSeconds * Stopwatch.Frequency));
        _open[key] = sink;
        return sink;
    }

    public void Close(ReplySink sink) => _open.TryRemove(sink.Key, out _);

    /// <summary>Fails every sink past its deadline (exposed for specs, which cannot wait for the timer).</summary>
    internal int Sweep(long now)
    {
        var failed = 0;
        foreach (var (_, sink) in _open)
        {
            if (now < sink.Deadline)
                continue;
            if (sink.Reply.TrySetException(new AskTimeoutException($"No answer from {sink.Target.Path} to request {sink.RequestId} in time.")))
                failed++;
        }

        return failed;
    }
}
