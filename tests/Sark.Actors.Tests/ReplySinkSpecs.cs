using System.Diagnostics;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using Sark.Actors.Upstreams;
using Xunit;
using Xunit.Abstractions;

namespace Sark.Actors.Tests;

/// <summary>The reply path of calls sent straight to a ready connection (<see cref="ReplySink"/>, <see cref="ReplySinks"/>).</summary>
public sealed class ReplySinkSpecs(ITestOutputHelper output) : TestKit(output: output)
{
    [Fact]
    public async Task An_answer_told_to_the_sink_completes_its_task_and_the_sender_sees_the_sink_as_its_sender()
    {
        var sinks = new ReplySinks(TestActor);
        var connection = CreateTestProbe();
        var sink = sinks.Open(connection.Ref, "req-1", "demo", TimeSpan.FromSeconds(30));

        connection.Ref.Tell("call", sink);
        connection.ExpectMsg("call");
        connection.LastSender.Tell("answer");

        Assert.Equal("answer", await sink.Reply.Task.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.Equal(1, sinks.Count);
        sinks.Close(sink);
        Assert.Equal(0, sinks.Count);
    }

    [Fact]
    public async Task The_sweep_fails_only_the_sinks_past_their_deadline()
    {
        var sinks = new ReplySinks(TestActor);
        var late = sinks.Open(TestActor, "late", "demo", TimeSpan.Zero);
        var early = sinks.Open(TestActor, "early", "demo", TimeSpan.FromMinutes(5));

        Assert.Equal(1, sinks.Sweep(Stopwatch.GetTimestamp()));

        await Assert.ThrowsAsync<AskTimeoutException>(() => late.Reply.Task.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.False(early.Reply.Task.IsCompleted);
        // A sink that was answered is not failed by a later sweep.
        early.Tell("answer");
        Assert.Equal(0, sinks.Sweep(Stopwatch.GetTimestamp() + Stopwatch.Frequency * 600));
        Assert.Equal("answer", await early.Reply.Task);
    }

    [Fact]
    public async Task Many_sinks_share_one_path_and_each_keeps_its_own_answer()
    {
        var sinks = new ReplySinks(TestActor);
        var a = sinks.Open(TestActor, "a", "demo", TimeSpan.FromSeconds(30));
        var b = sinks.Open(TestActor, "b", "demo", TimeSpan.FromSeconds(30));

        b.Tell(new UpstreamCommands.CancelCall("b", "demo"));
        a.Tell("for a");

        Assert.Equal(a.Path, b.Path);
        Assert.Equal("for a", await a.Reply.Task);
        Assert.IsType<UpstreamCommands.CancelCall>(await b.Reply.Task);
    }
}
