using System.Collections.Immutable;
using System.Text.Json;
using System.Text.Json.Nodes;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using Sark.Actors.Configuration;
using Sark.Actors.Protocol;

namespace Sark.Actors.Upstreams.McpHttp;

/// <summary>
/// One MCP client session with an <c>mcp-http</c> upstream, over the official SDK: the HttpClient
/// (with the <see cref="OriginGuard"/>, no redirects), the SDK's transport and client. Not an actor:
/// <see cref="McpHttpServer"/> owns it and runs its methods as detached tasks.
/// </summary>
internal sealed class McpHttpSession : IAsyncDisposable
{
    private static readonly TimeSpan ProgressGrace = TimeSpan.FromSeconds(1);
    private static readonly JsonElement EmptyResult = JsonDocument.Parse("{}").RootElement.Clone();
    private readonly HttpClientTransport _transport;
    private long _lastId;

    private McpHttpSession(McpClient client, HttpClientTransport transport, ServerInfo server)
    {
        Client = client;
        _transport = transport;
        Server = server;
    }

    public McpClient Client { get; }

    /// <summary>The server as the catalog lists it (without its tool count).</summary>
    public ServerInfo Server { get; }

    /// <summary>
    /// Connects, initializes (negotiating the protocol revision, <see cref="ProtocolLadder"/>) and
    /// returns the session. <paramref name="onToolsChanged"/> runs on the SDK's thread for every
    /// <c>notifications/tools/list_changed</c>: it must only send a message.
    /// </summary>
    /// <param name="relay">With relay-client-requests: the callers' clients that the server's sampling, elicitation and log messages go to.</param>
    public static async Task<McpHttpSession> OpenAsync(UpstreamOptions options, Action onToolsChanged, CallClients? relay, CancellationToken cancellationToken)
    {
        var endpoint = new Uri(options.Url!);
        string? version = null;
        while (true)
        {
            var transport = CreateTransport(options, endpoint);
            try
            {
                var client = await McpClient.CreateAsync(transport, ClientOptions(options, version, onToolsChanged, relay), loggerFactory: null, cancellationToken).ConfigureAwait(false);
                return new McpHttpSession(client, transport, ServerInfoOf(options, client));
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested && IsVersionRefusal(ex) && ProtocolLadder.Next(version) is { } older)
            {
                await transport.DisposeAsync().ConfigureAwait(false);
                version = older;
            }
            catch
            {
                await transport.DisposeAsync().ConfigureAwait(false);
                throw;
            }
        }
    }

    /// <summary>Every page of <c>tools/list</c> (cursor / nextCursor), with the max-pages and repeated-cursor guards.</summary>
    public async Task<ImmutableArray<ToolInfo>> ListToolsAsync(string server, int maxPages, CancellationToken cancellationToken)
    {
        var list = new McpToolList(server, maxPages);
        string? cursor = null;
        while (true)
        {
            var page = await Client.ListToolsAsync(new ListToolsRequestParams { Cursor = cursor }, cancellationToken).ConfigureAwait(false);
            var step = list.AddPage(JsonSerializer.SerializeToElement(page, McpJsonUtilities.DefaultOptions));
            if (step.Error is { } error)
                throw new McpListException(error);
            if (step.NextCursor is not { } next)
                return step.Tools!.Value;
            cursor = next;
        }
    }

