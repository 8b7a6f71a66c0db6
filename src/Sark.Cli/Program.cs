using System.CommandLine;
using Sark.Cli;

var address = new Argument<string>("address") { Description = "The node's command host, HOST:PORT (sark.node.ops.bind; 127.0.0.1:9110 by default)" };
var json = new Option<bool>("--json") { Description = "Print JSON (one object a line) instead of tables" };
var token = new Option<string?>("--token") { Description = "The node's ops token (default: the SARK_OPS_TOKEN environment variable)" };
var timeout = new Option<double?>("--timeout") { Description = "Seconds the command may run (the node caps it at sark.node.ops.max-timeout)" };
var root = new RootCommand("""
    sark: the ops console of a Sark node.

      sark 127.0.0.1:9110                      interactive: a prompt with history and tab completion
      sark 127.0.0.1:9110 upstream list        one command, then exit (non-zero on an error)
      sark 127.0.0.1:9110 upstream list --json

    The node sends its palettes on connect; type 'help' at the prompt to see them.
    Exit codes: 0 done, 1 the command failed, 2 bad usage, 3 the node could not be reached.
    """)
{
    address, json, token, timeout,
};
root.TreatUnmatchedTokensAsErrors = false;
root.SetAction(async (parse, ct) =>
{
    var settings = new ConsoleSettings(
        parse.GetValue(address)!,
        parse.GetValue(json),
        parse.GetValue(token) ?? Environment.GetEnvironmentVariable("SARK_OPS_TOKEN"),
        parse.GetValue(timeout) is { } seconds && seconds > 0 ? TimeSpan.FromSeconds(seconds) : null);
    var words = parse.UnmatchedTokens.ToList();
    return await ConsoleRunner.RunAsync(settings, words, ct).ConfigureAwait(false);
});

var config = new ParserConfiguration { ResponseFileTokenReplacer = null };
var result = root.Parse(args, config);
return await result.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = true }).ConfigureAwait(false);
