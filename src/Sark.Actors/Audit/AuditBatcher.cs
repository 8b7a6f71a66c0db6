namespace Sark.Actors.Audit;

/// <summary>What the <see cref="AuditWriter"/> does next (<see cref="AuditBatcher.Next"/>).</summary>
internal enum AuditStep
{
    /// <summary>Nothing to do now: wait for events, the interval, the write or the retry.</summary>
    Wait,

    /// <summary>A batch has started: arm the interval timer, then wait.</summary>
    ArmTimer,

    /// <summary>Write <see cref="AuditBatcher.Batch"/> now.</summary>
    Write,

    /// <summary>Closed and everything written: the flush is complete.</summary>
    Drained,
}

/// <summary>
/// The writer's decisions, without an actor: the batch being built (or written, or waiting to be
/// retried), when to write it, and the retry delay. A batch is written when it is full, when its
/// interval has passed, when the source is closed (flush), or when its retry is due. While a batch
/// is written or waits for its retry, it takes no new events: they wait in the queue, which is
/// what gives back-pressure. A failed batch is kept as it is.
/// </summary>
internal sealed class AuditBatcher(int maxSize, TimeSpan retryMin, TimeSpan retryMax)
{
    private readonly List<AuditEvent> _batch = new(Math.Min(maxSize, 4096));
    private bool _timerArmed;
    private bool _due;

    public IReadOnlyList<AuditEvent> Batch => _batch;

    public int Count => _batch.Count;

    public bool Writing { get; private set; }

    public bool BackingOff { get; private set; }

    /// <summary>Consecutive failed writes of the current batch.</summary>
    public int Failures { get; private set; }

    /// <summary>True when the batch can take another event now.</summary>
    public bool HasRoom => !Writing && !BackingOff && _batch.Count < maxSize;

    public void Add(AuditEvent e)
    {
        if (!HasRoom)
            throw new InvalidOperationException("The batch takes no events while it is full, written or waiting for a retry.");
        _batch.Add(e);
    }

    /// <summary>The interval timer fired.</summary>
    public void IntervalElapsed()
    {
        _timerArmed = false;
        if (_batch.Count > 0)
            _due = true;
    }

    /// <summary>The next step; <see cref="AuditStep.Write"/> marks the batch as being written.</summary>
    public AuditStep Next(bool sourceClosed)
    {
        if (Writing || BackingOff)
            return AuditStep.Wait;
        if (_batch.Count == 0)
            return sourceClosed ? AuditStep.Drained : AuditStep.Wait;
        if (_batch.Count >= maxSize || _due || sourceClosed)
        {
            Writing = true;
            _timerArmed = false; // the writer cancels the interval timer when it writes
            return AuditStep.Write;
        }

        if (_timerArmed)
            return AuditStep.Wait;
        _timerArmed = true;
        return AuditStep.ArmTimer;
    }

    /// <summary>The batch is stored: start a new one.</summary>
    public void Written()
    {
        _batch.Clear();
        Writing = false;
        Failures = 0;
        _due = false;
    }

    /// <summary>The write failed: keep the batch; returns how long to wait before the retry.</summary>
    public TimeSpan Failed()
    {
        Writing = false;
        BackingOff = true;
        Failures++;
        return RetryDelay(Failures);
    }

    /// <summary>The retry's time has come: the kept batch is due.</summary>
    public void RetryDue()
    {
        BackingOff = false;
        _due = true;
    }

    /// <summary><c>retryMin · 2^(failures−1)</c>, at most <c>retryMax</c>.</summary>
    public TimeSpan RetryDelay(int failures)
    {
        var exponent = Math.Clamp(failures - 1, 0, 30);
        var ticks = retryMin.Ticks * Math.Pow(2, exponent);
        return ticks >= retryMax.Ticks ? retryMax : TimeSpan.FromTicks((long)ticks);
    }
}
