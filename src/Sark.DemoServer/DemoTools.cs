using System.Globalization;

namespace Sark.DemoServer;

/// <summary>The built-in tools of the demo server and the tools added at runtime with <c>add_tool</c>.</summary>
internal sealed class DemoTools
{
    private const string EchoSchema = """
        {"type":"object","properties":{"message":{"type":"string","description":"Text to echo back"}},"required":["message"]}
        """;

    private static readonly TimeSpan ClientPingTimeout = TimeSpan.FromSeconds(5);

    private readonly JsonRpcConnection _connection;
    private readonly ServerStats _stats;

    /// <summary>Registers the built-in tools into <paramref name="registry"/>.</summary>
    public DemoTools(ToolRegistry registry, JsonRpcConnection connection, ServerStats stats)
    {
        Registry = registry;
        _connection = connection;
        _stats = stats;

        Register("echo", "Echoes the message back.", EchoSchema, EchoAsync);
        Register("add", "Adds two numbers.", """
            {"type":"object","properties":{"a":{"type":"number","description":"First addend"},"b":{"type":"number","description":"Second addend"}},"required":["a","b"]}
            """, AddAsync);
        Register("slow", "Waits the given number of milliseconds, then answers. With block, the whole server stops reading its input meanwhile (a hung server).", """
            {"type":"object","properties":{"ms":{"type":"integer","minimum":0,"default":1000,"description":"Milliseconds to wait"},"block":{"type":"boolean","default":false,"description":"Stop processing all input while waiting"}},"required":[]}
            """, SlowAsync);
        Register("fail", "Always returns an error result.", """
            {"type":"object","properties":{"message":{"type":"string","description":"Error text (default: Demo failure)"}},"required":[]}
            """, FailAsync);
        Register("crash", "Exits the server process at once without answering.", """
            {"type":"object","properties":{"exit_code":{"type":"integer","default":3,"description":"Process exit code"}},"required":[]}
            """, Crash);
        Register("large", "Returns a text of exactly the given number of bytes.", """
            {"type":"object","properties":{"bytes":{"type":"integer","minimum":0,"description":"Length of the text in bytes"}},"required":["bytes"]}
            """, LargeAsync);
        Register("noisy", "Writes the given number of lines to stderr.", """
            {"type":"object","properties":{"lines":{"type":"integer","minimum":0,"default":10,"description":"Lines to write to stderr"}},"required":[]}
            """, NoisyAsync);
        Register("stats", "Returns the server's call, cancellation and ping counters as JSON.", """
            {"type":"object","properties":{},"required":[]}
            """, StatsAsync);
        Register("ping_client", "Sends a ping request to the client and reports whether it answered.", """
            {"type":"object","properties":{},"required":[]}
            """, PingClientAsync);
        Register("add_tool", "Adds an echo-like tool with the given name and notifies list_changed.", """
            {"type":"object","properties":{"name":{"type":"string","description":"Name of the new tool"}},"required":["name"]}
            """, AddToolAsync);
        Register("args", "Returns the arguments it received, exactly, as JSON text (to check what a gateway sent).", """
            {"type":"object","properties":{},"required":[]}
            """, static (arguments, _) => ValueTask.FromResult(ToolResult.Text(arguments.Raw)));
        Register("env", "Returns the value of an environment variable, or <unset>.", """
            {"type":"object","properties":{"name":{"type":"string","description":"Environment variable name"}},"required":["name"]}
            """, EnvAsync);
    }

    /// <summary>All tools, built-in and dynamic.</summary>
    public ToolRegistry Registry { get; }

    private void Register(string name, string description, string schema, ToolHandler handler) =>
        Registry.TryAdd(new ToolDefinition(name, description, schema, handler));

    private static ValueTask<ToolResult> EchoAsync(ToolArguments arguments, CancellationToken cancellationToken) =>
        ValueTask.FromResult(ToolResult.Text("Echo: " + arguments.RequireString("message")));

