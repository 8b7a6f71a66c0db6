using System.Text.Json;

namespace Sark.Benchmarks.Load;

/// <summary>Checks that a reply is exactly the echo of "hi", without allocating.</summary>
internal static class EchoReply
{
    public const string Message = "hi";
    public const string Expected = "Echo: hi";

    /// <summary>An MCP <c>CallToolResult</c>: not an error, first content block is text <c>Echo: hi</c>.</summary>
    public static bool IsEcho(JsonElement result)
    {
        if (result.ValueKind != JsonValueKind.Object)
            return false;
        if (result.TryGetProperty("isError", out var isError) && isError.ValueKind == JsonValueKind.True)
            return false;
        if (!result.TryGetProperty("content", out var content) || content.ValueKind != JsonValueKind.Array || content.GetArrayLength() == 0)
            return false;
        var first = content[0];
        return first.ValueKind == JsonValueKind.Object
            && first.TryGetProperty("text", out var text)
            && text.ValueKind == JsonValueKind.String
            && text.ValueEquals(Expected);
    }

    /// <summary>
    /// A REST invoke body (UTF-8 JSON): has a <c>"text":"Echo: hi"</c> property somewhere and no
    /// <c>isError</c>/<c>is_error</c> that is true. A token scan, so it allocates nothing.
    /// </summary>
    public static bool BodyHasEcho(ReadOnlySpan<byte> body)
    {
        var reader = new Utf8JsonReader(body);
        var found = false;
        try
        {
            while (reader.Read())
            {
                if (reader.TokenType != JsonTokenType.PropertyName)
                    continue;
                if (reader.ValueTextEquals("text"u8))
                {
                    if (reader.Read() && reader.TokenType == JsonTokenType.String && reader.ValueTextEquals("Echo: hi"u8))
                        found = true;
                }
                else if (reader.ValueTextEquals("isError"u8) || reader.ValueTextEquals("is_error"u8))
                {
                    if (reader.Read() && reader.TokenType == JsonTokenType.True)
                        return false;
                }
            }
        }
        catch (JsonException)
        {
            return false;
        }

        return found;
    }
}
