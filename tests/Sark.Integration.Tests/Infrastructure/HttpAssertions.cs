using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Sark.Integration.Tests.Infrastructure;

/// <summary>Reading and checking the node's JSON responses.</summary>
internal static class HttpAssertions
{
    public const string RequestIdHeader = "X-Request-ID";

    /// <summary>Checks the status and returns the JSON body.</summary>
    public static async Task<JsonElement> JsonAsync(this HttpResponseMessage response, HttpStatusCode expected = HttpStatusCode.OK)
    {
        var text = await response.Content.ReadAsStringAsync().ConfigureAwait(false);
        Assert.True(response.StatusCode == expected, $"Expected {(int)expected} {expected}, got {(int)response.StatusCode} {response.StatusCode}: {text}");
        Assert.True(response.Content.Headers.ContentType?.MediaType == "application/json", $"Expected JSON, got {response.Content.Headers.ContentType}: {text}");
        using var document = JsonDocument.Parse(text);
        return document.RootElement.Clone();
    }

    /// <summary>Checks a <c>{"error":{"code","message","request_id"}}</c> body and returns the error object.</summary>
    public static async Task<JsonElement> ErrorAsync(this HttpResponseMessage response, HttpStatusCode expected, string code)
    {
        var body = await response.JsonAsync(expected).ConfigureAwait(false);
        var error = body.GetProperty("error");
        Assert.Equal(code, error.GetProperty("code").GetString());
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()));
        Assert.Equal(response.RequestId(), error.GetProperty("request_id").GetString());
        return error;
    }

    /// <summary>The <c>X-Request-ID</c> the node echoed.</summary>
    public static string RequestId(this HttpResponseMessage response) =>
        Assert.Single(response.Headers.GetValues(RequestIdHeader));

    public static Task<HttpResponseMessage> InvokeAsync(this HttpClient http, object body) =>
        http.PostAsJsonAsync("/api/v1/invoke", body);

    public static Task<HttpResponseMessage> PostRawAsync(this HttpClient http, string path, string body) =>
        http.PostAsync(path, new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
}
