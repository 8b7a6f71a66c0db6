using System.Diagnostics;
using Sark.Integration.Tests.Infrastructure;

namespace Sark.Integration.Tests.Ops;

/// <summary>
/// The interactive console in a real pseudo-terminal: tmux (a private server, <c>-L</c>) runs
/// <c>sark ADDRESS</c>; keys go in with send-keys and the screen comes back with capture-pane.
/// scripts/test.sh installs tmux when it is missing.
/// </summary>
[Collection(OpsNodeCollection.Name)]
public sealed class OpsInteractiveSpecs(OpsNodeFixture fixture)
{
    // capture-pane drops blanks at the ends of lines: waits look for text without them.
    private static readonly TimeSpan ScreenTimeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Completion_offers_the_palette_commands_and_exit_leaves_cleanly()
    {
        await using var tmux = await Tmux.StartAsync($"{Quote(NodePaths.Dotnet)} {Quote(SarkCli.Dll)} {fixture.Address}; echo \"sark exited with $?\"; sleep 60");

        await tmux.WaitForAsync("sark>");
        await tmux.KeysAsync("ups", "Tab");
        await tmux.WaitForAsync("sark> upstream");
        await tmux.KeysAsync("l", "Tab");
        await tmux.WaitForAsync("sark> upstream list");
        await tmux.KeysAsync("Enter");
        await tmux.WaitForAsync("mcp-stdio");
        await tmux.KeysAsync("c", "Tab", "Tab");
        var choices = await tmux.WaitForAsync("cache  call  cluster  config");
        await tmux.KeysAsync("BSpace", "help", "Enter");
        await tmux.WaitForAsync("Palettes (help PALETTE");
        await tmux.KeysAsync("Up", "Enter");
        await tmux.WaitForAsync(s => Count(s, "Palettes (help PALETTE") >= 2, "the recalled help");
        await tmux.KeysAsync("exit", "Enter");
        var screen = await tmux.WaitForAsync("sark exited with");

        Assert.Contains("palettes downloaded", choices, StringComparison.Ordinal);
        Assert.Contains("bye", screen, StringComparison.Ordinal);
        Assert.Contains("sark exited with 0", screen, StringComparison.Ordinal);
    }

    private static int Count(string text, string what)
    {
        var n = 0;
        for (var i = text.IndexOf(what, StringComparison.Ordinal); i >= 0; i = text.IndexOf(what, i + what.Length, StringComparison.Ordinal))
            n++;
        return n;
    }

    private static string Quote(string text) => "'" + text.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    /// <summary>A private tmux server with one 200×50 session; disposed by killing that server.</summary>
    private sealed class Tmux : IAsyncDisposable
    {
        private readonly string _socket = $"sark-spec-{Guid.NewGuid():N}";

        public static async Task<Tmux> StartAsync(string command)
        {
            if (!File.Exists("/usr/bin/tmux") && !File.Exists("/usr/local/bin/tmux"))
                Assert.Fail("tmux is not installed: run 'bash scripts/test.sh', which installs it (apt-get install tmux).");
            var tmux = new Tmux();
            await tmux.RunAsync("-f", "/dev/null", "new-session", "-d", "-s", "console", "-x", "200", "-y", "50", command);
            return tmux;
        }

        public async Task KeysAsync(params string[] keys) => await RunAsync(["send-keys", "-t", "console", .. keys]);

        public Task<string> WaitForAsync(string text) => WaitForAsync(s => s.Contains(text, StringComparison.Ordinal), $"'{text}' on the screen");

        public Task<string> WaitForAsync(Func<string, bool> condition, string what) =>
            Eventually.UntilAsync(() => RunAsync("capture-pane", "-p", "-t", "console", "-S", "-300"), condition, ScreenTimeout, what);

        public async ValueTask DisposeAsync() => await RunAsync("kill-server");

        private async Task<string> RunAsync(params string[] arguments)
        {
            var start = new ProcessStartInfo("tmux") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
            start.ArgumentList.Add("-L");
            start.ArgumentList.Add(_socket);
            foreach (var argument in arguments)
                start.ArgumentList.Add(argument);
            start.Environment["TERM"] = "xterm-256color";
            using var process = Process.Start(start)!;
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await process.WaitForExitAsync(timeout.Token);
            return await output + await error;
        }
    }
}
