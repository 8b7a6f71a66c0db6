using Akka.Actor;
using Akka.Event;
using ModelContextProtocol.Client;

namespace Sark.Actors.Upstreams.McpHttp;

/// <summary>The session of <see cref="McpHttpServer"/>: connecting, listing tools (again on list_changed), and recovering an expired session.</summary>
internal sealed partial class McpHttpServer
{
    private void Connect()
    {
        var generation = ++_generation;
        var self = Self;
        Become(Connecting);
        Timers.StartSingleTimer(InitTimer, InitTimedOut.Instance, _options.InitTimeout);
        OpenAndListAsync(self, generation, _stopping.Token).PipeTo(self,
            success: connected => connected,
            failure: ex => new ConnectFailed(generation, McpHttpFailure.Classify(ex)));
    }

    private async Task<Connected> OpenAndListAsync(IActorRef self, int generation, CancellationToken cancellationToken)
    {
        var session = await McpHttpSession.OpenAsync(_options, () => self.Tell(ToolsListChanged.Instance), _options.RelayClientRequests ? _clients : null, cancellationToken).ConfigureAwait(false);
        try
        {
            var tools = await session.ListToolsAsync(_options.Name, _options.MaxListPages, cancellationToken).ConfigureAwait(false);
            // Stopped meanwhile: end the session here, since nobody will receive it.
            cancellationToken.ThrowIfCancellationRequested();
            return new Connected(generation, session, tools);
        }
        catch
        {
            await session.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private void OnConnected(Connected connected)
    {
        Timers.Cancel(InitTimer);
        _session = connected.Session;
        _server = connected.Session.Server;
        _tools = connected.Tools;
        var generation = connected.Generation;
        connected.Session.Client.Completion.PipeTo(Self, success: details => new Closed(generation, new ClientTransportClosedException(details)));
        if (generation == 1)
        {
            _owner.Tell(ConnectionEvents.Ready.Single(Self, _server with { ToolsCount = _tools.Length }, _tools));
            _log.Info("Upstream {Upstream} ready: {Url}, {Tools} tools, protocol {Protocol}", _options.Name, _options.Url, _tools.Length, _server.ProtocolVersion);
        }
        else
        {
            _owner.Tell(new ConnectionEvents.ToolsChanged(_options.Name, _tools));
            _log.Info("Upstream {Upstream}: session re-initialized after the server expired it; {Tools} tools", _options.Name, _tools.Length);
        }

        Become(Ready);
        SendQueued();
        if (_listAgain)
        {
            // list_changed arrived while connecting, after the listing was read.
            _listAgain = false;
            ListAgain();
        }
    }

    private void ListAgain()
    {
        if (_listing)
        {
            _listAgain = true;
            return;
        }

        _listing = true;
        var generation = _generation;
        // A re-listing has the init timeout too, so a server that stops answering it is noticed.
        var deadline = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
        deadline.CancelAfter(_options.InitTimeout);
        _session!.ListToolsAsync(_options.Name, _options.MaxListPages, deadline.Token).PipeTo(Self,
            success: tools => new Listed(generation, tools, null, deadline),
            failure: ex => new Listed(generation, [], ex, deadline));
    }

    private void OnListed(Listed listed)
    {
        _listing = false;
        var timedOut = listed.Deadline.IsCancellationRequested && !_stopping.IsCancellationRequested;
        listed.Deadline.Dispose();
        if (listed.Failure is { } ex)
        {
            var failure = McpHttpFailure.Classify(ex, timedOut, cancelled: timedOut);
            _log.Warning("Upstream {Upstream}: tools/list after list_changed failed: {Reason}", _options.Name, failure.Reason);
            OnFailure(failure, "tools/list");
            return;
        }

        _tools = listed.Tools;
        _owner.Tell(new ConnectionEvents.ToolsChanged(_options.Name, _tools));
        if (_listAgain)
        {
            _listAgain = false;
            ListAgain();
        }
    }

    /// <summary>
    /// A failure of the session (not of one call): an expired session is re-initialized once; a
    /// fatal one fails the connection; the rest count toward the breaker.
    /// </summary>
    private void OnFailure(McpHttpFailure failure, string what)
    {
        if (failure.Kind == McpHttpFailureKind.SessionExpired)
            RecoverSession();
        else if (failure.IsFatal)
            Fault(failure.Reason);
        else if (failure.CountsTowardBreaker)
            CountFailure($"{what}: {failure.Reason}");
    }

    private void RecoverSession()
    {
        if (_session is null)
            return; // already re-initializing
        if (_recovered)
        {
            Fault("the server expired the session again right after it was re-initialized");
            return;
        }

        _recovered = true;
        _log.Info("Upstream {Upstream}: the server expired the session (HTTP 404); initializing a new one", _options.Name);
        EndSession();
        _listing = false;
        _listAgain = false;
        Connect();
    }

    private void EndSession()
    {
        var session = _session;
        _session = null;
        if (session is not null)
            _ = session.DisposeAsync().AsTask();
    }
}
