namespace Sark.Host.FrontDoor;

/// <summary>The two kinds of front-door session.</summary>
internal enum SessionKind
{
    /// <summary>A Streamable HTTP session (<c>Mcp-Session-Id</c>) at <c>/mcp</c>.</summary>
    Streamable,

    /// <summary>A legacy HTTP+SSE session (<c>/sse</c> + <c>/messages</c>).</summary>
    LegacySse,
}

/// <summary>Why a new session was refused.</summary>
internal enum SessionRefusal
{
    None,

    /// <summary><c>max-sessions</c> Streamable HTTP sessions are open on the node.</summary>
    NodeLimit,

    /// <summary><c>legacy-sse.max-sessions</c> legacy sessions are open on the node.</summary>
    LegacyLimit,

    /// <summary>The caller has <c>max-sessions-per-caller</c> sessions open.</summary>
    CallerLimit,
}

/// <summary>
/// Counts the open front-door sessions per kind and per caller and refuses one over a limit
/// (pure and thread-safe). A slot is taken before a session exists, so that concurrent openers
/// cannot pass a limit together, and is given back exactly once.
/// </summary>
internal sealed class SessionLedger(int maxSessions, int maxLegacySessions, int maxSessionsPerCaller)
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, int> _perCaller = new(StringComparer.Ordinal);
    private int _streamable;
    private int _legacy;

    /// <summary>Open (or opening) Streamable HTTP sessions.</summary>
    public int Streamable
    {
        get
        {
            lock (_gate)
                return _streamable;
        }
    }

    /// <summary>Open (or opening) legacy SSE sessions.</summary>
    public int Legacy
    {
        get
        {
            lock (_gate)
                return _legacy;
        }
    }

    /// <summary>Sessions of both kinds that <paramref name="callerId"/> holds.</summary>
    public int CountOf(string callerId)
    {
        lock (_gate)
            return _perCaller.GetValueOrDefault(callerId);
    }

    /// <summary>Takes a slot, or says which limit is full; a slot must be disposed when its session ends.</summary>
    public SessionRefusal TryOpen(string callerId, SessionKind kind, out SessionSlot? slot)
    {
        lock (_gate)
        {
            var refusal = kind switch
            {
                SessionKind.Streamable when _streamable >= maxSessions => SessionRefusal.NodeLimit,
                SessionKind.LegacySse when _legacy >= maxLegacySessions => SessionRefusal.LegacyLimit,
                _ when _perCaller.GetValueOrDefault(callerId) >= maxSessionsPerCaller => SessionRefusal.CallerLimit,
                _ => SessionRefusal.None,
            };
            if (refusal != SessionRefusal.None)
            {
                slot = null;
                return refusal;
            }

            if (kind == SessionKind.Streamable)
                _streamable++;
            else
                _legacy++;
            _perCaller[callerId] = _perCaller.GetValueOrDefault(callerId) + 1;
        }

        slot = new SessionSlot(this, callerId, kind);
        return SessionRefusal.None;
    }

    private void Close(string callerId, SessionKind kind)
    {
        lock (_gate)
        {
            if (kind == SessionKind.Streamable)
                _streamable--;
            else
                _legacy--;
            var left = _perCaller[callerId] - 1;
            if (left == 0)
                _perCaller.Remove(callerId);
            else
                _perCaller[callerId] = left;
        }
    }

    /// <summary>One taken slot; disposing it (any number of times) gives it back once.</summary>
    internal sealed class SessionSlot(SessionLedger ledger, string callerId, SessionKind kind) : IDisposable
    {
        private int _closed;

        public string CallerId => callerId;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _closed, 1) == 0)
                ledger.Close(callerId, kind);
        }
    }
}
