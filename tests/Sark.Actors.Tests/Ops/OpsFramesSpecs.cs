using System.Text;
using Sark.Actors.Ops;

namespace Sark.Actors.Tests.Ops;

public sealed class OpsFramesSpecs
{
    [Fact]
    public void A_frame_split_across_reads_comes_out_once_complete()
    {
        var splitter = new FrameSplitter();

        var first = splitter.Push(Encoding.UTF8.GetBytes("{\"type\":\"run\""));
        var second = splitter.Push(Encoding.UTF8.GetBytes(",\"id\":\"1\"}\r\n{\"type\":\"cancel\"}\n{\"ty"));

        Assert.Empty(first);
        Assert.Equal(["{\"type\":\"run\",\"id\":\"1\"}", "{\"type\":\"cancel\"}"], second);
        Assert.False(splitter.Overflowed);
    }

    [Fact]
    public void A_frame_longer_than_the_limit_overflows_instead_of_growing_the_buffer()
    {
        var splitter = new FrameSplitter(maxFrame: 16);

        var lines = splitter.Push(Encoding.UTF8.GetBytes(new string('x', 40) + "\n"));

        Assert.Empty(lines);
        Assert.True(splitter.Overflowed);
    }

    [Fact]
    public void Decode_accepts_objects_with_a_type_and_nothing_else()
    {
        Assert.Equal("run", OpsFrames.Decode("""{"type":"run","id":"1"}""")!.Text("type"));
        Assert.Null(OpsFrames.Decode("[1,2]"));
        Assert.Null(OpsFrames.Decode("""{"id":"1"}"""));
        Assert.Null(OpsFrames.Decode("not json"));
    }

    [Fact]
    public void Frames_are_one_line_of_json_each()
    {
        var bytes = OpsFrames.Encode(OpsFrames.Error("7", "not_found", "No upstream 'x'.\nSecond line."));
        var text = Encoding.UTF8.GetString(bytes);

        Assert.EndsWith("\n", text, StringComparison.Ordinal);
        Assert.Equal(1, text.Count(c => c == '\n'));
        Assert.Contains("\"code\":\"not_found\"", text, StringComparison.Ordinal);
        Assert.Contains("\"ok\":false", text, StringComparison.Ordinal);
    }
}
