using System.Text.Json.Nodes;
using Akka.Actor;
using Sark.Actors.Audit;

namespace Sark.Actors.Ops.Palettes;

/// <summary>
/// <c>audit tail [-n N] [-f]</c>: the last N audit events, and with <c>-f</c> every event written
/// after them, live, until the client stops or the session's <c>max-timeout</c>. The follower
/// subscribes before it reads the tail, so nothing falls between the two.
/// </summary>
internal sealed class AuditPalette : OpsPalette
{
    public override PaletteDefinition Definition { get; } = new("audit", "The audit log.",
    [
        new CommandDefinition("tail", "The last N audit events; -f follows new ones live.",
        [
            ArgumentDefinition.Option("count", "--count", "how many of the last events (1 to 1000)", alias: "-n", @default: "20") with { Suggestions = ["20", "100"] },
            ArgumentDefinition.Flag("follow", "--follow", "keep following new events", alias: "-f"),
        ]) { FollowFlag = "follow" },
    ]);

    public override Props CommandProps(OpsInvocation invocation) => Props.Create(() => new Command(invocation));

    internal static readonly string[] ColumnNames =
        ["id", "timestamp", "type", "request_id", "subject", "server", "tool", "decision", "outcome", "duration_ms", "reason"];

    internal static JsonObject RowOf(AuditEvent e) => new()
    {
        ["id"] = e.Id,
        ["timestamp"] = e.Timestamp.ToString("O"),
        ["type"] = e.EventType,
        ["request_id"] = e.RequestId,
        ["subject"] = e.SubjectId,
        ["server"] = e.ServerName,
        ["tool"] = e.ToolName,
        ["decision"] = e.Decision,
        ["outcome"] = e.Outcome,
        ["duration_ms"] = e.DurationMs is { } d ? Math.Round(d, 1) : null,
        ["reason"] = e.Reason,
    };

    /// <summary>
    /// The last <paramref name="count"/> events. The stores read ascending by id, so the newest id
    /// is found first by a bounded search on <c>after_id</c> (about 2·log2(id) one-row queries).
    /// </summary>
    internal static async Task<IReadOnlyList<AuditEvent>> LastAsync(AuditLog log, int count, CancellationToken ct)
    {
        async Task<bool> AnyAfter(long id) => (await log.QueryAsync(new AuditQuery { AfterId = id, Limit = 1 }, ct).ConfigureAwait(false)).Count > 0;

        if (!await AnyAfter(0).ConfigureAwait(false))
            return [];
        long low = 0, high = 1;
        for (var i = 0; i < 62 && await AnyAfter(high).ConfigureAwait(false); i++)
        {
            low = high;
            high *= 2;
        }

        // Events exist after low and none after high: the newest id is in (low, high].
        while (high - low > 1)
        {
            var mid = low + ((high - low) / 2);
            if (await AnyAfter(mid).ConfigureAwait(false))
                low = mid;
            else
                high = mid;
        }

        return await log.QueryAsync(new AuditQuery { AfterId = Math.Max(0, high - count), Limit = count }, ct).ConfigureAwait(false);
    }

    private sealed class Command(OpsInvocation invocation) : OpsCommandActor(invocation)
    {
        private readonly CancellationTokenSource _stop = new();
        private AuditSubscription? _subscription;
        private long _lastId;

        private sealed record Tail(IReadOnlyList<AuditEvent> Events);

        protected override void PreStart()
        {
            if (Services.Audit is not { } log)
            {
                Fail("not_found", "Audit is off on this node (sark.audit.enabled = false).");
                return;
            }

            var count = Command.GetInt("count", 20);
            if (count is < 1 or > AuditQuery.MaxLimit)
            {
                Fail("invalid_request", $"-n must be from 1 to {AuditQuery.MaxLimit}, not '{Command.Get("count")}'.");
                return;
            }

            if (Command.Has("follow"))
                _subscription = log.Subscribe();
            LastAsync(log, count, _stop.Token).PipeTo(Self, success: events => new Tail(events));
        }

        protected override void PostStop()
        {
            _stop.Cancel();
            _subscription?.Dispose();
            _stop.Dispose();
        }

        protected override void OnReceive(object message)
        {
            switch (message)
            {
                case Tail tail:
                    Columns(ColumnNames);
                    foreach (var e in tail.Events)
                        Emit(e);
                    if (_subscription is null)
                    {
                        Done($"{tail.Events.Count} events");
                        return;
                    }

                    Follow(_subscription, Self, _stop.Token);
                    break;
                case AuditEvent e:
                    Emit(e);
                    break;
                case Status.Failure failure:
                    Fail("upstream_error", $"The audit store could not be read: {failure.Cause.Message}");
                    break;
                default:
                    Unhandled(message);
                    break;
            }
        }

        private void Emit(AuditEvent e)
        {
            if (e.Id != 0 && e.Id <= _lastId)
                return;
            _lastId = Math.Max(_lastId, e.Id);
            Row(RowOf(e));
        }

        /// <summary>Reads the live subscription on a detached task and tells each event to this actor; ends with the actor.</summary>
        private static void Follow(AuditSubscription subscription, IActorRef self, CancellationToken ct) =>
            _ = Task.Run(async () =>
            {
                try
                {
                    await foreach (var e in subscription.Reader.ReadAllAsync(ct).ConfigureAwait(false))
                        self.Tell(e);
                }
                catch (OperationCanceledException)
                {
                    // The command ended.
                }
            }, ct);
    }
}

/// <summary><c>log peek [-n N]</c>: the node's most recent log lines, from the in-memory ring (secrets redacted).</summary>
internal sealed class LogPalette : OpsPalette
{
    public override PaletteDefinition Definition { get; } = new("log", "The node's recent log lines (kept in memory).",
    [
        new CommandDefinition("peek", "The last N log lines, oldest first.",
            [ArgumentDefinition.Option("count", "--count", "how many lines", alias: "-n", @default: "50") with { Suggestions = ["50", "200"] }]),
    ]);

    public override Props CommandProps(OpsInvocation invocation) => Props.Create(() => new Command(invocation));

    private sealed class Command(OpsInvocation invocation) : OpsCommandActor(invocation)
    {
        protected override void PreStart()
        {
            if (Services.Logs is not { } logs)
            {
                Fail("not_found", "No log ring is registered: the application must call services.AddSarkOpsLogs() (the node does).");
                return;
            }

            var count = Command.GetInt("count", 50);
            if (count < 1)
            {
                Fail("invalid_request", $"-n must be a positive number, not '{Command.Get("count")}'.");
                return;
            }

            Columns("timestamp", "level", "category", "message");
            foreach (var line in logs.Last(count))
            {
                Row(new JsonObject
                {
                    ["timestamp"] = line.Timestamp.ToString("O"),
                    ["level"] = line.Level,
                    ["category"] = line.Category,
                    ["message"] = line.Message,
                });
            }

            Done($"ring of {logs.Capacity} lines, {logs.Written} written since start");
        }

        protected override void OnReceive(object message) => Unhandled(message);
    }
}
