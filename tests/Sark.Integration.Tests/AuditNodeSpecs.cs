using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Sark.Integration.Tests.Infrastructure;

namespace Sark.Integration.Tests;

/// <summary>Audit on a real node (issue 6): every decision and every outcome, durable across a SIGTERM, queryable and followable.</summary>
public sealed class AuditNodeSpecs(Xunit.Abstractions.ITestOutputHelper output)
{
    private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();

    private void Mark(string what) => output.WriteLine($"{_clock.Elapsed.TotalSeconds:0.00}s {what}");

    private static string Config => NodeConfigs.Demo();

    private static async Task<long> CountAsync(string database, string sql)
    {
        await using var connection = new SqliteConnection($"Data Source={database};Mode=ReadOnly;Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        return (long)(await command.ExecuteScalarAsync())!;
    }

    [Fact]
    public async Task Ten_thousand_invocations_then_sigterm_leave_every_decision_and_outcome_in_the_store()
    {
        const int Calls = 10_000;
        await using var node = await NodeProcess.StartAsync(Config);
        await DemoNodeFixture.WaitUntilReadyAsync(node);
        var database = node.AuditDatabase!;

        var next = 0;
        var failures = 0;
        var workers = Enumerable.Range(0, 16).Select(async _ =>
        {
            while (Interlocked.Increment(ref next) <= Calls)
            {
                using var response = await node.Http.PostAsJsonAsync("/api/v1/invoke", new { server = "demo", tool = "echo", parameters = new { message = "audit" } });
                if (response.StatusCode != HttpStatusCode.OK)
                    Interlocked.Increment(ref failures);
            }
        });
        await Task.WhenAll(workers).WaitAsync(TimeSpan.FromMinutes(4));
        Assert.Equal(0, failures);

        Assert.Equal(0, await node.StopAsync(TimeSpan.FromSeconds(60)));

        Assert.Equal(Calls, await CountAsync(database, "SELECT COUNT(*) FROM audit_events WHERE event_type = 'decision' AND decision = 'allow' AND tool_name = 'echo'"));
        Assert.Equal(Calls, await CountAsync(database, "SELECT COUNT(*) FROM audit_events WHERE event_type = 'outcome' AND outcome = 'ok' AND tool_name = 'echo'"));
        Assert.Equal(Calls, await CountAsync(database, "SELECT COUNT(DISTINCT request_id) FROM audit_events WHERE tool_name = 'echo'"));
        Assert.Equal(0, await CountAsync(database, "SELECT COUNT(*) FROM audit_events WHERE arguments_hash IS NULL OR subject_id <> 'local'"));
    }

    [Fact]
    public async Task The_audit_api_answers_queries_and_follows_new_events_live()
    {
        await using var node = await NodeProcess.StartAsync(Config);
        await DemoNodeFixture.WaitUntilReadyAsync(node);
        Mark("ready");
        using var first = await node.Http.PostAsJsonAsync("/api/v1/invoke", new { server = "demo", tool = "echo", parameters = new { message = "one" } });
        first.EnsureSuccessStatusCode();
        // The first call's events are written (batches go out within batch.interval) before the stream opens.
        await Eventually.UntilAsync(async () => (await node.Http.GetFromJsonAsync<JsonElement>("/api/v1/audit")).GetProperty("events").GetArrayLength(),
            n => n == 2, TimeSpan.FromSeconds(15), "the first call's two events in the store");

        Mark("first stored");
        using var stream = await node.Http.GetAsync("/api/v1/audit/stream", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal("text/event-stream", stream.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await stream.Content.ReadAsStreamAsync());
        using var second = await node.Http.PostAsJsonAsync("/api/v1/invoke", new { server = "demo", tool = "add", parameters = new { a = 1, b = 2 } });
        second.EnsureSuccessStatusCode();
        var requestId = second.Headers.GetValues("X-Request-ID").Single();
        Mark("second answered");

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var live = new List<JsonElement>();
        while (live.Count < 2)
        {
            var line = await reader.ReadLineAsync(timeout.Token);
            if (line is not null && line.StartsWith("data: ", StringComparison.Ordinal))
                live.Add(JsonDocument.Parse(line["data: ".Length..]).RootElement.Clone());
        }

        Mark("live read");
        Assert.All(live, e => Assert.Equal(requestId, e.GetProperty("request_id").GetString()));
        Assert.Equal(["decision", "outcome"], live.Select(e => e.GetProperty("event_type").GetString()));
        Assert.Equal("ok", live[1].GetProperty("outcome").GetString());

        var all = await Eventually.UntilAsync(async () => (await node.Http.GetFromJsonAsync<JsonElement>("/api/v1/audit?server=demo&limit=1000")).GetProperty("events"),
            events => events.GetArrayLength() >= 4, TimeSpan.FromSeconds(15), "four events in the store");
        Assert.Equal(4, all.GetArrayLength());
        var decisions = await node.Http.GetFromJsonAsync<JsonElement>("/api/v1/audit?decision=allow");
        Assert.Equal(2, decisions.GetProperty("events").GetArrayLength());
        using var bad = await node.Http.GetAsync("/api/v1/audit?limit=5000");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Contains("limit", await bad.Content.ReadAsStringAsync());
        Mark("queried");
    }
}
