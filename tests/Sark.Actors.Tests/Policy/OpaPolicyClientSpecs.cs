using System.Text.Json;
using Sark.Actors.Errors;
using Sark.Actors.Policy;
using static Sark.Actors.Tests.Policy.PolicyTestInputs;

namespace Sark.Actors.Tests.Policy;

public sealed class OpaPolicyClientSpecs : IAsyncLifetime
{
    private OpaStandIn _opa = null!;

    public async Task InitializeAsync() => _opa = await OpaStandIn.StartAsync();

    public async Task DisposeAsync() => await _opa.DisposeAsync();

    // A generous timeout: the first request to a fresh Kestrel on a busy machine can take a second.
    // The timeout itself is specified by A_hanging_opa_fails_closed_at_the_timeout.
    private OpaPolicyClient Client(TimeSpan? timeout = null, Uri? url = null) => new(
        new OpaOptions { Url = url ?? _opa.Url, Path = "sark/authz/decision", Timeout = timeout ?? TimeSpan.FromSeconds(10) },
        TimeSpan.FromSeconds(60));

    private static PolicyInput Input() =>
        Invoke(new Caller("alice", ["analyst"], ["data"]) { BearerToken = "eyJhbGciOiJIUzI1NiJ9.x.y" }, "postgres-mcp", "execute_query", """{"query":"select 1","password":"p"}""");

    [Fact]
    public async Task The_input_is_posted_to_the_data_api_and_the_decision_document_is_read()
    {
        _opa.Result = """{"allow":true,"reason":"analysts read","filtered_parameters":{"query":"select 1"},"audit_id":"a-1","cache_ttl":15}""";
        using var client = Client();

        var decision = await client.DecideAsync(Input(), CancellationToken.None);

        Assert.Equal("/v1/data/sark/authz/decision", _opa.LastPath);
        Assert.Equal("alice", _opa.LastInput!.Value.GetProperty("subject").GetProperty("id").GetString());
        Assert.Equal("tool:invoke", _opa.LastInput!.Value.GetProperty("action").GetString());
        Assert.DoesNotContain("eyJ", _opa.LastBody, StringComparison.Ordinal);
        Assert.True(decision.Allow);
        Assert.Equal("analysts read", decision.Reason);
        Assert.Equal("""{"query":"select 1"}""", decision.FilteredParameters!.Value.GetRawText());
        Assert.Equal("a-1", decision.AuditId);
        Assert.Equal(TimeSpan.FromSeconds(15), decision.CacheTtl);
    }

    [Fact]
    public async Task An_empty_filtered_parameters_object_is_kept_as_present()
    {
        _opa.Result = """{"allow":true,"filtered_parameters":{}}""";
        using var client = Client();
        var decision = await client.DecideAsync(Input(), CancellationToken.None);
        Assert.Equal("{}", decision.FilteredParameters!.Value.GetRawText());
        Assert.Equal(TimeSpan.FromSeconds(60), decision.CacheTtl);
    }

    [Fact]
    public async Task A_deny_without_cache_ttl_is_not_cached_and_one_with_it_is()
    {
        using var client = Client();
        _opa.Result = """{"allow":false,"reason":"no"}""";
        var plain = await client.DecideAsync(Input(), CancellationToken.None);
        Assert.False(plain.Allow);
        Assert.Equal("no", plain.Reason);
        Assert.Equal(TimeSpan.Zero, plain.CacheTtl);
        _opa.Result = """{"allow":false,"reason":"no","cache_ttl":7.5}""";
        Assert.Equal(TimeSpan.FromSeconds(7.5), (await client.DecideAsync(Input(), CancellationToken.None)).CacheTtl);
    }

    [Theory]
    [InlineData("true", true)]
    [InlineData("false", false)]
    public async Task A_boolean_result_is_an_allow_or_deny_without_filter(string result, bool allow)
    {
        _opa.Result = result;
        using var client = Client();
        var decision = await client.DecideAsync(Input(), CancellationToken.None);
        Assert.Equal(allow, decision.Allow);
        Assert.Null(decision.FilteredParameters);
        Assert.Equal(allow ? TimeSpan.FromSeconds(60) : TimeSpan.Zero, decision.CacheTtl);
    }

    [Theory]
    [InlineData(OpaBehaviour.Undefined, "result is undefined")]
    [InlineData(OpaBehaviour.ServerError, "OPA answered 500")]
    [InlineData(OpaBehaviour.Malformed, "invalid JSON")]
    [InlineData(OpaBehaviour.Redirect, "OPA answered 307")]
    public async Task Anything_but_a_decision_fails_closed_with_policy_unavailable(OpaBehaviour behaviour, string expected)
    {
        _opa.Behaviour = behaviour;
        using var client = Client();
        var ex = await Assert.ThrowsAsync<PolicyUnavailableException>(() => client.DecideAsync(Input(), CancellationToken.None));
        Assert.Equal(SarkErrorCode.PolicyUnavailable, ex.Code);
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
        Assert.Equal("req-1", ex.RequestId);
        Assert.Equal(1, _opa.Requests);
    }

    [Theory]
    [InlineData("""{"reason":"no allow"}""", "result.allow is missing")]
    [InlineData("""{"allow":"yes"}""", "result.allow is missing or not true/false")]
    [InlineData("""{"allow":true,"filtered_parameters":[1]}""", "filtered_parameters is not an object")]
    [InlineData("""{"allow":true,"cache_ttl":-1}""", "cache_ttl is not a non-negative number")]
    [InlineData("""{"allow":true,"cache_ttl":"60s"}""", "cache_ttl is not a non-negative number")]
    [InlineData("""{"allow":true,"reason":5}""", "result.reason is not a string")]
    [InlineData("\"allow\"", "result is String")]
    [InlineData("null", "result is Null")]
    public async Task A_malformed_decision_document_fails_closed_and_says_which_field(string result, string expected)
    {
        _opa.Result = result;
        using var client = Client();
        var ex = await Assert.ThrowsAsync<PolicyUnavailableException>(() => client.DecideAsync(Input(), CancellationToken.None));
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_hanging_opa_fails_closed_at_the_timeout()
    {
        _opa.Behaviour = OpaBehaviour.Hang;
        using var client = Client(TimeSpan.FromMilliseconds(300));
        var ex = await Assert.ThrowsAsync<PolicyUnavailableException>(() => client.DecideAsync(Input(), CancellationToken.None));
        Assert.Contains("did not decide within 300ms", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unreachable_opa_fails_closed()
    {
        var gone = await OpaStandIn.StartAsync();
        var url = gone.Url;
        await gone.DisposeAsync();
        using var client = Client(url: url);
        var ex = await Assert.ThrowsAsync<PolicyUnavailableException>(() => client.DecideAsync(Input(), CancellationToken.None));
        Assert.Contains("could not be reached", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_result_that_is_an_empty_object_is_malformed_not_an_allow()
    {
        var ex = Assert.Throws<PolicyUnavailableException>(() =>
            OpaPolicyClient.ReadResponse("""{"result":{}}"""u8, "/v1/data/x", TimeSpan.FromSeconds(60)));
        Assert.Contains("result.allow is missing", ex.Message, StringComparison.Ordinal);
        var deny = OpaPolicyClient.ReadResponse("""{"result":{"allow":false,"filtered_parameters":{"a":1}}}"""u8, "/v1/data/x", TimeSpan.FromSeconds(60));
        Assert.Null(deny.FilteredParameters);
    }
}
