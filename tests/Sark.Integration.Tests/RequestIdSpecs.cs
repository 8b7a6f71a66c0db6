using System.Net;
using System.Net.Sockets;
using System.Text;
using Sark.Integration.Tests.Infrastructure;

namespace Sark.Integration.Tests;

/// <summary><c>X-Request-ID</c>: taken from the caller when valid, made up otherwise, always echoed; bad ones refused.</summary>
[Collection(DemoNodeCollection.Name)]
public sealed class RequestIdSpecs(DemoNodeFixture fixture)
{
    private readonly HttpClient _http = fixture.Http;

    [Fact]
    public async Task Request_id_from_the_caller_is_echoed_and_carried_by_the_call()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/invoke")
        {
            Content = new StringContent("{\"server\":\"demo\",\"tool\":\"echo\",\"parameters\":{\"message\":\"id\"}}", Encoding.UTF8, "application/json"),
        };
        request.Headers.Add(HttpAssertions.RequestIdHeader, "it:req-42_a.b");
        using var response = await _http.SendAsync(request);
        var body = await response.JsonAsync();

        Assert.Equal("it:req-42_a.b", response.RequestId());
        Assert.Equal("it:req-42_a.b", body.GetProperty("request_id").GetString());
    }

    [Fact]
    public async Task Request_id_is_made_up_and_echoed_on_every_response_even_errors()
    {
        using var ok = await _http.GetAsync("/health/live");
        using var failed = await _http.GetAsync("/api/v1/servers/no-such-server");

        Assert.False(string.IsNullOrEmpty(ok.RequestId()));
        var error = await failed.ErrorAsync(HttpStatusCode.NotFound, "not_found");
        Assert.Equal(failed.RequestId(), error.GetProperty("request_id").GetString());
        Assert.NotEqual(ok.RequestId(), failed.RequestId());
    }

    [Theory]
    [InlineData("has space")]
    [InlineData("angle<bracket")]
    [InlineData("semi;colon")]
    [InlineData(null)] // 200 characters
    public async Task Request_id_with_a_bad_character_or_length_is_an_invalid_request(string? id)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/servers");
        Assert.True(request.Headers.TryAddWithoutValidation(HttpAssertions.RequestIdHeader, id ?? new string('a', 200)));
        using var response = await _http.SendAsync(request);

        await response.ErrorAsync(HttpStatusCode.BadRequest, "invalid_request");
    }

    [Theory]
    [InlineData("evil\rpart")]
    [InlineData("evil\npart")]
    [InlineData("evil\r\n folded")]
    public async Task Request_id_with_CR_or_LF_sent_through_HttpClient_is_refused(string value)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/servers");
        if (!request.Headers.TryAddWithoutValidation(HttpAssertions.RequestIdHeader, value))
            return; // The client refuses the value outright: it can never reach the node.

        // HttpClient sends the value as it is; Kestrel must refuse the request line by line.
        // (A CR/LF followed by "Name: value" is no longer one header on the wire but two valid ones.)
        HttpResponseMessage? response = null;
        var error = await Record.ExceptionAsync(async () => response = await _http.SendAsync(request));
        using (response)
        {
            if (error is not null)
            {
                Assert.IsType<HttpRequestException>(error);
                return;
            }

            Assert.Equal(HttpStatusCode.BadRequest, response!.StatusCode);
            Assert.False(response.Headers.Contains(HttpAssertions.RequestIdHeader), "a refused request id must not be echoed");
        }
    }

    [Theory]
    [InlineData("evil\rpart")]
    [InlineData("evil\npart")]
    [InlineData("evil\r\n folded")]
    public async Task Request_id_with_a_raw_CR_or_LF_on_the_wire_is_a_bad_request(string value)
    {
        var address = fixture.Node.BaseAddress;
        using var client = new TcpClient();
        await client.ConnectAsync(address.Host, address.Port);
        var stream = client.GetStream();
        var raw = $"GET /api/v1/servers HTTP/1.1\r\nHost: {address.Authority}\r\n{HttpAssertions.RequestIdHeader}: {value}\r\nConnection: close\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(raw));
        using var reader = new StreamReader(stream, Encoding.ASCII);
        var statusLine = await reader.ReadLineAsync();

        Assert.StartsWith("HTTP/1.1 400", statusLine);
    }
}
