using System.Diagnostics;
using System.Text.Json;
using Akka.TestKit.Xunit2;
using Sark.Actors.Errors;
using Sark.Actors.Protocol;
using Sark.Actors.Upstreams.Stdio;
using Xunit;
using Xunit.Abstractions;
using static Sark.Actors.Upstreams.UpstreamReplies;

namespace Sark.Actors.Tests;

/// <summary>
/// Plain tool calls answered from the stdout reader of a stdio connection (<see cref="ReplyShortcut"/>):
/// once, by whoever claims the call first, and always with a note to the connection.
/// </summary>
public sealed class ReplyShortcutSpecs(ITestOutputHelper output) : TestKit(output: output)
{
    private static JsonElement Json(string text) => JsonDocument.Parse(text).RootElement.Clone();

    private static PendingCall Call(string requestId, Akka.Actor.IActorRef replyTo) =>
        new(PendingKind.CallTool, requestId, "echo", replyTo, Stopwatch.GetTimestamp());

    [Fact]
    public void An_offered_call_is_answered_by_the_reader_and_the_connection_gets_a_note_instead_of_the_response()
    {
        var connection = CreateTestProbe();
        var caller = CreateTestProbe();
        var shortcut = new ReplyShortcut(connection.Ref, "demo");
        shortcut.Offer(7, Call("req-7", caller.Ref));

        shortcut.Deliver(new JsonRpcInbound.Response(7, Json("""{"content":[{"type":"text","text":"hi"}]}"""), null));

        var completed = caller.ExpectMsg<ToolCallCompleted>();
        Assert.Equal("req-7", completed.RequestId);
        Assert.False(completed.IsError);
        Assert.Equal("hi", completed.Result.GetProperty("content")[0].GetProperty("text").GetString());
        Assert.Equal(7, connection.ExpectMsg<ReplyShortcut.Answered>().Id);
        Assert.Equal(0, shortcut.Count);
    }

    [Fact]
    public void A_tool_error_and_a_json_rpc_error_are_answered_as_the_connection_would()
    {
        var connection = CreateTestProbe();
        var caller = CreateTestProbe();
        var shortcut = new ReplyShortcut(connection.Ref, "demo");
        shortcut.Offer(1, Call("tool-error", caller.Ref));
        shortcut.Offer(2, Call("rpc-error", caller.Ref));

        shortcut.Deliver(new JsonRpcInbound.Response(1, Json("""{"content":[],"isError":true}"""), null));
        shortcut.Deliver(new JsonRpcInbound.Response(2, null, new JsonRpcErrorInfo(-32602, "bad arguments", null)));

        Assert.True(caller.ExpectMsg<ToolCallCompleted>().IsError);
        var failed = caller.ExpectMsg<ToolCallFailed>();
        Assert.Equal("rpc-error", failed.RequestId);
        Assert.Equal(SarkErrorCode.UpstreamError, failed.Error.Code);
        Assert.Equal(-32602, failed.Error.JsonRpcCode);
        Assert.Contains("bad arguments", failed.Error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_call_the_connection_claimed_first_is_not_answered_again()
    {
        var connection = CreateTestProbe();
        var caller = CreateTestProbe();
        var shortcut = new ReplyShortcut(connection.Ref, "demo");
        var call = Call("req-1", caller.Ref);
        shortcut.Offer(1, call);

        // The connection timed it out (and answered) while the response was on its way.
        Assert.True(call.TryClaim());
        shortcut.Deliver(new JsonRpcInbound.Response(1, Json("""{"content":[]}"""), null));

        Assert.Equal(1, connection.ExpectMsg<ReplyShortcut.Answered>().Id);
        caller.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        Assert.False(call.TryClaim());
    }

    [Fact]
    public void Responses_to_calls_not_offered_or_withdrawn_and_every_other_message_go_to_the_connection()
    {
        var connection = CreateTestProbe();
        var caller = CreateTestProbe();
        var shortcut = new ReplyShortcut(connection.Ref, "demo");
        shortcut.Offer(3, Call("req-3", caller.Ref));
        shortcut.Withdraw(3);

        var withdrawn = new JsonRpcInbound.Response(3, Json("{}"), null);
        var unknown = new JsonRpcInbound.Response(4, Json("{}"), null);
        var progress = new JsonRpcInbound.Notification("notifications/progress", Json("""{"progressToken":5,"progress":1}"""));
        shortcut.Deliver(withdrawn);
        shortcut.Deliver(unknown);
        shortcut.Deliver(progress);

        Assert.Same(withdrawn, connection.ExpectMsg<JsonRpcInbound.Response>());
        Assert.Same(unknown, connection.ExpectMsg<JsonRpcInbound.Response>());
        Assert.Same(progress, connection.ExpectMsg<JsonRpcInbound.Notification>());
        caller.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public void A_call_is_claimed_once_among_racing_threads()
    {
        for (var round = 0; round < 200; round++)
        {
            var call = Call($"req-{round}", TestActor);
            var wins = 0;
            Parallel.For(0, 4, _ =>
            {
                if (call.TryClaim())
                    Interlocked.Increment(ref wins);
            });
            Assert.Equal(1, wins);
        }
    }
}
