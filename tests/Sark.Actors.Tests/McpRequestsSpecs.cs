using System.Text.Json;
using Sark.Actors.Policy;

namespace Sark.Actors.Tests;

/// <summary><see cref="McpRequests"/>: which requests the facade forwards, and what the policy decides for each.</summary>
public sealed class McpRequestsSpecs
{
    [Theory]
    [InlineData("resources/list", PolicyActions.ServerList)]
    [InlineData("resources/templates/list", PolicyActions.ServerList)]
    [InlineData("prompts/list", PolicyActions.ServerList)]
    [InlineData("resources/read", PolicyActions.ResourceRead)]
    [InlineData("prompts/get", PolicyActions.PromptGet)]
    [InlineData("tools/call", null)]
    [InlineData("resources/subscribe", null)]
    [InlineData("", null)]
    public void Each_forwarded_method_has_its_policy_action(string method, string? action) =>
        Assert.Equal(action, McpRequests.ActionOf(method));

    [Theory]
    [InlineData("resources/read", """{"uri":"demo://x"}""", "demo://x")]
    [InlineData("prompts/get", """{"name":"p","arguments":{}}""", "p")]
    [InlineData("prompts/get", """{"name":5}""", null)]
    [InlineData("resources/read", """{}""", null)]
    [InlineData("resources/list", """{"uri":"demo://x"}""", null)]
    public void A_read_names_its_uri_and_a_get_its_prompt(string method, string parameters, string? item) =>
        Assert.Equal(item, McpRequests.ItemOf(method, JsonDocument.Parse(parameters).RootElement));
}
