using System.Text.Json.Nodes;
using Akka.Actor;
using Sark.Actors.Catalog;
using Sark.Actors.Errors;
using Sark.Actors.Policy;

namespace Sark.Actors.Ops.Palettes;

/// <summary>
/// <c>policy explain &lt;subject&gt; &lt;server&gt; &lt;tool&gt; [--args JSON] [--roles a,b] [--teams t]</c>:
/// the decision a tool call would get, and the rule that made it. The server and tool come
/// from the catalog (their sensitivity is part of the input); nothing is cached or audited.
/// </summary>
internal sealed class PolicyPalette : OpsPalette
{
    public override PaletteDefinition Definition { get; } = new("policy", "The policy: why a call is allowed or denied.",
    [
        new CommandDefinition("explain", "The decision on <subject> calling <server> <tool>, and the rule that made it.",
        [
            ArgumentDefinition.Positional("subject", "the caller's subject id"),
            ArgumentDefinition.Positional("server", "the server"),
            ArgumentDefinition.Positional("tool", "the tool"),
            ArgumentDefinition.Option("args", "--args", "the call's arguments, a JSON object", alias: "-a"),
            ArgumentDefinition.Option("roles", "--roles", "the subject's roles, comma-separated"),
            ArgumentDefinition.Option("teams", "--teams", "the subject's teams, comma-separated"),
        ]),
    ]);

    public override Props CommandProps(OpsInvocation invocation) => Props.Create(() => new Command(invocation));

    private sealed class Command(OpsInvocation invocation) : OpsCommandActor(invocation)
    {
        private ServerInfo? _server;
        private PolicyInput? _input;

        protected override void PreStart()
        {
            if (Services.Children.Policy is null)
            {
                Fail("policy_unavailable", "This node runs without a policy (the options have none): every call is allowed.");
                return;
            }

            Services.Children.Catalog.Tell(new CatalogQueries.GetServer(Command.Get("server")!));
        }

        protected override void OnReceive(object message)
        {
            switch (message)
            {
                case CatalogQueries.ServerFound found:
                    _server = found.Server;
                    Services.Children.Catalog.Tell(new CatalogQueries.ListTools(found.Server.ServerName));
                    break;
                case CatalogQueries.ToolList list:
                    var tool = list.Tools.FirstOrDefault(t => t.ToolName == Command.Get("tool"));
                    if (tool is null)
                    {
                        Fail("not_found", $"Server '{_server!.ServerName}' has no tool '{Command.Get("tool")}'. Tools: {string.Join(", ", list.Tools.Select(t => t.ToolName))}.");
                        return;
                    }

                    var (args, error) = CallPalette.ParseArgs(Command.Get("args"));
                    if (error is not null)
                    {
                        Fail("invalid_request", error);
                        return;
                    }

                    var caller = CallPalette.CallerOf(Command.SetItem("as", Command.Get("subject")!));
                    _input = PolicyInput.ForInvoke(caller, _server!, tool, args, $"ops-explain-{Guid.NewGuid():N}", DateTimeOffset.UtcNow, "ops");
                    Services.Children.Policy!.Tell(new PolicyCommands.Explain(_input));
                    break;
                case PolicyReplies.Explained explained:
                    var d = explained.Explanation.Decision;
                    Properties(
                    [
                        ("decision", d.Allow ? "allow" : "deny"),
                        ("rule", explained.Explanation.Rule),
                        ("engine", explained.Explanation.Engine),
                        ("reason", d.Reason),
                        ("cache_ttl_s", Math.Round(d.CacheTtl.TotalSeconds, 3)),
                        ("filtered_parameters", d.FilteredParameters is { } f ? JsonNode.Parse(f.GetRawText()) : null),
                        ("subject", _input!.Subject.Id),
                        ("roles", string.Join(",", _input.Subject.Roles)),
                        ("action", _input.Action),
                        ("server", $"{_input.Server.Name} ({_input.Server.Sensitivity})"),
                        ("tool", $"{_input.Tool!.Name} ({_input.Tool.Sensitivity})"),
                    ]);
                    Done();
                    break;
                case PolicyReplies.Unavailable unavailable:
                    Fail(unavailable.Error.Code.ToWire(), unavailable.Error.Message);
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
