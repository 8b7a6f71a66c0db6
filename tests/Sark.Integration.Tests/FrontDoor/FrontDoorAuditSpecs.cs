using Microsoft.Data.Sqlite;
using ModelContextProtocol;
using Sark.Integration.Tests.Infrastructure;

namespace Sark.Integration.Tests.FrontDoor;

/// <summary>server-everything behind the front door, callers alice and bob, and a rule that denies alice the dynamic resources.</summary>
public sealed class FrontDoorAuditNodeFixture : FrontDoorNodeFixture
{
    private const string DenyDynamic = """
        subjects = [alice, bob] }
          { name = no-dynamic, effect = deny, subjects = [alice], actions = ["resource:read"], tools = ["demo://resource/dynamic/*"], reason = "no dynamic resources for alice" }
        ]
        """;

    protected override string Config => $$"""
        {{TwoCallers.Replace("subjects = [alice, bob] } ]", DenyDynamic, StringComparison.Ordinal)}}
        sark {
          node.shutdown-drain = 2s
          {{NodeConfigs.EverythingUpstream()}}
        }
        """;
}

/// <summary>
/// Resource reads and prompt gets made through <c>/mcp</c> are audited as the caller: a decision
/// row and an outcome row each, read back from the node's SQLite audit store, with the caller, the
/// server, the operation and its item (<c>resource:read &lt;uri&gt;</c>, <c>prompt:get &lt;name&gt;</c>,
/// the upstream's own URI and name) and the outcome.
/// </summary>
public sealed class FrontDoorAuditSpecs(FrontDoorAuditNodeFixture fixture) : IClassFixture<FrontDoorAuditNodeFixture>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task A_resource_read_and_a_prompt_get_leave_a_decision_and_an_outcome_of_their_caller()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        await using var bob = await FrontDoorClients.ConnectAsync(fixture.Node, timeout.Token, apiKey: FrontDoorNodeFixture.BobKey);
        const string uri = "demo://resource/dynamic/text/3";

        await bob.ReadResourceAsync("sark://everything/" + uri, cancellationToken: timeout.Token);
        await bob.GetPromptAsync("everything__simple-prompt", cancellationToken: timeout.Token);

        var read = await RowsAsync("bob", $"resource:read {uri}", 2);
        var prompt = await RowsAsync("bob", "prompt:get simple-prompt", 2);
        foreach (var rows in new[] { read, prompt })
        {
            Assert.Equal(["decision", "outcome"], rows.Select(r => r.EventType));
            Assert.All(rows, r => Assert.Equal("everything", r.Server));
            Assert.Equal("allow", rows[0].Decision);
            Assert.Equal("ok", rows[1].Outcome);
            Assert.Equal("everything", rows[1].Upstream);
            Assert.Equal(rows[0].RequestId, rows[1].RequestId);
        }

        Assert.NotEqual(read[0].RequestId, prompt[0].RequestId);
    }

    [Fact]
    public async Task A_denied_read_and_an_upstream_refusal_are_audited_with_their_outcome()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        await using var alice = await FrontDoorClients.ConnectAsync(fixture.Node, timeout.Token, apiKey: FrontDoorNodeFixture.AliceKey);
        const string denied = "demo://resource/dynamic/text/4";
        const string missing = "demo://resource/no-such-thing";

        var deny = await Assert.ThrowsAsync<McpProtocolException>(() => alice.ReadResourceAsync("sark://everything/" + denied, cancellationToken: timeout.Token).AsTask());
        var refusal = await Assert.ThrowsAsync<McpProtocolException>(() => alice.ReadResourceAsync("sark://everything/" + missing, cancellationToken: timeout.Token).AsTask());
        Assert.Equal("policy_denied", deny.Data["code"]?.ToString());
        Assert.Equal("upstream_error", refusal.Data["code"]?.ToString());

        var deniedRows = await RowsAsync("alice", $"resource:read {denied}", 2);
        var refusedRows = await RowsAsync("alice", $"resource:read {missing}", 2);

        Assert.Equal(("decision", "deny"), (deniedRows[0].EventType, deniedRows[0].Decision));
        Assert.Contains("no dynamic resources for alice", deniedRows[0].Reason, StringComparison.Ordinal);
        Assert.Equal(("outcome", "policy_denied"), (deniedRows[1].EventType, deniedRows[1].Outcome));
        Assert.Null(deniedRows[1].Upstream);
        Assert.Equal(("decision", "allow"), (refusedRows[0].EventType, refusedRows[0].Decision));
        Assert.Equal(("outcome", "upstream_error"), (refusedRows[1].EventType, refusedRows[1].Outcome));
        Assert.Equal("everything", refusedRows[1].Upstream);
    }

    /// <summary>The audit rows of <paramref name="subject"/> for <paramref name="operation"/>, in order, once there are <paramref name="count"/>.</summary>
    private async Task<List<AuditRow>> RowsAsync(string subject, string operation, int count) =>
        await Eventually.UntilAsync(() => QueryAsync(fixture.Node.AuditDatabase!, subject, operation), rows => rows.Count >= count, Timeout,
            $"{count} audit rows of {subject} for {operation}");

    private static async Task<List<AuditRow>> QueryAsync(string database, string subject, string operation)
    {
        if (!File.Exists(database))
            return [];
        try
        {
            return await ReadRowsAsync(database, subject, operation);
        }
        catch (SqliteException)
        {
            // The node is still creating the store (no table yet) or holds its lock: probe again.
            return [];
        }
    }

    private static async Task<List<AuditRow>> ReadRowsAsync(string database, string subject, string operation)
    {
        await using var connection = new SqliteConnection($"Data Source={database};Mode=ReadOnly;Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT event_type, request_id, server_name, decision, reason, outcome, upstream
            FROM audit_events WHERE subject_id = $subject AND tool_name = $operation ORDER BY id
            """;
        command.Parameters.AddWithValue("$subject", subject);
        command.Parameters.AddWithValue("$operation", operation);
        var rows = new List<AuditRow>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            rows.Add(new AuditRow(
                reader.GetString(0), reader.GetString(1), Text(reader, 2), Text(reader, 3), Text(reader, 4), Text(reader, 5), Text(reader, 6)));
        }

        return rows;
    }

    private static string? Text(SqliteDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    private sealed record AuditRow(string EventType, string RequestId, string? Server, string? Decision, string? Reason, string? Outcome, string? Upstream);
}
