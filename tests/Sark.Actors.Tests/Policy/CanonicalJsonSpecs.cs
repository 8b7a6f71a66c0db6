using System.Text.Json;
using Sark.Actors.Policy;
using static Sark.Actors.Tests.Policy.PolicyTestInputs;

namespace Sark.Actors.Tests.Policy;

public sealed class CanonicalJsonSpecs
{
    [Fact]
    public void Key_order_does_not_change_the_hash_at_any_depth()
    {
        var a = Json("""{"b":1,"a":{"y":[1,{"q":true,"p":null}],"x":"s"}}""");
        var b = Json("""{ "a": { "x": "s", "y": [1, {"p": null, "q": true}] }, "b": 1 }""");
        Assert.Equal(CanonicalJson.Hash(a), CanonicalJson.Hash(b));
        Assert.Equal("""{"a":{"x":"s","y":[1,{"p":null,"q":true}]},"b":1}""", CanonicalJson.ToCanonicalString(b));
    }

    [Theory]
    [InlineData("""{"a":1}""", """{"a":2}""")]
    [InlineData("""{"a":1}""", """{"a":1.0}""")]
    [InlineData("""{"a":"1"}""", """{"a":1}""")]
    [InlineData("""{"a":[1,2]}""", """{"a":[2,1]}""")]
    [InlineData("""{"a":null}""", """{}""")]
    [InlineData("""{"a":true}""", """{"A":true}""")]
    [InlineData("""{"a":{"b":1}}""", """{"a":{"b":1,"c":1}}""")]
    public void Any_difference_in_a_value_changes_the_hash(string left, string right) =>
        Assert.NotEqual(CanonicalJson.Hash(Json(left)), CanonicalJson.Hash(Json(right)));

    [Fact]
    public void Escaped_and_plain_spellings_of_the_same_text_hash_the_same()
    {
        var plain = Json("""{"name":"Aé\"x","z":1}""");
        var escaped = Json("""{"z":1,"n\u0061me":"\u0041\u00e9\"x"}""");
        Assert.Equal(CanonicalJson.Hash(plain), CanonicalJson.Hash(escaped));
        Assert.Equal("{\"name\":\"Aé\\\"x\",\"z\":1}", CanonicalJson.ToCanonicalString(escaped));
    }

    [Fact]
    public void Control_characters_are_escaped_minimally()
    {
        Assert.Equal("""["a\u000ab\\"]""", CanonicalJson.ToCanonicalString(Json("""["a\nb\\"]""")));
    }

    [Fact]
    public void The_hash_is_lowercase_hex_sha256_of_the_canonical_form()
    {
        var hash = CanonicalJson.Hash(Json("""{"b":2,"a":1}"""));
        var expected = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData("""{"a":1,"b":2}"""u8));
        Assert.Equal(expected, hash);
        Assert.Equal(64, hash.Length);
    }

    [Fact]
    public void Absent_arguments_hash_as_null_and_unlike_an_empty_object()
    {
        Assert.Equal(CanonicalJson.AbsentHash, CanonicalJson.Hash(null));
        Assert.Equal(CanonicalJson.AbsentHash, CanonicalJson.Hash(default(JsonElement)));
        Assert.Equal(CanonicalJson.AbsentHash, CanonicalJson.Hash(Json("null")));
        Assert.NotEqual(CanonicalJson.AbsentHash, CanonicalJson.Hash(Json("{}")));
    }

    [Fact]
    public void Objects_with_more_than_sixteen_keys_and_large_values_hash_consistently()
    {
        var keys = Enumerable.Range(0, 100).Select(i => $"\"k{i:D3}\":{i}").ToArray();
        var forward = Json("{" + string.Join(",", keys) + ",\"big\":\"" + new string('x', 100_000) + "\"}");
        var backward = Json("{\"big\":\"" + new string('x', 100_000) + "\"," + string.Join(",", keys.Reverse()) + "}");
        Assert.Equal(CanonicalJson.Hash(forward), CanonicalJson.Hash(backward));
        Assert.StartsWith("{\"big\":", CanonicalJson.ToCanonicalString(backward), StringComparison.Ordinal);
    }
}
