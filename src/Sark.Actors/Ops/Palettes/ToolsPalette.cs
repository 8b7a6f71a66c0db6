using System.Collections.Immutable;
using System.Text.Json;
using System.Text.Json.Nodes;
using Akka.Actor;
using Sark.Actors.Catalog;
using Sark.Actors.Errors;

namespace Sark.Actors.Ops.Palettes;

/// <summary><c>tools list [--server NAME]</c>, from the catalog (every tool, not filtered by a caller's policy).</summary>
internal sealed class ToolsPalette : OpsPalette
{
    public override PaletteDefinition Definition { get; } = new("tools", "The catalog's tools.",
    [
        new CommandDefinition("list", "Every tool the catalog holds, or one server's.",
            [ArgumentDefinition.Option("server", "--server", "only this server's tools", alias: "-s")]),
    ]);

    public override Props CommandProps(OpsInvocation invocation) => Props.Create(() => new Command(invocation));

    private sealed class Command(OpsInvocation invocation) : OpsCommandActor(invocation)
    {
        protected override void PreStart() => Services.Children.Catalog.Tell(new CatalogQueries.ListTools(Command.Get("server")));

        protected override void OnReceive(object message)
        {
            switch (message)
            {
                case CatalogQueries.ToolList list:
                    Columns("server", "tool", "sensitivity", "description");
                    foreach (var tool in list.Tools)
                    {
                        Row(new JsonObject
                        {
                            ["server"] = tool.ServerName,
                            ["tool"] = tool.ToolName,
                            ["sensitivity"] = tool.SensitivityLevel,
                            ["description"] = tool.Description,
                        });
                    }

                    Done($"{list.Tools.Length} tools");
                    break;
                case CatalogQueries.NotFound notFound:
                    Fail("not_found", $"No server '{notFound.Server}' in the catalog.");
                    break;
                case CatalogQueries.Unavailable unavailable:
                    Fail(unavailable.Error.Code.ToWire(), unavailable.Error.Message);
                    break;
                default:
                    Unhandled(message);
                    break;
            }
        }
    }
}

/// <summary>
/// <c>call &lt;server&gt; &lt;tool&gt; --args JSON [--as SUBJECT] [--roles a,b]</c>: a tool call through
/// the facade, the same path as REST and MCP (policy, audit, routing), as the given subject.
/// The facade's task runs detached and is piped back to the command actor.
/// </summary>
internal sealed class CallPalette : OpsPalette
{
    public override PaletteDefinition Definition { get; } = new("call", "Call a tool through the gateway (policy and audit apply).",
    [
        new CommandDefinition(OpsCommandParser.PaletteCommand, "Call <server> <tool> with --args JSON, as --as SUBJECT (local by default).",
        [
            ArgumentDefinition.Positional("server", "the server"),
            ArgumentDefinition.Positional("tool", "the tool"),
            ArgumentDefinition.Option("args", "--args", "the arguments, a JSON object", alias: "-a", @default: "{}"),
            ArgumentDefinition.Option("as", "--as", "the subject the call runs as", @default: "local"),
            ArgumentDefinition.Option("roles", "--roles", "the subject's roles, comma-separated"),
            ArgumentDefinition.Option("teams", "--teams", "the subject's teams, comma-separated"),
        ]) { Timeout = TimeSpan.FromSeconds(120) },
    ]);

    public override Props CommandProps(OpsInvocation invocation) => Props.Create(() => new Command(invocation));

    /// <summary>A JSON object from a switch, or an error message.</summary>
    internal static (JsonElement? Value, string? Error) ParseArgs(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
            return (null, null);
        try
        {
            var element = JsonElement.Parse(text);
            return element.ValueKind == JsonValueKind.Object ? (element, null) : (null, "--args must be a JSON object, like {\"text\":\"hi\"}.");
        }
        catch (JsonException ex)
        {
            return (null, $"--args is not valid JSON: {ex.Message}");
        }
    }

    internal static ImmutableArray<string> List(string? text) =>
        string.IsNullOrWhiteSpace(text) ? [] : [.. text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];

    internal static Caller CallerOf(OpsCommand command) =>
        new(command.Get("as") ?? "local", List(command.Get("roles")), List(command.Get("teams"))) { AuthMethod = "ops-console" };

    private sealed class Command(OpsInvocation invocation) : OpsCommandActor(invocation)
    {
        private readonly CancellationTokenSource _cancel = new();

        protected override void PreStart()
        {
            var (args, error) = ParseArgs(Command.Get("args"));
            if (error is not null)
            {
                Fail("invalid_request", error);
                return;
            }

            var options = new InvokeOptions { Caller = CallerOf(Command), RequestId = $"ops-{Guid.NewGuid():N}" };
            Services.Gateway.InvokeToolAsync(Command.Get("server")!, Command.Get("tool")!, args, options, _cancel.Token)
                .PipeTo(Self, failure: ex => new Status.Failure(ex));
        }

        protected override void PostStop()
        {
            _cancel.Cancel();
            _cancel.Dispose();
        }

        protected override void OnReceive(object message)
        {
            switch (message)
            {
                case ToolCallResult result:
                    Columns("request_id", "server", "tool", "is_error", "duration_ms", "result");
                    Row(new JsonObject
                    {
                        ["request_id"] = result.RequestId,
                        ["server"] = result.Server,
                        ["tool"] = result.Tool,
                        ["is_error"] = result.IsError,
                        ["duration_ms"] = Math.Round(result.Duration.TotalMilliseconds, 1),
                        ["result"] = JsonNode.Parse(result.Result.GetRawText()),
                    });
                    Done();
                    break;
                case Status.Failure { Cause: SarkException sark }:
                    Fail(sark.Code.ToWire(), sark.Message);
                    break;
                case Status.Failure failure:
                    Fail("upstream_error", failure.Cause.Message);
                    break;
                default:
                    Unhandled(message);
                    break;
            }
        }
    }
}
