using Microsoft.Extensions.Logging;
using Sark.Actors.Ops;

namespace Sark.Actors.Tests.Ops;

public sealed class RecentLogsSpecs
{
    [Fact]
    public void The_ring_keeps_the_last_lines_oldest_first()
    {
        var ring = new RecentLogs(capacity: 3);
        var logger = ring.CreateLogger("spec");
        for (var i = 1; i <= 5; i++)
            logger.LogInformation("line {N}", i);

        Assert.Equal(["line 3", "line 4", "line 5"], ring.Last(10).Select(l => l.Message));
        Assert.Equal(["line 4", "line 5"], ring.Last(2).Select(l => l.Message));
        Assert.Equal(5, ring.Written);
    }

    [Fact]
    public void Debug_lines_are_not_kept_and_secrets_are_redacted()
    {
        var ring = new RecentLogs(capacity: 10);
        var logger = ring.CreateLogger("spec");
        logger.LogDebug("chatty");
        logger.LogWarning("upstream refused X-API-Key: verysecretkey123");

        var line = Assert.Single(ring.Last(10));
        Assert.Equal("warn", line.Level);
        Assert.DoesNotContain("verysecretkey123", line.Message, StringComparison.Ordinal);
    }
}

public sealed class RecentLogsAkkaSpecs
{
    [Fact]
    public void An_akka_log_line_is_kept_with_the_actor_path_as_its_category()
    {
        var ring = new RecentLogs(capacity: 4);

        ring.Add(DateTimeOffset.UnixEpoch, LogLevel.Warning, "Akka.Actor.ActorSystem",
            "[WARNING][11/24/2026 09:08:29.307Z][Thread 0015][akka://sark/user/sark/upstreams/demo] Upstream demo circuit open");

        var line = Assert.Single(ring.Last(1));
        Assert.Equal("akka://sark/user/sark/upstreams/demo", line.Category);
        Assert.Equal("Upstream demo circuit open", line.Message);
    }
}
