using Microsoft.AspNetCore.Mvc;
using Sark.Actors;
using Sark.Actors.Configuration;
using Sark.Host.Security;

namespace Sark.Host.Api;

/// <summary>
/// The SARK gateway REST API (DESIGN.md section 6), served so that nodes can federate:
/// servers, tools, invoke, and the node's own upstream status.
/// </summary>
internal static class RestApi
{
    public static IEndpointRouteBuilder MapRestApi(this IEndpointRouteBuilder endpoints)
    {
        var api = endpoints.MapGroup("/api/v1");
        api.MapGet("/servers", ListServersAsync);
        api.MapGet("/servers/{name}", GetServerAsync);
        api.MapGet("/tools", ListToolsAsync);
        api.MapPost("/invoke", InvokeAsync);
        api.MapGet("/upstreams", ListUpstreamsAsync);
        api.MapPost("/catalog/invalidate", InvalidateAsync);
        return endpoints;
    }

    private static async Task<IResult> ListServersAsync(HttpContext context, [FromServices] ISarkGateway gateway)
    {
        var page = Page.From(context.Request.Query, context.TraceIdentifier);
        var servers = await gateway.ListServersAsync(context.GetCaller(), context.RequestAborted).ConfigureAwait(false);
        var (items, next) = page.Apply(servers);
        return Results.Json(new ServerListResponse(items, servers.Count, next), NodeJsonContext.Default.ServerListResponse);
    }

    private static async Task<IResult> GetServerAsync(string name, HttpContext context, [FromServices] ISarkGateway gateway)
    {
        var server = await gateway.GetServerAsync(name, context.GetCaller(), context.RequestAborted).ConfigureAwait(false);
        return Results.Json(server, NodeJsonContext.Default.ServerInfo);
    }

    private static async Task<IResult> ListToolsAsync(HttpContext context, [FromServices] ISarkGateway gateway)
    {
        var page = Page.From(context.Request.Query, context.TraceIdentifier);
        var server = context.Request.Query["server"].ToString();
        var tools = await gateway.ListToolsAsync(server.Length == 0 ? null : server, context.GetCaller(), context.RequestAborted).ConfigureAwait(false);
        var (items, next) = page.Apply(tools);
        return Results.Json(new ToolListResponse(items, tools.Count, next), NodeJsonContext.Default.ToolListResponse);
    }

    private static async Task<IResult> InvokeAsync(HttpContext context, [FromServices] ISarkGateway gateway, [FromServices] SarkOptions options)
    {
        var requestId = context.TraceIdentifier;
        var request = await InvokeRequest.ReadAsync(context.Request, options.Node.MaxRequestBodyBytes, requestId, context.RequestAborted)
            .ConfigureAwait(false);
        var result = await gateway.InvokeToolAsync(
            request.Server, request.Tool, request.Parameters, new InvokeOptions { RequestId = requestId, Route = request.Route, Caller = context.GetCaller() }, context.RequestAborted).ConfigureAwait(false);
        return Results.Json(new InvokeResponse("success", result.Result, result.RequestId), NodeJsonContext.Default.InvokeResponse);
    }

    /// <summary><c>POST /api/v1/catalog/invalidate[?server=NAME]</c>: the next lookup reads the server (or everything) again.</summary>
    private static async Task<IResult> InvalidateAsync(HttpContext context, [FromServices] ISarkGateway gateway)
    {
        var server = context.Request.Query["server"].ToString();
        var count = await gateway.InvalidateAsync(server.Length == 0 ? null : server, context.RequestAborted).ConfigureAwait(false);
        return Results.Json(new InvalidateResponse(count), NodeJsonContext.Default.InvalidateResponse);
    }

    private static async Task<IResult> ListUpstreamsAsync(HttpContext context, [FromServices] ISarkGateway gateway)
    {
        var upstreams = await gateway.GetUpstreamsAsync(context.RequestAborted).ConfigureAwait(false);
        var items = new UpstreamStatusResponse[upstreams.Count];
        for (var i = 0; i < items.Length; i++)
            items[i] = UpstreamStatusResponse.From(upstreams[i]);
        return Results.Json(new UpstreamListResponse(items), NodeJsonContext.Default.UpstreamListResponse);
    }
}
