using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Text;
using Akka.Actor;

namespace Sark.Actors.Policy;

/// <summary>
/// The decision cache key: subject id, sorted roles, sorted teams, action, server and its
/// sensitivity, tool and its sensitivity, and the canonical hash of the arguments
/// (<see cref="CanonicalJson.Hash"/>). Every part is length-prefixed, so no two inputs share a
/// key by accident. The request context (id, time, source) is left out on purpose.
/// </summary>
public static class DecisionKey
{
    [ThreadStatic]
    private static StringBuilder? t_builder;

    /// <summary>The key of <paramref name="input"/>, hashing its parameters (only <c>tool:invoke</c> has any).</summary>
    public static string For(PolicyInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return For(input, ArgumentsHash(input));
    }

    /// <summary>The key of <paramref name="input"/> with an arguments hash computed already (the facade computes it once, for audit too).</summary>
    public static string For(PolicyInput input, string argumentsHash)
    {
        ArgumentNullException.ThrowIfNull(input);
        var sb = t_builder ??= new StringBuilder(256);
        sb.Clear();
        Append(sb, input.Subject.Id);
        AppendSorted(sb, input.Subject.Roles);
        AppendSorted(sb, input.Subject.Teams);
        Append(sb, input.Action);
        Append(sb, input.Server.Name);
        Append(sb, input.Server.Sensitivity);
        Append(sb, input.Tool?.Name);
        Append(sb, input.Tool?.Sensitivity);
        sb.Append(argumentsHash);
        var key = sb.ToString();
        if (sb.Capacity > 4096)
            t_builder = null;
        return key;
    }

    /// <summary>
    /// Stands for the arguments hash in the key of a decision that does not depend on arguments
    /// (<see cref="DecisionCache.KeysArguments"/> is false); no hash is ever this.
    /// </summary>
    public const string ArgumentsIgnored = "*";

    /// <summary>The hash a decision is keyed on: the parameters of a <c>tool:invoke</c>, none for listings.</summary>
    public static string ArgumentsHash(PolicyInput input) =>
        input.Action == PolicyActions.ToolInvoke ? CanonicalJson.Hash(input.Parameters) : CanonicalJson.AbsentHash;

    private static void Append(StringBuilder sb, string? value)
    {
        if (value is null)
        {
            sb.Append("-|");
            return;
        }

        sb.Append(value.Length).Append(':').Append(value).Append('|');
    }

    private static void AppendSorted(StringBuilder sb, ImmutableArray<string> values)
    {
        if (values.IsDefaultOrEmpty)
        {
            sb.Append("0[]");
            return;
        }

        var sorted = true;
        for (var i = 1; i < values.Length && sorted; i++)
            sorted = string.CompareOrdinal(values[i - 1], values[i]) <= 0;
        sb.Append(values.Length).Append('[');
        if (sorted)
        {
            foreach (var value in values)
                Append(sb, value);
        }
        else
        {
            var copy = values.ToArray();
            Array.Sort(copy, StringComparer.Ordinal);
            foreach (var value in copy)
                Append(sb, value);
        }

        sb.Append(']');
    }
}

/// <summary>
/// Decisions reused for their <see cref="PolicyDecision.CacheTtl"/>, shared by the
/// <see cref="PolicyDecisionPoint"/> (which writes) and the <see cref="PolicyGate"/> (which
/// reads without a message, as the facade reads the circuit board). Reads are lock-free.
/// </summary>
/// <remarks>
/// A decision with a zero TTL is never stored, so a deny is cached only when its rule or OPA
/// document gives a TTL. Entries expire by the injected clock (the actor system's scheduler,
/// which tests drive with virtual time). The size is bounded: past <see cref="MaxEntries"/> the
/// expired entries go first, then those closest to expiry, down to 90 % of the bound.
/// <see cref="Clear"/> (on a policy reload) drops everything and moves to a new generation,
/// so a decision made under the old policy and stored late is dropped too.
/// </remarks>
public sealed class DecisionCache
{
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly ITimeProvider _clock;
    private readonly Lock _evicting = new();
    private int _count;
    private long _generation;
    private bool _keysArguments = true;

