using Sark.Actors.Audit;

namespace Sark.Actors.Tests.Audit;

/// <summary>An audit store in memory that can be told to fail, or to hold writes until released.</summary>
internal sealed class InMemoryAuditStore : IAuditStore
{
    private readonly object _gate = new();
    private readonly List<AuditEvent> _rows = [];
    private readonly List<int> _batchSizes = [];
    private long _nextId;
    private int _failNext;
    private bool _failAlways;
    private TaskCompletionSource? _hold;

    public int Attempts { get; private set; }

    public int Initializations { get; private set; }

    public IReadOnlyList<AuditEvent> Rows
    {
        get
        {
            lock (_gate)
                return [.. _rows];
        }
    }

    public IReadOnlyList<int> BatchSizes
    {
        get
        {
            lock (_gate)
                return [.. _batchSizes];
        }
    }

    public void FailNext(int times)
    {
        lock (_gate)
            _failNext = times;
    }

    public void FailAlways(bool fail)
    {
        lock (_gate)
            _failAlways = fail;
    }

    /// <summary>Writes wait until <see cref="Release"/>.</summary>
    public void Hold()
    {
        lock (_gate)
            _hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    public void Release()
    {
        TaskCompletionSource? hold;
        lock (_gate)
        {
            hold = _hold;
            _hold = null;
        }

        hold?.TrySetResult();
    }

    public Task InitializeAsync(CancellationToken ct)
    {
        lock (_gate)
            Initializations++;
        return Task.CompletedTask;
    }

    public async Task<IReadOnlyList<AuditEvent>> WriteBatchAsync(IReadOnlyList<AuditEvent> events, CancellationToken ct)
    {
        Task? hold;
        lock (_gate)
        {
            Attempts++;
            hold = _hold?.Task;
        }

        if (hold is not null)
            await hold.WaitAsync(ct).ConfigureAwait(false);
        lock (_gate)
        {
            if (_failAlways || _failNext > 0)
            {
                if (_failNext > 0)
                    _failNext--;
                throw new InvalidOperationException("The in-memory store was told to fail.");
            }

            var written = new AuditEvent[events.Count];
            for (var i = 0; i < events.Count; i++)
                written[i] = events[i] with { Id = ++_nextId };
            _rows.AddRange(written);
            _batchSizes.Add(events.Count);
            return written;
        }
    }

    public Task<IReadOnlyList<AuditEvent>> QueryAsync(AuditQuery query, CancellationToken ct)
    {
        lock (_gate)
        {
            IReadOnlyList<AuditEvent> result = [.. _rows
                .Where(e => (query.Since is null || e.Timestamp >= query.Since)
                    && (query.AfterId is null || e.Id > query.AfterId)
                    && (query.Subject is null || e.SubjectId == query.Subject)
                    && (query.Server is null || e.ServerName == query.Server)
                    && (query.Decision is null || e.Decision == query.Decision))
                .Take(query.Limit)];
            return Task.FromResult(result);
        }
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
