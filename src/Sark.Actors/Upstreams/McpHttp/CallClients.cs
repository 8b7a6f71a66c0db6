using System.Text.Json;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;

namespace Sark.Actors.Upstreams.McpHttp;

/// <summary>
/// The callers' clients of the calls in flight on one mcp-http connection (relay-client-requests),
/// shared between the actor (which adds and removes them) and the SDK client's sampling,
/// elicitation and log handlers (which run on the SDK's threads and read them). A server request
/// goes to the client of the only call in flight that has one; otherwise it is refused with
/// method-not-found, since it cannot be attributed.
/// </summary>
internal sealed class CallClients
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, IUpstreamClient> _byRequest = new(StringComparer.Ordinal);

    public void Add(string requestId, IUpstreamClient client)
    {
        lock (_lock)
            _byRequest[requestId] = client;
    }

    public void Remove(string requestId)
    {
        lock (_lock)
            _byRequest.Remove(requestId);
    }

    public void Clear()
    {
        lock (_lock)
            _byRequest.Clear();
    }

    /// <summary>The only client, or null.</summary>
    public IUpstreamClient? Sole()
    {
        lock (_lock)
        {
            if (_byRequest.Count != 1)
                return null;
            foreach (var client in _byRequest.Values)
                return client;
            return null;
        }
    }

    /// <summary>Relays one server request to the sole client and reads its answer as <typeparamref name="TResult"/>.</summary>
    public async ValueTask<TResult> RelayAsync<TParams, TResult>(string method, TParams parameters, CancellationToken cancellationToken)
    {
        var client = Sole() ?? throw new McpProtocolException($"The gateway has no single caller to ask for {method}.", McpErrorCode.MethodNotFound);
        var options = McpJsonUtilities.DefaultOptions;
        var result = await client.RequestAsync(method, JsonSerializer.SerializeToElement(parameters, options.GetTypeInfo(typeof(TParams))), cancellationToken).ConfigureAwait(false);
        return (TResult)(result.Deserialize(options.GetTypeInfo(typeof(TResult)))
            ?? throw new McpProtocolException($"The gateway's caller answered {method} with nothing.", McpErrorCode.InternalError));
    }

    /// <summary>Passes a server notification on to the sole client, if there is one.</summary>
    public void Notify(JsonRpcNotification notification)
    {
        if (Sole() is { } client)
            client.Notify(notification.Method, notification.Params is { } p ? JsonSerializer.SerializeToElement(p, McpJsonUtilities.DefaultOptions) : null);
    }
}
