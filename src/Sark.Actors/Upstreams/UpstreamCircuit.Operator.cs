using Akka.Actor;
using Akka.Event;
using Sark.Actors.Catalog;
using Sark.Actors.Errors;
using static Sark.Actors.Upstreams.UpstreamCommands;
using static Sark.Actors.Upstreams.UpstreamReplies;

namespace Sark.Actors.Upstreams;

/// <summary>
/// An operator's stop, start and restart (the ops console). Stop detaches the connection and
/// stops the BackoffSupervisor (and with it the connection and its process); the upstream stays
/// down, refusing calls, until a start makes a fresh supervisor. Restart is a stop followed by a
/// start as soon as the old supervisor is gone: a new process at once, not after a backoff.
/// </summary>
internal sealed partial class UpstreamCircuit
{
    private Operation? _operation;
    private bool _operatorStopped;

    private sealed record Operation(OperatorAction Action, IActorRef ReplyTo, int? PreviousProcessId);

    private bool StoppedByOperator => _operatorStopped || _operation is { Action: OperatorAction.Stop };

    private void OnOperate(Operate operate)
    {
        if (_operation is not null)
        {
            Sender.Tell(new OperatorFailed(_options.Name, new SarkError(SarkErrorCode.InvalidRequest,
                $"Upstream '{_options.Name}' is already being {(_operation.Action == OperatorAction.Stop ? "stopped" : "restarted")}; try again when that is done.")));
            return;
        }

        var now = Context.System.Scheduler.Now;
        switch (operate.Action)
        {
            case OperatorAction.Stop when _operatorStopped:
                Sender.Tell(new OperatorDone(_options.Name, operate.Action, null, now, $"Upstream '{_options.Name}' is already stopped."));
                break;
            case OperatorAction.Start when !_operatorStopped:
                Sender.Tell(new OperatorDone(_options.Name, operate.Action, _state.ProcessId, now, $"Upstream '{_options.Name}' is already running."));
                break;
            case OperatorAction.Start or OperatorAction.Restart when _operatorStopped:
                Restart(operate.Action, Sender, null);
                break;
            default:
                _operation = new Operation(operate.Action, Sender, _state.ProcessId);
                _log.Info("Upstream {Upstream}: {Action} by an operator", _options.Name, operate.Action);
                if (_connection is not null)
                {
                    Context.Unwatch(_connection);
                    _connection = null;
                    _board?.PostConnection(_options.Name, null);
                }

                Timers.Cancel(StableTimer);
                if (operate.Action == OperatorAction.Stop)
                    FailEarly();
                Context.Stop(_backoff);
                break;
        }
    }

    /// <summary>The old supervisor (and its connection) is gone.</summary>
    private void OnOperatorStopped()
    {
        var operation = _operation!;
        _operation = null;
        if (operation.Action == OperatorAction.Stop)
        {
            _operatorStopped = true;
            Apply(_state.OperatorStopped());
            _catalog.Tell(new CatalogCommands.SetHealth(_options.Name, "unhealthy"));
            operation.ReplyTo.Tell(new OperatorDone(_options.Name, operation.Action, operation.PreviousProcessId, Context.System.Scheduler.Now,
                $"Upstream '{_options.Name}' stopped."));
            return;
        }

        Restart(operation.Action, operation.ReplyTo, operation.PreviousProcessId);
    }

    private void Restart(OperatorAction action, IActorRef replyTo, int? previousProcessId)
    {
        _operatorStopped = false;
        var at = Context.System.Scheduler.Now;
        StartBackoff();
        Apply(_state.OperatorStarted());
        _log.Info("Upstream {Upstream}: started again by an operator", _options.Name);
        replyTo.Tell(new OperatorDone(_options.Name, action, previousProcessId, at,
            $"Upstream '{_options.Name}' {(action == OperatorAction.Start ? "started" : "restarted")}."));
    }

    private void FailEarly()
    {
        foreach (var (call, replyTo) in _early)
        {
            replyTo.Tell(new ToolCallFailed(call.RequestId, new SarkError(SarkErrorCode.UpstreamUnavailable,
                $"Upstream '{_options.Name}' was stopped by an operator before the call was sent.") { NotSent = true }));
        }

        _early.Clear();
    }
}
