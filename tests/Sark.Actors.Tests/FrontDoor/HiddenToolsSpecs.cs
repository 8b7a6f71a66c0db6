using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using Sark.Host.FrontDoor;

namespace Sark.Actors.Tests.FrontDoor;

/// <summary>
/// <see cref="HiddenTools"/>, compiled in from Sark.Host: a tool left out of <c>tools/list</c> is
/// logged at Warning and counted (<c>sark.frontdoor.tools.hidden</c>) once per server and tool.
/// </summary>
public sealed class HiddenToolsSpecs
{
    private readonly Lines _log = new();
    private readonly HiddenTools _hidden;

    public HiddenToolsSpecs() => _hidden = new HiddenTools(new ToolNames("__"), _log);

    [Fact]
    public void A_hidden_tool_is_reported_once_however_often_it_is_listed()
    {
        var server = Unique();
        using var counted = new Counted(server);

        var first = _hidden.Report(server, "has space", qualified: true);
        var again = Enumerable.Range(0, 100).Count(_ => _hidden.Report(server, "has space", qualified: true));
        var atOwnEndpoint = _hidden.Report(server, "has space", qualified: false);

        Assert.True(first);
        Assert.Equal(0, again);
        Assert.False(atOwnEndpoint);
        Assert.Equal(1, counted.Total);
        var line = Assert.Single(_log.Entries);
        Assert.Equal(LogLevel.Warning, line.Level);
        Assert.Contains("has space", line.Message, StringComparison.Ordinal);
        Assert.Contains(server, line.Message, StringComparison.Ordinal);
        Assert.Contains("character outside", line.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Each_server_and_tool_is_its_own_report_counted_by_server()
    {
        var (a, b) = (Unique(), Unique());
        using var countedA = new Counted(a);
        using var countedB = new Counted(b);

        Assert.True(_hidden.Report(a, "x y", qualified: true));
        Assert.True(_hidden.Report(a, "x/y", qualified: true));
        Assert.True(_hidden.Report(b, "x y", qualified: true));

        Assert.Equal(2, countedA.Total);
        Assert.Equal(1, countedB.Total);
        Assert.Equal(3, _log.Entries.Count);
    }

    [Fact]
    public void Concurrent_listings_report_a_tool_once()
    {
        var server = Unique();
        using var counted = new Counted(server);
        var firsts = 0;

        Parallel.For(0, 64, new ParallelOptions { MaxDegreeOfParallelism = 8 }, _ =>
        {
            if (_hidden.Report(server, "bad name", qualified: true))
                Interlocked.Increment(ref firsts);
        });

        Assert.Equal(1, firsts);
        Assert.Equal(1, counted.Total);
    }

    [Fact]
    public void A_hidden_prompt_is_reported_once_on_its_own_counter_apart_from_a_tool_of_the_same_name()
    {
        var server = Unique();
        using var tools = new Counted(server);
        using var prompts = new Counted(server, "sark.frontdoor.prompts.hidden");

        var first = _hidden.Report(HiddenKind.Prompt, server, "has space", qualified: true);
        var again = Enumerable.Range(0, 20).Count(_ => _hidden.Report(HiddenKind.Prompt, server, "has space", qualified: true));
        var tool = _hidden.Report(server, "has space", qualified: true);

        Assert.True(first);
        Assert.Equal(0, again);
        Assert.True(tool);
        Assert.Equal(1, prompts.Total);
        Assert.Equal(1, tools.Total);
        var prompt = Assert.Single(_log.Entries, e => e.Message.Contains("prompts/list", StringComparison.Ordinal));
        Assert.Equal(LogLevel.Warning, prompt.Level);
        Assert.Contains($"prompt has space (9 characters) of server {server}", prompt.Message, StringComparison.Ordinal);
        Assert.Contains($"/servers/{server}/mcp", prompt.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("de__mo", "greet", "no prompt of it has a front-door name at /mcp; its prompts are listed at /servers/de__mo/mcp")]
    [InlineData("demo", "say hello", "character outside A-Z a-z 0-9 _ - . (front-door names follow MCP's tool-name rules); it is listed at /servers/demo/mcp")]
    [InlineData("demo", "", "the name is empty")]
    public void The_reason_for_a_prompt_points_to_the_single_server_endpoint(string server, string prompt, string expected) =>
        Assert.Contains(expected, _hidden.Reason(HiddenKind.Prompt, server, prompt, qualified: true), StringComparison.Ordinal);

    [Fact]
    public void A_prompt_name_too_long_under_its_server_is_listed_under_its_own_name()
    {
        var prompt = new string('p', ToolNames.MaxLength + 10);

        var reason = _hidden.Reason(HiddenKind.Prompt, "demo", prompt, qualified: true);

        Assert.Contains($"would be {ToolNames.MaxLength + 16} characters", reason, StringComparison.Ordinal);
        Assert.Contains("/servers/demo/mcp under its own name", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void The_memory_of_reported_tools_is_bounded()
    {
        var server = Unique();
        for (var i = 0; i < HiddenTools.MaxRemembered + 10; i++)
            _hidden.Report(server, $"tool {i}", qualified: true);

        Assert.InRange(_hidden.Remembered, 1, HiddenTools.MaxRemembered);
        // Cleared once full: the first one is reported again.
        Assert.True(_hidden.Report(server, "tool 0", qualified: true));
    }

    [Fact]
    public void A_name_too_long_only_under_its_server_points_to_the_single_server_endpoint()
    {
        var tool = new string('t', ToolNames.MaxLength - 3);

        var reason = _hidden.Reason("demo", tool, qualified: true);

        Assert.Contains($"would be {ToolNames.MaxLength + 3} characters", reason, StringComparison.Ordinal);
        Assert.Contains("/servers/demo/mcp", reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("de__mo", "echo", true, "contains the separator '__'")]
    [InlineData("demo", "has space", false, "character outside")]
    [InlineData("demo", "", false, "empty")]
    public void The_reason_names_what_does_not_fit(string server, string tool, bool qualified, string expected) =>
        Assert.Contains(expected, _hidden.Reason(server, tool, qualified), StringComparison.Ordinal);

    [Fact]
    public void A_tool_over_128_characters_of_its_own_is_too_long_everywhere() =>
        Assert.Equal($"the name is over MCP's {ToolNames.MaxLength} characters", _hidden.Reason("demo", new string('t', 200), qualified: false));

    [Fact]
    public void The_logged_name_is_cut_short_and_printable()
    {
        Assert.Equal("a?b?c", HiddenTools.Printable("a\nb\u0001c"));
        var shown = HiddenTools.Printable(new string('t', 1000));
        Assert.Equal(HiddenTools.ShownLength + 1, shown.Length);
        Assert.EndsWith("…", shown, StringComparison.Ordinal);
    }

    private static string Unique() => "hidden-" + Guid.NewGuid().ToString("N")[..8];

    /// <summary>What <c>sark.frontdoor.tools.hidden</c> (or <paramref name="instrumentName"/>) counted for one server while it lived.</summary>
    private sealed class Counted : IDisposable
    {
        private readonly MeterListener _listener = new();
        private long _total;

        public Counted(string server, string instrumentName = "sark.frontdoor.tools.hidden")
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Name == instrumentName)
                    listener.EnableMeasurementEvents(instrument);
            };
            _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
            {
                foreach (var tag in tags)
                {
                    if (tag.Key == "server" && Equals(tag.Value, server))
                        Interlocked.Add(ref _total, value);
                }
            });
            _listener.Start();
        }

        public long Total => Interlocked.Read(ref _total);

        public void Dispose() => _listener.Dispose();
    }

    /// <summary>The lines logged, with their level.</summary>
    private sealed class Lines : ILogger<HiddenTools>
    {
        private readonly ConcurrentQueue<(LogLevel Level, string Message)> _entries = new();

        public IReadOnlyList<(LogLevel Level, string Message)> Entries => [.. _entries];

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            _entries.Enqueue((logLevel, formatter(state, exception)));
    }
}
