using System.Text.Json;
using System.Text.Json.Nodes;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using Sark.Actors.Errors;
using Sark.Host.FrontDoor;

namespace Sark.Actors.Tests.FrontDoor;

/// <summary><see cref="FrontDoorErrors"/>: which failures are JSON-RPC errors and which are <c>isError</c> results, and what both carry.</summary>
public sealed class FrontDoorErrorsSpecs
{
    [Fact]
    public void Not_found_is_invalid_params_with_our_code_and_request_id_in_the_data()
    {
        var ex = FrontDoorErrors.ProtocolError(new SarkNotFoundException("Server 'x' is not known.", "r-1"), "tool: 'x__y'", "fallback");

        Assert.NotNull(ex);
        Assert.Equal(McpErrorCode.InvalidParams, ex.ErrorCode);
        Assert.Equal("Unknown tool: 'x__y'.", ex.Message);
        Assert.Equal("not_found", ex.Data["code"]);
        Assert.Equal("r-1", ex.Data["request_id"]);
    }

    [Fact]
    public void An_upstream_json_rpc_error_is_relayed_with_its_code_and_its_data()
    {
        var data = JsonDocument.Parse("""{"field":"ms"}""").RootElement;
        var upstream = new UpstreamErrorException("Upstream 'demo' answered tools/call 'slow' with JSON-RPC error -32602: bad ms", null, -32602, data, "r-2");

        var ex = FrontDoorErrors.ProtocolError(upstream, "tool: 'demo__slow'", "fallback");

        Assert.NotNull(ex);
        Assert.Equal(McpErrorCode.InvalidParams, ex.ErrorCode);
        Assert.Equal("upstream_error", ex.Data["code"]);
        Assert.Equal("r-2", ex.Data["request_id"]);
        Assert.Equal("ms", ((JsonElement)ex.Data["upstream_data"]!).GetProperty("field").GetString());
    }

    [Theory]
    [InlineData(SarkErrorCode.PolicyDenied)]
    [InlineData(SarkErrorCode.PolicyUnavailable)]
    [InlineData(SarkErrorCode.UpstreamTimeout)]
    [InlineData(SarkErrorCode.TooLarge)]
    [InlineData(SarkErrorCode.ShuttingDown)]
    [InlineData(SarkErrorCode.InvalidRequest)]
    public void Other_failures_are_error_results_not_protocol_errors(SarkErrorCode code)
    {
        var ex = new SarkException(code, "It failed.", "r-3");

        Assert.Null(FrontDoorErrors.ProtocolError(ex, "tool: 'a__b'", "fallback"));
        var result = FrontDoorErrors.ErrorResult(ex, "fallback");
        Assert.True(result.IsError);
        Assert.Equal($"{code.ToWire()}: It failed.", Assert.IsType<TextContentBlock>(Assert.Single(result.Content)).Text);
        var sark = result.Meta!["sark"]!.AsObject();
        Assert.Equal(code.ToWire(), sark["code"]!.GetValue<string>());
        Assert.Equal("r-3", sark["request_id"]!.GetValue<string>());
    }

    [Fact]
    public void An_upstream_error_without_a_json_rpc_code_is_an_error_result()
    {
        var ex = new UpstreamErrorException("Upstream 'g' answered with HTTP 502.", 502, null, null);

        Assert.Null(FrontDoorErrors.ProtocolError(ex, "tool: 'g__t'", "r-4"));
        Assert.Equal("r-4", FrontDoorErrors.ErrorResult(ex, "r-4").Meta!["sark"]!["request_id"]!.GetValue<string>());
    }

    [Fact]
    public void An_unavailable_upstream_says_when_to_retry_in_whole_seconds()
    {
        var result = FrontDoorErrors.ErrorResult(new UpstreamUnavailableException("Down.", TimeSpan.FromMilliseconds(1200), "r-5"), "fallback");

        Assert.Equal(2, result.Meta!["sark"]!["retry_after_seconds"]!.GetValue<double>());
        Assert.IsType<JsonObject>(result.Meta);
    }
}

/// <summary><see cref="FrontDoorErrors.RequestError"/>: resources and prompts have no isError result, so every failure is a JSON-RPC error.</summary>
public sealed class FrontDoorRequestErrorsSpecs
{
    [Theory]
    [InlineData(SarkErrorCode.PolicyDenied, McpErrorCode.InvalidRequest)]
    [InlineData(SarkErrorCode.InvalidRequest, McpErrorCode.InvalidRequest)]
    [InlineData(SarkErrorCode.UpstreamUnavailable, McpErrorCode.InternalError)]
    [InlineData(SarkErrorCode.UpstreamTimeout, McpErrorCode.InternalError)]
    [InlineData(SarkErrorCode.NotFound, McpErrorCode.InvalidParams)]
    public void Each_code_has_its_json_rpc_error_and_keeps_our_code_in_the_data(SarkErrorCode code, McpErrorCode expected)
    {
        var ex = FrontDoorErrors.RequestError(new SarkException(code, "It failed.", "r-9"), "prompt: 'demo__p'", "fallback");

        Assert.Equal(expected, ex.ErrorCode);
        Assert.Equal(code.ToWire(), ex.Data["code"]);
        Assert.Equal("r-9", ex.Data["request_id"]);
    }
}
