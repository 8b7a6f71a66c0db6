using System.Net;
using System.Net.Sockets;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using Sark.Actors.Configuration;
using Sark.Actors.Errors;
using Sark.Actors.Upstreams.McpHttp;

namespace Sark.Actors.Tests;

/// <summary>The pure decisions of the mcp-http upstream: failure table, protocol ladder, origin check, and its configuration.</summary>
public sealed class McpHttpDecisionSpecs
{
    [Fact]
    public void A_json_rpc_error_is_upstream_error_with_its_code_and_counts_as_an_answer()
    {
        var failure = McpHttpFailure.Classify(new McpProtocolException("Invalid params", McpErrorCode.InvalidParams));

        var error = failure.ToCallError("remote", "echo", TimeSpan.FromSeconds(1));

        Assert.Equal(McpHttpFailureKind.JsonRpcError, failure.Kind);
        Assert.Equal(SarkErrorCode.UpstreamError, error.Code);
        Assert.Equal(-32602, error.JsonRpcCode);
        Assert.True(failure.IsAnAnswer);
        Assert.False(failure.CountsTowardBreaker);
        Assert.False(failure.IsFatal);
    }

    [Fact]
    public void Connection_refused_is_fatal_and_the_request_never_left()
    {
        var refused = new HttpRequestException(HttpRequestError.ConnectionError, "Connection refused (127.0.0.1:9)", new SocketException((int)SocketError.ConnectionRefused));

        var failure = McpHttpFailure.Classify(refused);

        Assert.Equal(McpHttpFailureKind.Unreachable, failure.Kind);
        Assert.True(failure.IsFatal);
        Assert.True(failure.NotSent);
        Assert.Equal(SarkErrorCode.UpstreamUnavailable, failure.ToCallError("remote", "echo", TimeSpan.FromSeconds(1)).Code);
    }

    [Fact]
    public void A_connection_that_broke_mid_request_is_fatal_but_may_have_been_sent()
    {
        var failure = McpHttpFailure.Classify(new HttpRequestException(HttpRequestError.ResponseEnded, "The response ended prematurely."));

        Assert.True(failure.IsFatal);
        Assert.False(failure.NotSent);
    }

    [Fact]
    public void A_cancelled_token_after_the_timeout_is_upstream_timeout_and_counts_toward_the_breaker()
    {
        // Whatever the SDK throws once the token is cancelled follows from the cancellation.
        var failure = McpHttpFailure.Classify(new HttpRequestException("The operation was canceled."), timedOut: true, cancelled: true);

        Assert.Equal(McpHttpFailureKind.Timeout, failure.Kind);
        Assert.True(failure.CountsTowardBreaker);
        Assert.Equal(SarkErrorCode.UpstreamTimeout, failure.ToCallError("remote", "slow", TimeSpan.FromSeconds(2)).Code);
    }

    [Fact]
    public void A_call_the_caller_cancelled_does_not_count_toward_the_breaker()
    {
        var failure = McpHttpFailure.Classify(new OperationCanceledException(), timedOut: false, cancelled: true);

        Assert.Equal(McpHttpFailureKind.Cancelled, failure.Kind);
        Assert.False(failure.CountsTowardBreaker);
        Assert.False(failure.IsFatal);
    }

    [Fact]
    public void Http_404_on_a_session_is_an_expired_session_that_never_ran_the_call()
    {
        var failure = McpHttpFailure.Classify(new HttpRequestException("Not Found", null, HttpStatusCode.NotFound));
        var closed = McpHttpFailure.Classify(new ClientTransportClosedException(new HttpClientCompletionDetails { HttpStatusCode = HttpStatusCode.NotFound }));

        Assert.Equal(McpHttpFailureKind.SessionExpired, failure.Kind);
        Assert.Equal(McpHttpFailureKind.SessionExpired, closed.Kind);
        Assert.True(failure.NotSent);
        Assert.False(failure.IsFatal);
    }

    [Fact]
    public void A_closed_transport_without_a_404_is_fatal()
    {
        var failure = McpHttpFailure.Classify(new ClientTransportClosedException(new HttpClientCompletionDetails()));

        Assert.Equal(McpHttpFailureKind.ConnectionClosed, failure.Kind);
        Assert.True(failure.IsFatal);
    }

    [Theory]
    [InlineData(HttpStatusCode.ServiceUnavailable, true)]
    [InlineData(HttpStatusCode.InternalServerError, true)]
    [InlineData(HttpStatusCode.TooManyRequests, true)]
    [InlineData(HttpStatusCode.Forbidden, false)]
    [InlineData(HttpStatusCode.BadRequest, false)]
    public void Http_errors_count_toward_the_breaker_only_when_the_server_is_in_trouble(HttpStatusCode status, bool counts)
    {
        var failure = McpHttpFailure.Classify(new HttpRequestException("status", null, status));

        var error = failure.ToCallError("remote", "echo", TimeSpan.FromSeconds(1));

        Assert.Equal(McpHttpFailureKind.HttpStatus, failure.Kind);
        Assert.Equal(counts, failure.CountsTowardBreaker);
        Assert.Equal(SarkErrorCode.UpstreamError, error.Code);
        Assert.Equal((int)status, error.UpstreamStatus);
    }

