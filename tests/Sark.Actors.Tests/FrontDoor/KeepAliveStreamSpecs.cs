using System.Text;
using Sark.Host.FrontDoor;

namespace Sark.Actors.Tests.FrontDoor;

/// <summary>Keep-alive comments on SSE streams (<see cref="KeepAliveStream"/>): only when quiet, only between events.</summary>
public sealed class KeepAliveStreamSpecs
{
    [Fact]
    public async Task A_quiet_event_stream_gets_a_comment_per_quiet_period_between_whole_events()
    {
        var inner = new MemoryStream();
        var stream = new KeepAliveStream(inner, () => true);
        await stream.WriteAsync(Encoding.UTF8.GetBytes("event: endpoint\ndata: /messages\n\n"));

        Assert.False(await stream.TickAsync(default)); // the period in which the event was written
        Assert.True(await stream.TickAsync(default));
        Assert.True(await stream.TickAsync(default));
        await stream.WriteAsync(Encoding.UTF8.GetBytes("data: {}\n\n"));
        Assert.False(await stream.TickAsync(default));

        Assert.Equal(
            "event: endpoint\ndata: /messages\n\n: keep-alive\n\n: keep-alive\n\ndata: {}\n\n",
            Encoding.UTF8.GetString(inner.ToArray()));
        Assert.Equal(2, stream.CommentsWritten);
    }

    [Fact]
    public async Task No_comment_is_written_before_the_response_is_an_event_stream()
    {
        var inner = new MemoryStream();
        var isEventStream = false;
        var stream = new KeepAliveStream(inner, () => isEventStream);

        Assert.False(await stream.TickAsync(default));
        isEventStream = true;
        Assert.True(await stream.TickAsync(default));

        Assert.Equal(": keep-alive\n\n", Encoding.UTF8.GetString(inner.ToArray()));
    }

    [Fact]
    public async Task No_comment_is_written_inside_an_event()
    {
        var inner = new MemoryStream();
        var stream = new KeepAliveStream(inner, () => true);
        await stream.WriteAsync(Encoding.UTF8.GetBytes("data: {\"a\":1}\n"));

        Assert.False(await stream.TickAsync(default));
        Assert.False(await stream.TickAsync(default));
        await stream.WriteAsync(Encoding.UTF8.GetBytes("\n"));
        Assert.False(await stream.TickAsync(default));
        Assert.True(await stream.TickAsync(default));

        Assert.Equal("data: {\"a\":1}\n\n: keep-alive\n\n", Encoding.UTF8.GetString(inner.ToArray()));
    }

    [Fact]
    public async Task The_loop_writes_comments_on_its_timer_until_cancelled()
    {
        var inner = new MemoryStream();
        var stream = new KeepAliveStream(inner, () => true);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(10));

        var loop = stream.RunAsync(TimeSpan.FromMilliseconds(10), stop.Token);
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (stream.CommentsWritten < 2 && DateTime.UtcNow < until)
            await Task.Delay(5);
        await stop.CancelAsync();
        await loop;

        Assert.True(stream.CommentsWritten >= 2, $"{stream.CommentsWritten} comments");
    }
}