    public DecisionCache(ITimeProvider clock, int maxEntries = 10_000)
    {
        ArgumentNullException.ThrowIfNull(clock);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxEntries, 1);
        _clock = clock;
        MaxEntries = maxEntries;
    }

    public int MaxEntries { get; }

    /// <summary>Entries held now, expired ones not yet swept included.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>
    /// Whether decisions depend on a call's arguments under the policy in force, so that keys
    /// carry the arguments hash (<see cref="DecisionKey.For(PolicyInput, string)"/>); when false
    /// they carry <see cref="DecisionKey.ArgumentsIgnored"/> and one decision serves every call
    /// of a caller to a tool. Set by the <see cref="PolicyDecisionPoint"/> when it loads a policy;
    /// true until then (the safe side). OPA may read anything, so it is always true for OPA.
    /// </summary>
    public bool KeysArguments
    {
        get => Volatile.Read(ref _keysArguments);
        internal set => Volatile.Write(ref _keysArguments, value);
    }

    /// <summary>
    /// Whether <paramref name="key"/> may be stored under the policy in force: a key made
    /// without arguments while decisions depend on them (a gate that read the setting just
    /// before a reload) is not, or it would serve calls whose arguments the policy reads.
    /// </summary>
    public bool Admits(string key) => !KeysArguments || !key.EndsWith(DecisionKey.ArgumentsIgnored, StringComparison.Ordinal);

    /// <summary>Moves on every <see cref="Clear"/>; a decision is stored only under the generation it was made in.</summary>
    public long Generation => Interlocked.Read(ref _generation);

    /// <summary>A live decision for <paramref name="key"/>, and the engine that made it.</summary>
    public bool TryGet(string key, out PolicyDecision decision, out string engine)
    {
        if (_entries.TryGetValue(key, out var entry))
        {
            if (_clock.Now.UtcTicks < entry.ExpiresAt)
            {
                decision = entry.Decision;
                engine = entry.Engine;
                return true;
            }

            if (_entries.TryRemove(new KeyValuePair<string, Entry>(key, entry)))
                Interlocked.Decrement(ref _count);
        }

        decision = null!;
        engine = "";
        return false;
    }

    public bool TryGet(string key, out PolicyDecision decision) => TryGet(key, out decision, out _);

    /// <summary>
    /// Stores <paramref name="decision"/> for its TTL when the TTL is positive and the cache is
    /// still at <paramref name="generation"/>. Returns whether it was stored.
    /// </summary>
    public bool Set(string key, PolicyDecision decision, long generation, string engine)
    {
        ArgumentNullException.ThrowIfNull(decision);
        if (decision.CacheTtl <= TimeSpan.Zero || generation != Generation || !Admits(key))
            return false;
        var entry = new Entry(decision, _clock.Now.UtcTicks + decision.CacheTtl.Ticks, engine);
        if (_entries.TryAdd(key, entry))
        {
            if (Interlocked.Increment(ref _count) > MaxEntries)
                Evict();
        }
        else
        {
            _entries[key] = entry;
        }

        if (generation != Generation)
        {
            // A Clear ran while this was stored: the decision belongs to the old policy.
            if (_entries.TryRemove(new KeyValuePair<string, Entry>(key, entry)))
                Interlocked.Decrement(ref _count);
            return false;
        }

        return true;
    }

    /// <summary>Drops every decision (a policy reload) and starts a new generation.</summary>
    public void Clear()
    {
        Interlocked.Increment(ref _generation);
        lock (_evicting)
        {
            _entries.Clear();
            Volatile.Write(ref _count, _entries.Count);
        }
    }

    private void Evict()
    {
        // Blocking, but only past the bound: every writer that overflowed gets its turn, so the
        // bound holds once the writers are done.
        lock (_evicting)
        {
            if (Volatile.Read(ref _count) <= MaxEntries)
                return;
            var now = _clock.Now.UtcTicks;
            var snapshot = _entries.ToArray();
            var live = new List<KeyValuePair<string, Entry>>(snapshot.Length);
            foreach (var pair in snapshot)
            {
                if (pair.Value.ExpiresAt <= now)
                    Remove(pair);
                else
                    live.Add(pair);
            }

            var target = MaxEntries - (MaxEntries / 10);
            if (live.Count > target)
            {
                // The expiry of the (live.Count - target)-th entry closest to expiry (a sort of
                // plain longs, not of the pairs); every entry before it goes, then as many of
                // those that expire at that very tick as are still over.
                var expiries = new long[live.Count];
                for (var i = 0; i < expiries.Length; i++)
                    expiries[i] = live[i].Value.ExpiresAt;
                Array.Sort(expiries);
                var excess = live.Count - target;
                var threshold = expiries[excess - 1];
                foreach (var pair in live)
                {
                    if (pair.Value.ExpiresAt < threshold)
                    {
                        Remove(pair);
                        excess--;
                    }
                }

                foreach (var pair in live)
                {
                    if (excess <= 0)
                        break;
                    if (pair.Value.ExpiresAt == threshold)
                    {
                        Remove(pair);
                        excess--;
                    }
                }
            }
        }
    }

    private void Remove(KeyValuePair<string, Entry> pair)
    {
        if (_entries.TryRemove(pair))
            Interlocked.Decrement(ref _count);
    }

    private sealed record Entry(PolicyDecision Decision, long ExpiresAt, string Engine);
}
