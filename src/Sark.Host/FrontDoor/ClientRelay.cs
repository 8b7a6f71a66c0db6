using System.Text.Json;
using System.Text.Json.Nodes;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;
using Sark.Actors;

namespace Sark.Host.FrontDoor;

/// <summary>
/// The downstream client of one front-door call, as an upstream server sees it
/// (<see cref="InvokeOptions.ClientRequests"/>): the server's <c>sampling/createMessage</c> and
/// <c>elicitation/create</c> go to the caller's session (on the call's own stream) when the caller
/// announced that capability, and its log messages are passed on.
/// </summary>
internal sealed class ClientRelay(McpServer session) : IUpstreamClient
{
    public async Task<JsonElement> RequestAsync(string method, JsonElement? parameters, CancellationToken cancellationToken)
    {
#pragma warning disable MCP9005 // Sampling is deprecated as of 2026-07-28; upstreams on earlier revisions still ask for it.
        var capable = method switch
        {
            "sampling/createMessage" => session.ClientCapabilities?.Sampling is not null,
            RequestMethods.ElicitationCreate => session.ClientCapabilities?.Elicitation is not null,
            _ => false,
        };
#pragma warning restore MCP9005
        if (!capable)
            throw new McpProtocolException($"The gateway's client does not support {method}.", McpErrorCode.MethodNotFound);
        var response = await session.SendRequestAsync(new JsonRpcRequest
        {
            Method = method,
            Params = parameters is { } p ? JsonNode.Parse(p.GetRawText()) : null,
        }, cancellationToken).ConfigureAwait(false);
        return response.Result is { } result ? JsonSerializer.SerializeToElement(result, McpJsonUtilities.DefaultOptions) : default;
    }

    public void Notify(string method, JsonElement? parameters) =>
        _ = NotifyAsync(method, parameters);

    private async Task NotifyAsync(string method, JsonElement? parameters)
    {
        try
        {
            await session.SendMessageAsync(new JsonRpcNotification
            {
                Method = method,
                Params = parameters is { } p ? JsonNode.Parse(p.GetRawText()) : null,
            }).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // The caller's stream is gone: a log message is best effort.
        }
    }
}