    /// <summary>
    /// <c>tools/call</c> under a request id of ours. Cancelling the token ends the wait and sends
    /// <c>notifications/cancelled</c> for that id: the SDK sends one only once a request is fully
    /// sent, which a Streamable HTTP POST never is while its answer is still streaming.
    /// </summary>
    /// <param name="progress">When set, a <c>progressToken</c> (the request id) is sent and the server's progress notifications for it are reported here.</param>
    public async Task<(JsonElement Result, bool IsError)> CallToolAsync(
        string tool, JsonElement? arguments, string? traceParent, IProgress<ToolProgress>? progress, CancellationToken cancellationToken)
    {
        var id = new RequestId($"sark-{Interlocked.Increment(ref _lastId)}");
        var meta = traceParent is null ? null : new JsonObject { ["traceparent"] = traceParent };
        var progressHandler = progress is null ? null : Client.RegisterNotificationHandler(NotificationMethods.ProgressNotification, (notification, _) =>
        {
            if (notification.Params?.Deserialize(McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(ProgressNotificationParams))) is ProgressNotificationParams p
                && p.ProgressToken.ToString() == id.ToString())
            {
                progress.Report(new ToolProgress(p.Progress.Progress, p.Progress.Total, p.Progress.Message));
            }

            return ValueTask.CompletedTask;
        });
        if (progress is not null)
            (meta ??= [])["progressToken"] = id.ToString();
        var parameters = new CallToolRequestParams
        {
            Name = tool,
            Arguments = ArgumentsOf(arguments),
            Meta = meta,
        };
        var request = new JsonRpcRequest
        {
            Id = id,
            Method = RequestMethods.ToolsCall,
            Params = JsonSerializer.SerializeToNode(parameters, McpJsonUtilities.DefaultOptions),
        };
        try
        {
            var response = await Client.SendRequestAsync(request, cancellationToken).ConfigureAwait(false);
            var result = response.Result is { } node ? JsonSerializer.SerializeToElement(node, McpJsonUtilities.DefaultOptions) : EmptyResult;
            return (result, McpMessages.IsToolError(result));
        }
        catch (Exception) when (cancellationToken.IsCancellationRequested)
        {
            _ = SendCancelledAsync(id);
            throw;
        }
        finally
        {
            if (progressHandler is not null)
                _ = UnregisterLaterAsync(progressHandler);
        }
    }

    /// <summary>Any other request (<c>resources/*</c>, <c>prompts/*</c>), sent as it is; its raw result.</summary>
    public async Task<JsonElement> SendAsync(string method, JsonElement? parameters, CancellationToken cancellationToken)
    {
        var id = new RequestId($"sark-{Interlocked.Increment(ref _lastId)}");
        var request = new JsonRpcRequest
        {
            Id = id,
            Method = method,
            Params = parameters is { ValueKind: JsonValueKind.Object } p ? JsonNode.Parse(p.GetRawText()) : null,
        };
        try
        {
            var response = await Client.SendRequestAsync(request, cancellationToken).ConfigureAwait(false);
            return response.Result is { } node ? JsonSerializer.SerializeToElement(node, McpJsonUtilities.DefaultOptions) : EmptyResult;
        }
        catch (Exception) when (cancellationToken.IsCancellationRequested)
        {
            _ = SendCancelledAsync(id);
            throw;
        }
    }

    /// <summary>
    /// The SDK hands notifications on apart from responses, so the last progress of a call can be
    /// handled just after its result: the handler stays for <see cref="ProgressGrace"/> more.
    /// </summary>
    private static async Task UnregisterLaterAsync(IAsyncDisposable handler)
    {
        await Task.Delay(ProgressGrace).ConfigureAwait(false);
        await handler.DisposeAsync().ConfigureAwait(false);
    }

    private async Task SendCancelledAsync(RequestId id)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await Client.SendMessageAsync(new JsonRpcNotification
            {
                Method = NotificationMethods.CancelledNotification,
                Params = JsonSerializer.SerializeToNode(new CancelledNotificationParams { RequestId = id, Reason = "cancelled by the gateway (timeout or caller)" }, McpJsonUtilities.DefaultOptions),
            }, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Best effort: the session may be gone.
        }
    }

    /// <summary>Ends the session (Streamable HTTP: DELETE) and releases the HttpClient.</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            await Client.DisposeAsync().ConfigureAwait(false);
        }
        finally
        {
            await _transport.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static HttpClientTransport CreateTransport(UpstreamOptions options, Uri endpoint)
    {
        var handler = new SocketsHttpHandler
        {
            // DESIGN.md section 11: no redirects, and no requests to another origin.
            AllowAutoRedirect = false,
            ConnectTimeout = options.InitTimeout,
            MaxResponseDrainSize = 0,
        };
        // The SSE streams are long-lived: deadlines come from the tokens (call timeout, init timeout).
        var http = new HttpClient(new OriginGuard(endpoint, handler)) { Timeout = Timeout.InfiniteTimeSpan };
        var transportOptions = new HttpClientTransportOptions
        {
            Endpoint = endpoint,
            Name = options.Name,
            TransportMode = options.Transport switch
            {
                McpHttpTransport.StreamableHttp => HttpTransportMode.StreamableHttp,
                McpHttpTransport.Sse => HttpTransportMode.Sse,
                _ => HttpTransportMode.AutoDetect,
            },
            ConnectionTimeout = options.InitTimeout,
            AdditionalHeaders = options.Headers.IsEmpty ? null : new Dictionary<string, string>(options.Headers, StringComparer.OrdinalIgnoreCase),
        };
        return new HttpClientTransport(transportOptions, http, loggerFactory: null, ownsHttpClient: true);
    }

    private static McpClientOptions ClientOptions(UpstreamOptions options, string? version, Action onToolsChanged, CallClients? relay)
    {
        var handlers = new McpClientHandlers
        {
            NotificationHandlers =
            [
                new(NotificationMethods.ToolListChangedNotification, (_, _) =>
                {
                    onToolsChanged();
                    return ValueTask.CompletedTask;
                }),
            ],
        };
        if (relay is not null)
        {
#pragma warning disable MCP9005 // Sampling is deprecated as of 2026-07-28; servers on earlier revisions still ask for it.
            handlers.SamplingHandler = (request, _, ct) => relay.RelayAsync<CreateMessageRequestParams?, CreateMessageResult>("sampling/createMessage", request, ct);
#pragma warning restore MCP9005
            handlers.ElicitationHandler = (request, ct) => relay.RelayAsync<ElicitRequestParams?, ElicitResult>(RequestMethods.ElicitationCreate, request, ct);
            handlers.NotificationHandlers =
            [
                .. handlers.NotificationHandlers,
                new("notifications/message", (notification, _) =>
                {
                    relay.Notify(notification);
                    return ValueTask.CompletedTask;
                }),
            ];
        }

        return new McpClientOptions
        {
            ClientInfo = new Implementation { Name = "sark-actors", Version = "0.1.0" },
            ProtocolVersion = version,
            InitializationTimeout = options.InitTimeout,
            Handlers = handlers,
        };
    }

    /// <summary>The server refused the handshake itself (a JSON-RPC error, or a revision the SDK would not accept).</summary>
    internal static bool IsVersionRefusal(Exception ex) =>
        ex is McpProtocolException
        || (ex is McpException && ex.Message.Contains("protocol version", StringComparison.OrdinalIgnoreCase));

    private static ServerInfo ServerInfoOf(UpstreamOptions options, McpClient client)
    {
        var initialize = new JsonObject
        {
            ["protocolVersion"] = client.NegotiatedProtocolVersion,
            ["instructions"] = client.ServerInstructions,
            ["serverInfo"] = client.ServerInfo is { } info ? new JsonObject { ["name"] = info.Name, ["version"] = info.Version } : null,
        };
        using var doc = JsonDocument.Parse(initialize.ToJsonString());
        return McpMessages.ServerInfoFrom(options, doc.RootElement.Clone(), "mcp-http", options.Url!);
    }

    private static Dictionary<string, JsonElement>? ArgumentsOf(JsonElement? arguments)
    {
        if (arguments is not { ValueKind: JsonValueKind.Object } args)
            return null;
        var result = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        foreach (var property in args.EnumerateObject())
            result[property.Name] = property.Value.Clone();
        return result;
    }
}

/// <summary>A tools/list walk that could not complete (a page without tools, too many pages, a repeated cursor).</summary>
internal sealed class McpListException(string message) : Exception(message);
