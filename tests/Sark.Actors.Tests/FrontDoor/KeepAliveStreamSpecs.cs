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
    public async Task One_ticker_comments_on_every_registered_quiet_stream_until_it_is_closed()
    {
        await using var ticker = new KeepAliveTicker(TimeSpan.FromMilliseconds(10));
        var (first, second) = (new MemoryStream(), new MemoryStream());
        var a = new KeepAliveStream(first, () => true);
        var b = new KeepAliveStream(second, () => true);
        using (ticker.Register(a))
        using (ticker.Register(b))
        {
            Assert.Equal(2, ticker.Count);
            var until = DateTime.UtcNow + TimeSpan.FromSeconds(10);
            while ((a.CommentsWritten < 2 || b.CommentsWritten < 2) && DateTime.UtcNow < until)
                await Task.Delay(5);
            await a.CloseAsync();
            await b.CloseAsync();
        }

        Assert.True(a.CommentsWritten >= 2 && b.CommentsWritten >= 2, $"{a.CommentsWritten} and {b.CommentsWritten} comments");
        Assert.Equal(0, ticker.Count);
        var written = first.Length;
        Assert.False(await a.TickAsync(CancellationToken.None));
        Assert.Equal(written, first.Length);
    }
}
