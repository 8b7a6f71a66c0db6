using System.Diagnostics;
using System.Text.Json;
using Akka.Actor;
using Sark.Actors.Audit;
using Sark.Actors.Configuration;
using Sark.Actors.Errors;
using Sark.Actors.Policy;
using static Sark.Actors.Upstreams.UpstreamCommands;
using static Sark.Actors.Upstreams.UpstreamReplies;

namespace Sark.Actors;

/// <summary>The facade's MCP requests other than <c>tools/call</c>: resources and prompts.</summary>
internal sealed partial class SarkGateway
{
    public async Task<JsonElement> SendRequestAsync(
        string server, string method, JsonElement? parameters = null, InvokeOptions? options = null, CancellationToken cancellationToken = default)
    {
        var requestId = options?.RequestId ?? NewRequestId();
        RequireName(server, nameof(server), requestId);
        var action = McpRequests.ActionOf(method)
            ?? throw new SarkInvalidRequestException($"'{method}' is not a request the gateway forwards; use one of {string.Join(", ", McpRequests.Methods)}.", requestId);
        if (parameters is { ValueKind: not (JsonValueKind.Object or JsonValueKind.Null or JsonValueKind.Undefined) } p)
            throw new SarkInvalidRequestException($"The params of {method} must be a JSON object, not {p.ValueKind}.", requestId);
        var item = McpRequests.ItemOf(method, parameters);
        if (action != PolicyActions.ServerList && item is null)
            throw new SarkInvalidRequestException($"{method} needs {(action == PolicyActions.ResourceRead ? "a 'uri'" : "a 'name'")} (a string).", requestId);
        var found = await FindServerAsync(server, cancellationToken).ConfigureAwait(false);
        var caller = options?.Caller ?? Caller.Local;
        var audited = action != PolicyActions.ServerList ? $"{action} {item}" : null;
        var start = Stopwatch.GetTimestamp();
        var outcome = "error";
        string? usedUpstream = null;
        string? reason = null;
        try
        {
            if (await GateAsync(cancellationToken).ConfigureAwait(false) is { } gate)
            {
                var input = action == PolicyActions.ServerList
                    ? PolicyInput.ForServerList(caller, found, requestId, _clock.Now, PolicySource)
                    : PolicyInput.ForServerItem(caller, action, found, item!, requestId, _clock.Now, PolicySource);
                var decision = await gate.DecideAsync(input, NoArguments, cancellationToken).ConfigureAwait(false);
                if (audited is not null && _audit is not null)
                    await _audit.RecordAsync(AuditEvent.ForDecision(requestId, caller.Id, server, audited, decision.Allow, decision.Reason)).ConfigureAwait(false);
                if (!decision.Allow && action == PolicyActions.ServerList)
                    throw UnknownServer(server);
                if (!decision.Allow)
                {
                    outcome = SarkErrorCode.PolicyDenied.ToWire();
                    reason = decision.Reason;
                    throw new PolicyDeniedException(decision, requestId);
                }
            }

            var (upstream, timeout) = RequestRoute(server, method, options, requestId);
            usedUpstream = upstream;
            var upstreams = (await ChildrenAsync(cancellationToken).ConfigureAwait(false)).Upstreams;
            var reply = await ForwardAsync(upstreams, new ForwardRequest(requestId, upstream, method, parameters, timeout), server, cancellationToken).ConfigureAwait(false);
            switch (reply)
            {
                case RequestCompleted completed:
                    outcome = "ok";
                    return completed.Result;
                case ToolCallFailed failed:
                    outcome = failed.Error.Code.ToWire();
                    reason = failed.Error.Message;
                    throw failed.Error.ToException(requestId);
                default:
                    throw new InvalidOperationException($"Unexpected reply {reply.GetType().Name} to {method}.");
            }
        }
        catch (SarkException ex) when (outcome == "error")
        {
            outcome = ex.Code.ToWire();
            throw;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            outcome = "cancelled";
            throw;
        }
        finally
        {
            if (audited is not null && _audit is not null)
            {
                _ = _audit.RecordAsync(AuditEvent.ForOutcome(requestId, caller.Id, server, audited, outcome,
                    Math.Round(Stopwatch.GetElapsedTime(start).TotalMilliseconds, 3), usedUpstream, reason: reason));
            }
        }
    }

    /// <summary>The first mcp-* route the mode admits whose circuit is not open; gateway routes serve tools only.</summary>
    private (string Upstream, TimeSpan Timeout) RequestRoute(string server, string method, InvokeOptions? options, string requestId)
    {
        if (!_view.TryResolve(server, out var routes))
            throw new SarkNotFoundException($"Server '{server}' is not known to this node. List the servers to see which are.", requestId);
        var mode = options?.Route ?? _options.RouteMode;
        SarkError? refusal = null;
        foreach (var route in routes)
        {
            if (route.Kind == UpstreamKind.Gateway || !mode.Admits(route.Kind) || !_options.Upstreams.TryGetValue(route.Upstream, out var upstream))
                continue;
            if (_board.TryGetOpen(route.Upstream, out var open))
            {
                refusal = Earliest(refusal, BoardRefusal(route.Upstream, open));
                continue;
            }

            return (route.Upstream, options?.Timeout ?? upstream.CallTimeout);
        }

        throw refusal?.ToException(requestId) ?? new SarkInvalidRequestException(
            $"Server '{server}' is reached only through gateway upstreams (or none that routing mode {mode.ToConfigName()} allows); they serve tools, not {method}.", requestId);
    }

    /// <summary>One forwarded request, cancelled upstream when the caller gives up or the Ask times out.</summary>
    private Task<object> ForwardAsync(IActorRef upstreams, ForwardRequest request, string server, CancellationToken cancellationToken) =>
        AskUpstreamAsync(upstreams, request, request.RequestId, request.Upstream, request.Timeout,
            $"Upstream '{server}' did not answer {request.Method} within {request.Timeout.TotalSeconds:0.###}s.", cancellationToken);
}

/// <summary>The MCP requests the facade forwards besides <c>tools/call</c>, and the policy action of each. Pure.</summary>
internal static class McpRequests
{
    public static readonly string[] Methods = ["resources/list", "resources/templates/list", "resources/read", "prompts/list", "prompts/get"];

    /// <summary>The action the policy decides for <paramref name="method"/>: listings need the server to be visible (<c>server:list</c>); null when not forwarded.</summary>
    public static string? ActionOf(string? method) => method switch
    {
        "resources/list" or "resources/templates/list" or "prompts/list" => PolicyActions.ServerList,
        "resources/read" => PolicyActions.ResourceRead,
        "prompts/get" => PolicyActions.PromptGet,
        _ => null,
    };

    /// <summary>What a read or get names: the resource's <c>uri</c> or the prompt's <c>name</c>; null for listings or when absent.</summary>
    public static string? ItemOf(string method, JsonElement? parameters)
    {
        var key = method switch
        {
            "resources/read" => "uri",
            "prompts/get" => "name",
            _ => null,
        };
        return key is not null && parameters is { ValueKind: JsonValueKind.Object } p && p.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.String
            ? v.GetString()
            : null;
    }
}
