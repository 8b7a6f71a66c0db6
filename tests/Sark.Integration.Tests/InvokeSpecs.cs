using System.Net;
using System.Text;
using Sark.Integration.Tests.Infrastructure;

namespace Sark.Integration.Tests;

/// <summary><c>POST /api/v1/invoke</c> against the demo upstream: results and every refusal.</summary>
[Collection(DemoNodeCollection.Name)]
public sealed class InvokeSpecs(DemoNodeFixture fixture)
{
    private readonly HttpClient _http = fixture.Http;

    [Fact]
    public async Task Invoke_echo_returns_the_tool_result_untouched()
    {
        using var response = await _http.InvokeAsync(new { server = "demo", tool = "echo", parameters = new { message = "hi" } });
        var body = await response.JsonAsync();

        Assert.Equal("success", body.GetProperty("status").GetString());
        var result = body.GetProperty("result");
        Assert.False(result.GetProperty("isError").GetBoolean());
        var content = Assert.Single(result.GetProperty("content").EnumerateArray());
        Assert.Equal("text", content.GetProperty("type").GetString());
        Assert.Equal("Echo: hi", content.GetProperty("text").GetString());
        Assert.Equal(response.RequestId(), body.GetProperty("request_id").GetString());
    }

    [Fact]
    public async Task Invoke_of_a_tool_that_reports_an_error_is_a_result_not_a_failure()
    {
        using var response = await _http.InvokeAsync(new { server = "demo", tool = "echo", parameters = new { } });
        var body = await response.JsonAsync();

        Assert.True(body.GetProperty("result").GetProperty("isError").GetBoolean());
    }

    [Fact]
    public async Task Invoke_with_unknown_server_is_not_found()
    {
        using var response = await _http.InvokeAsync(new { server = "no-such-server", tool = "echo" });
        await response.ErrorAsync(HttpStatusCode.NotFound, "not_found");
    }

    [Fact]
    public async Task Invoke_with_unknown_tool_is_not_found()
    {
        using var response = await _http.InvokeAsync(new { server = "demo", tool = "no-such-tool" });
        await response.ErrorAsync(HttpStatusCode.NotFound, "not_found");
    }

    [Theory]
    [InlineData("{\"server\": \"demo\",")]
    [InlineData("not json")]
    [InlineData("")]
    public async Task Invoke_with_malformed_json_is_an_invalid_request(string body)
    {
        using var response = await _http.PostRawAsync("/api/v1/invoke", body);
        await response.ErrorAsync(HttpStatusCode.BadRequest, "invalid_request");
    }

    [Theory]
    [InlineData("[1, 2]", "object")]
    [InlineData("{\"tool\": \"echo\"}", "server")]
    [InlineData("{\"server\": \"\", \"tool\": \"echo\"}", "server")]
    [InlineData("{\"server\": \"demo\"}", "tool")]
    [InlineData("{\"server\": \"demo\", \"tool\": 5}", "tool")]
    [InlineData("{\"server\": [\"demo\"], \"tool\": \"echo\"}", "server")]
    [InlineData("{\"server\": \"demo\", \"tool\": \"echo\", \"parameters\": \"x\"}", "parameters")]
    public async Task Invoke_with_a_missing_or_mistyped_field_is_an_invalid_request_naming_it(string body, string named)
    {
        using var response = await _http.PostRawAsync("/api/v1/invoke", body);
        var error = await response.ErrorAsync(HttpStatusCode.BadRequest, "invalid_request");

        Assert.Contains(named, error.GetProperty("message").GetString());
    }

    [Fact]
    public async Task Invoke_with_array_parameters_is_an_invalid_request()
    {
        using var response = await _http.PostRawAsync("/api/v1/invoke", "{\"server\": \"demo\", \"tool\": \"echo\", \"parameters\": []}");
        var error = await response.ErrorAsync(HttpStatusCode.BadRequest, "invalid_request");

        Assert.Contains("parameters", error.GetProperty("message").GetString());
    }

    [Fact]
    public async Task Invoke_with_a_body_over_the_limit_is_too_large()
    {
        using var response = await _http.PostRawAsync("/api/v1/invoke", OversizedBody());
        await response.ErrorAsync(HttpStatusCode.RequestEntityTooLarge, "too_large");
    }

    [Fact]
    public async Task Invoke_with_a_chunked_body_over_the_limit_is_too_large()
    {
        // A stream of unknown length is sent chunked, so only reading the body finds the size.
        var content = new StreamContent(new UnseekableStream(Encoding.UTF8.GetBytes(OversizedBody())));
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        using var response = await _http.PostAsync("/api/v1/invoke", content);

        await response.ErrorAsync(HttpStatusCode.RequestEntityTooLarge, "too_large");
    }

    /// <summary>About 100 KB, over the fixture's 64 KiB limit.</summary>
    private static string OversizedBody() =>
        $"{{\"server\": \"demo\", \"tool\": \"echo\", \"parameters\": {{\"message\": \"{new string('x', 100_000)}\"}}}}";

    /// <summary>A memory stream that hides its length.</summary>
    private sealed class UnseekableStream(byte[] data) : MemoryStream(data)
    {
        public override bool CanSeek => false;
    }
}
