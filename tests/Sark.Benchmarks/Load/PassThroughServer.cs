using System.Globalization;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace Sark.Benchmarks.Load;

/// <summary>
/// The practical limit of this stack (issue 7's baseline): a bare MCP pass-through built on the
/// same SDK as the node's front door (ModelContextProtocol.AspNetCore), with no actors, no policy,
/// no audit and no middleware. One SDK client over stdio to one server-everything process; its
/// <c>tools/list</c> is served from a copy taken at start and every <c>tools/call</c> is handed to
/// the stdio client as it came. Serves <c>/mcp</c> (Streamable HTTP, session mode with the legacy
/// SSE pair <c>/mcp/sse</c> + <c>/mcp/message</c>, or stateless), run as a child process by the
/// <c>frontdoor</c> command: <c>serve-passthrough --everything SCRIPT --stateless 0|1 --config FILE
/// --bind 127.0.0.1:0</c> (the config file is not read). It stops on SIGTERM.
/// </summary>
internal static class PassThroughServer
{
    public const string Command = "serve-passthrough";

    public static async Task<int> RunAsync(Args args)
    {
        var script = args.String("--everything") ?? throw new ArgumentException("--everything is required.");
        var stateless = args.Int("--stateless", 0, 0, 1) == 1;
        var bind = args.String("--bind") ?? "127.0.0.1:0";
        var colon = bind.LastIndexOf(':');
        var address = IPAddress.Parse(bind[..colon]);
        var port = int.Parse(bind[(colon + 1)..], System.Globalization.CultureInfo.InvariantCulture);

        using var setup = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var transport = new StdioClientTransport(new StdioClientTransportOptions
        {
            Command = RepoLayout.OnPath("node"),
            Arguments = [script, "stdio"],
            Name = "everything",
        });
        var upstream = await McpClient.CreateAsync(transport, cancellationToken: setup.Token).ConfigureAwait(false);
        await using (upstream.ConfigureAwait(false))
        {
            var tools = await upstream.ListToolsAsync(cancellationToken: setup.Token).ConfigureAwait(false);
            var listed = new ListToolsResult { Tools = [.. tools.Select(t => t.ProtocolTool)] };

            var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });
            builder.Logging.ClearProviders();
            builder.Logging.AddConsole();
            builder.Logging.SetMinimumLevel(LogLevel.Warning);
            builder.Logging.AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Information);
            builder.WebHost.ConfigureKestrel(kestrel =>
            {
                kestrel.AddServerHeader = false;
                kestrel.Listen(address, port);
            });
            builder.Services.AddMcpServer()
                .WithHttpTransport(http =>
                {
                    http.Stateless = stateless;
#pragma warning disable MCP9004 // The legacy transport is one of the two the front door is measured on.
                    http.EnableLegacySse = !stateless;
#pragma warning restore MCP9004
                })
                .WithListToolsHandler((_, _) => ValueTask.FromResult(listed))
                .WithCallToolHandler((request, ct) => upstream.CallToolAsync(request.Params!, ct));

            var app = builder.Build();
            await using (app.ConfigureAwait(false))
            {
                app.MapMcp("/mcp");
                // The harness reads the garbage made per call (ServerGc): bytes allocated, collections (gen-0 counts every generation's), time paused.
                app.MapGet("/gc", () => string.Create(CultureInfo.InvariantCulture, $"{GC.GetTotalAllocatedBytes(precise: true)} {GC.CollectionCount(0)} {GC.GetTotalPauseDuration().TotalSeconds}"));
                await app.RunAsync().ConfigureAwait(false);
            }
        }

        return 0;
    }
}