    private static ValueTask<ToolResult> AddAsync(ToolArguments arguments, CancellationToken cancellationToken)
    {
        var a = arguments.RequireNumber("a");
        var b = arguments.RequireNumber("b");
        string sum;
        if (a.TryGetInt64(out var x) && b.TryGetInt64(out var y) && !AddOverflows(x, y))
        {
            sum = (x + y).ToString(CultureInfo.InvariantCulture);
        }
        else
        {
            sum = (a.GetDouble() + b.GetDouble()).ToString(CultureInfo.InvariantCulture);
        }

        return ValueTask.FromResult(ToolResult.Text(sum));
    }

    private static bool AddOverflows(long x, long y) => (x > 0 && y > long.MaxValue - x) || (x < 0 && y < long.MinValue - x);

    private async ValueTask<ToolResult> SlowAsync(ToolArguments arguments, CancellationToken cancellationToken)
    {
        var ms = arguments.GetInt32("ms", 1000, minimum: 0);
        if (arguments.GetBoolean("block"))
        {
            _connection.PauseInput(TimeSpan.FromMilliseconds(ms));
        }

        await Task.Delay(ms, cancellationToken).ConfigureAwait(false);
        return ToolResult.Text(string.Create(CultureInfo.InvariantCulture, $"Slept {ms} ms"));
    }

    private static ValueTask<ToolResult> FailAsync(ToolArguments arguments, CancellationToken cancellationToken) =>
        ValueTask.FromResult(ToolResult.Error(arguments.GetString("message") ?? "Demo failure"));

    private static ValueTask<ToolResult> Crash(ToolArguments arguments, CancellationToken cancellationToken)
    {
        var exitCode = arguments.GetInt32("exit_code", 3);
        Log.Info(string.Create(CultureInfo.InvariantCulture, $"crashing on request with exit code {exitCode}"));
        Environment.Exit(exitCode);
        throw new InvalidOperationException("unreachable");
    }

    private static ValueTask<ToolResult> LargeAsync(ToolArguments arguments, CancellationToken cancellationToken) =>
        ValueTask.FromResult(ToolResult.Filler(arguments.RequireInt32("bytes", minimum: 0)));

    private static ValueTask<ToolResult> NoisyAsync(ToolArguments arguments, CancellationToken cancellationToken)
    {
        var lines = arguments.GetInt32("lines", 10, minimum: 0);
        for (var i = 1; i <= lines; i++)
        {
            Log.Raw(string.Create(CultureInfo.InvariantCulture, $"noise line {i}"));
        }

        return ValueTask.FromResult(ToolResult.Text(string.Create(CultureInfo.InvariantCulture, $"Wrote {lines} lines to stderr")));
    }

    private ValueTask<ToolResult> StatsAsync(ToolArguments arguments, CancellationToken cancellationToken) =>
        ValueTask.FromResult(ToolResult.Text(_stats.ToJson()));

    private async ValueTask<ToolResult> PingClientAsync(ToolArguments arguments, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(ClientPingTimeout);
        try
        {
            await _connection.SendRequestAsync("ping", timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return ToolResult.Error("no pong");
        }
        catch (JsonRpcException ex)
        {
            Log.Info($"client answered ping with error {ex.Code}: {ex.Message}");
            return ToolResult.Error("no pong");
        }

        _stats.RecordClientPingAnswered();
        return ToolResult.Text("pong");
    }

    private async ValueTask<ToolResult> AddToolAsync(ToolArguments arguments, CancellationToken cancellationToken)
    {
        var name = arguments.RequireString("name");
        if (name.Length is 0 or > 128)
        {
            throw new ToolArgumentException("argument 'name' must be 1 to 128 characters long");
        }

        var tool = new ToolDefinition(name, $"Echoes the message back (dynamic tool '{name}').", EchoSchema, EchoAsync);
        if (!Registry.TryAdd(tool))
        {
            return ToolResult.Error($"Tool already exists: {name}");
        }

        await _connection.SendNotificationAsync("notifications/tools/list_changed").ConfigureAwait(false);
        return ToolResult.Text($"added {name}");
    }

    private static ValueTask<ToolResult> EnvAsync(ToolArguments arguments, CancellationToken cancellationToken) =>
        ValueTask.FromResult(ToolResult.Text(Environment.GetEnvironmentVariable(arguments.RequireString("name")) ?? "<unset>"));
}
