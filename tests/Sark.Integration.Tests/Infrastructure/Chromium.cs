using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Sark.Integration.Tests.Infrastructure;

/// <summary>
/// Headless Debian <c>chromium</c> driven over the DevTools protocol: a small WebSocket client
/// for one page (navigate, evaluate, screenshot). Started with a private profile in a temp
/// folder, on a debugging port it picks itself; disposed by PID.
/// </summary>
internal sealed partial class Chromium : IAsyncDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    private readonly ExternalTools.Background _process;
    private readonly DirectoryInfo _profile;
    private readonly ClientWebSocket _socket = new();
    private readonly ConcurrentDictionary<int, TaskCompletionSource<JsonElement>> _calls = new();
    private readonly CancellationTokenSource _stop = new();
    private Task _reader = Task.CompletedTask;
    private int _nextId;

    private Chromium(ExternalTools.Background process, DirectoryInfo profile)
    {
        _process = process;
        _profile = profile;
    }

    public static async Task<Chromium> StartAsync(int width = 1280, int height = 860)
    {
        var binary = ExternalTools.Require("chromium", "chromium");
        var profile = Directory.CreateTempSubdirectory("sark-chromium-");
        var process = ExternalTools.StartBackground(binary,
        [
            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
            "--disable-extensions", "--disable-background-networking", "--disable-sync", "--hide-scrollbars",
            "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
            "--user-data-dir=" + profile.FullName, $"--window-size={width},{height}", "about:blank",
        ]);
        var browser = new Chromium(process, profile);
        try
        {
            var endpoint = await Eventually.UntilAsync(() => Task.FromResult(DevToolsLine().Match(process.Output.Text)),
                m => m.Success || process.HasExited, Bound, "chromium to print its DevTools address");
            if (!endpoint.Success)
                throw new InvalidOperationException($"chromium exited before it listened:\n{process.Output}");
            var port = endpoint.Groups["port"].Value;

            // The page target of about:blank, found through the DevTools HTTP endpoint.
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
            var pageSocket = await Eventually.UntilAsync(async () =>
            {
                var list = JsonDocument.Parse(await http.GetStringAsync($"http://127.0.0.1:{port}/json/list")).RootElement;
                return list.EnumerateArray().Where(t => t.GetProperty("type").GetString() == "page")
                    .Select(t => t.GetProperty("webSocketDebuggerUrl").GetString()).FirstOrDefault();
            }, url => url is not null, Bound, "a page target");
            await browser._socket.ConnectAsync(new Uri(pageSocket!), CancellationToken.None);
            browser._reader = Task.Run(browser.ReadLoopAsync);
            await browser.SendAsync("Page.enable");
            await browser.SendAsync("Runtime.enable");
            await browser.SendAsync("Emulation.setDeviceMetricsOverride", new JsonObject
            {
                ["width"] = width, ["height"] = height, ["deviceScaleFactor"] = 1, ["mobile"] = false,
            });
            return browser;
        }
        catch
        {
            await browser.DisposeAsync();
            throw;
        }
    }

    public Task NavigateAsync(Uri url) => SendAsync("Page.navigate", new JsonObject { ["url"] = url.ToString() });

    /// <summary>Evaluates a JavaScript expression in the page and returns its value (by value).</summary>
    public async Task<JsonElement> EvaluateAsync(string expression)
    {
        var result = await SendAsync("Runtime.evaluate", new JsonObject { ["expression"] = expression, ["returnByValue"] = true, ["awaitPromise"] = true });
        if (result.TryGetProperty("exceptionDetails", out var error))
            throw new InvalidOperationException($"The page threw: {error}");
        var value = result.GetProperty("result");
        return value.TryGetProperty("value", out var v) ? v.Clone() : default;
    }

    /// <summary>A PNG of the viewport.</summary>
    public async Task<byte[]> ScreenshotAsync()
    {
        var result = await SendAsync("Page.captureScreenshot", new JsonObject { ["format"] = "png" });
        return Convert.FromBase64String(result.GetProperty("data").GetString()!);
    }

    public async Task<JsonElement> SendAsync(string method, JsonObject? parameters = null)
    {
        var id = Interlocked.Increment(ref _nextId);
        var reply = new TaskCompletionSource<JsonElement>(TaskCreationOptions.RunContinuationsAsynchronously);
        _calls[id] = reply;
        var message = new JsonObject { ["id"] = id, ["method"] = method, ["params"] = parameters ?? new JsonObject() };
        await _socket.SendAsync(Encoding.UTF8.GetBytes(message.ToJsonString()), WebSocketMessageType.Text, true, CancellationToken.None);
        var result = await reply.Task.WaitAsync(Bound);
        return result;
    }

    private async Task ReadLoopAsync()
    {
        var buffer = new byte[1 << 16];
        using var message = new MemoryStream();
        try
        {
            while (!_stop.IsCancellationRequested && _socket.State == WebSocketState.Open)
            {
                var read = await _socket.ReceiveAsync(buffer, _stop.Token);
                if (read.MessageType == WebSocketMessageType.Close)
                    break;
                message.Write(buffer, 0, read.Count);
                if (!read.EndOfMessage)
                    continue;
                using var json = JsonDocument.Parse(message.ToArray());
                message.SetLength(0);
                if (json.RootElement.TryGetProperty("id", out var id) && _calls.TryRemove(id.GetInt32(), out var call))
                {
                    if (json.RootElement.TryGetProperty("error", out var error))
                        call.TrySetException(new InvalidOperationException($"DevTools error: {error}"));
                    else
                        call.TrySetResult(json.RootElement.GetProperty("result").Clone());
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException)
        {
            // closing
        }

        foreach (var call in _calls.Values)
            call.TrySetException(new InvalidOperationException("The DevTools connection closed."));
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _socket.Abort();
        _socket.Dispose();
        await _reader;
        await _process.DisposeAsync();
        try
        {
            _profile.Delete(recursive: true);
        }
        catch (IOException)
        {
            // a crash dump still being written: the temp folder is left
        }

        _stop.Dispose();
    }

    [GeneratedRegex(@"DevTools listening on ws://127\.0\.0\.1:(?<port>\d+)/")]
    private static partial Regex DevToolsLine();
}
