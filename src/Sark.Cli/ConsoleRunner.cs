namespace Sark.Cli;

/// <summary>What the command line set.</summary>
internal sealed record ConsoleSettings(string Address, bool Json, string? Token, TimeSpan? Timeout);

/// <summary>One-shot and interactive runs.</summary>
internal static class ConsoleRunner
{
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(5);

    public static async Task<int> RunAsync(ConsoleSettings settings, IReadOnlyList<string> words, CancellationToken ct)
    {
        OpsClient client;
        try
        {
            OpsClient.ParseAddress(settings.Address);
            client = await OpsClient.ConnectAsync(settings.Address, settings.Token, ConnectTimeout, ct).ConfigureAwait(false);
        }
        catch (ArgumentException ex)
        {
            Console.Error.WriteLine($"sark: {ex.Message}");
            return ExitCodes.Usage;
        }
        catch (UnreachableException ex)
        {
            Console.Error.WriteLine($"sark: cannot reach the node at {settings.Address}: {ex.Message}");
            return ExitCodes.Unreachable;
        }
        catch (RefusedException ex)
        {
            Console.Error.WriteLine($"sark: {ex.Code}: the node at {settings.Address} refused the session: {ex.Message}");
            return ExitCodes.CommandFailed;
        }

        await using (client.ConfigureAwait(false))
        {
            try
            {
                return words.Count == 0
                    ? await new Repl(client, settings).RunAsync(ct).ConfigureAwait(false)
                    : await RunOneAsync(client, settings, words, settings.Json, ct).ConfigureAwait(false);
            }
            catch (UnreachableException ex)
            {
                Console.Error.WriteLine($"sark: connection to the node at {settings.Address} terminated: {ex.Message}");
                return ExitCodes.Unreachable;
            }
        }
    }

    /// <summary>Runs one command line and prints its output; returns the exit code.</summary>
    public static async Task<int> RunOneAsync(OpsClient client, ConsoleSettings settings, IReadOnlyList<string> words, bool json, CancellationToken ct)
    {
        if (words is ["help", ..])
        {
            Help.Print(client.Catalogue, words.Skip(1).FirstOrDefault(), Console.Out);
            return ExitCodes.Ok;
        }

        var follow = client.Catalogue.Follows(words);
        var output = new Output(Output.CreateConsole(), Console.Out, json, follow);
        using var interrupt = CancellationTokenSource.CreateLinkedTokenSource(ct);
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            e.Cancel = true;
            interrupt.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        try
        {
            var final = await client.RunAsync(words, settings.Timeout, output.OnFrame, interrupt.Token).ConfigureAwait(false);
            return output.OnFinal(final, Console.Error);
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }
}