    [Fact]
    public void An_endpoint_on_another_origin_is_fatal_and_nothing_was_sent()
    {
        var wrapped = new McpException("Failed to send", new EndpointOriginException(new Uri("http://127.0.0.1:1/sse"), new Uri("http://evil.example:1/messages")));

        var failure = McpHttpFailure.Classify(wrapped);

        Assert.Equal(McpHttpFailureKind.OriginRefused, failure.Kind);
        Assert.True(failure.IsFatal);
        Assert.True(failure.NotSent);
        Assert.Contains("evil.example", failure.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void The_protocol_ladder_goes_from_the_sdk_negotiation_down_to_2024_11_05_and_stops()
    {
        var tried = new List<string>();
        for (var version = ProtocolLadder.Next(null); version is not null; version = ProtocolLadder.Next(version))
            tried.Add(version);

        Assert.Equal(["2025-06-18", "2025-03-26", "2024-11-05"], tried);
        Assert.Null(ProtocolLadder.Next("2024-11-05"));
        Assert.Null(ProtocolLadder.Next("1999-01-01"));
    }

    [Fact]
    public void A_refused_handshake_is_a_version_refusal_but_an_unreachable_server_is_not()
    {
        Assert.True(McpHttpSession.IsVersionRefusal(new McpProtocolException("Unsupported protocol version", McpErrorCode.InvalidParams)));
        Assert.True(McpHttpSession.IsVersionRefusal(new McpException("Server protocol version mismatch. Expected 2025-06-18, got 2024-11-05")));
        Assert.False(McpHttpSession.IsVersionRefusal(new HttpRequestException(HttpRequestError.ConnectionError, "refused")));
    }

    [Theory]
    [InlineData("http://127.0.0.1:3001/sse", "http://127.0.0.1:3001/message?sessionId=1", true)]
    [InlineData("http://127.0.0.1:3001/sse", "http://localhost:3001/message", false)]
    [InlineData("http://127.0.0.1:3001/sse", "http://127.0.0.1:3002/message", false)]
    [InlineData("http://127.0.0.1:3001/sse", "https://127.0.0.1:3001/message", false)]
    [InlineData("https://mcp.example.com/sse", "https://MCP.example.com:443/messages", true)]
    public void The_origin_check_compares_scheme_host_and_port(string configured, string requested, bool same)
    {
        Assert.Equal(same, OriginGuard.SameOrigin(new Uri(configured), new Uri(requested)));
    }

    [Fact]
    public async Task The_origin_guard_refuses_a_request_to_another_origin_before_sending_it()
    {
        var inner = new CountingHandler();
        using var client = new HttpClient(new OriginGuard(new Uri("http://127.0.0.1:3001/sse"), inner));

        await Assert.ThrowsAsync<EndpointOriginException>(() => client.PostAsync("http://127.0.0.2:3001/messages", new StringContent("{}")));
        using var same = await client.PostAsync("http://127.0.0.1:3001/messages", new StringContent("{}"));

        Assert.Equal(1, inner.Sent);
    }

    [Fact]
    public void An_mcp_http_upstream_reads_its_transport_and_headers()
    {
        var options = SarkConfigLoader.Parse("""
            sark.upstreams.remote {
              kind = mcp-http
              url = "http://127.0.0.1:3001/sse"
              transport = sse
              headers { Authorization = "Bearer abc", "X-Tenant" = blue }
            }
            """);

        var remote = options.Upstreams["remote"];
        Assert.Equal(McpHttpTransport.Sse, remote.Transport);
        Assert.Equal("Bearer abc", remote.Headers["Authorization"]);
        Assert.Equal("blue", remote.Headers["x-tenant"]);
    }

    [Fact]
    public void An_mcp_http_upstream_defaults_to_auto_and_no_headers()
    {
        var options = SarkConfigLoader.Parse("""sark.upstreams.remote { kind = mcp-http, url = "http://127.0.0.1:3001/mcp" }""");

        Assert.Equal(McpHttpTransport.Auto, options.Upstreams["remote"].Transport);
        Assert.Empty(options.Upstreams["remote"].Headers);
    }

    [Theory]
    [InlineData("\"a\\r\\nX-Injected: 1\"")]
    [InlineData("\"a\\nb\"")]
    public void A_header_value_with_a_line_break_is_refused_naming_the_key(string value)
    {
        var ex = Assert.Throws<SarkConfigException>(() => SarkConfigLoader.Parse(
            $$"""sark.upstreams.remote { kind = mcp-http, url = "http://127.0.0.1:3001/mcp", headers { X-Token = {{value}} } }"""));

        Assert.Contains("sark.upstreams.remote.headers.X-Token", ex.Message, StringComparison.Ordinal);
        Assert.Contains("line break", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unknown_transport_is_refused_naming_the_key()
    {
        var ex = Assert.Throws<SarkConfigException>(() => SarkConfigLoader.Parse(
            """sark.upstreams.remote { kind = mcp-http, url = "http://127.0.0.1:3001/mcp", transport = websocket }"""));

        Assert.Contains("sark.upstreams.remote.transport", ex.Message, StringComparison.Ordinal);
    }

    private sealed class CountingHandler : HttpMessageHandler
    {
        public int Sent { get; private set; }

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Sent++;
            return Task.FromResult(new HttpResponseMessage(HttpStatusCode.Accepted));
        }
    }
}
