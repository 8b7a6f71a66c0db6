using System.Buffers;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Sark.Actors.Policy;

/// <summary>
/// The canonical form of a JSON value and its SHA-256, used in the decision cache key and as
/// the audit record's <c>arguments_hash</c>. Two argument objects that differ only in the
/// order of their keys hash the same; any difference in a value hashes differently.
/// </summary>
/// <remarks>
/// The canonical form: object members sorted by the UTF-8 bytes of their (unescaped) names,
/// recursively (the order of duplicate names is kept as written); arrays in their order;
/// numbers exactly as written (<c>1</c> and <c>1.0</c> differ); strings unescaped and written
/// with the minimal escapes (<c>\"</c>, <c>\\</c>, control characters as <c>\u00XX</c>), so
/// <c>"\u0041"</c> and <c>"A"</c> are the same string; no whitespace. An absent value (null
/// or undefined <see cref="JsonElement"/>) hashes as the JSON literal <c>null</c>.
/// The work buffer is per thread and reused, so a hash allocates only its result string
/// (plus a pooled array per object).
/// </remarks>
public static class CanonicalJson
{
    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_buffer;

    /// <summary>The hash of an absent value.</summary>
    public static string AbsentHash { get; } = Convert.ToHexStringLower(SHA256.HashData("null"u8));

    /// <summary>Lower-case hex SHA-256 of the canonical form of <paramref name="value"/>.</summary>
    public static string Hash(JsonElement? value)
    {
        if (value is not { ValueKind: not JsonValueKind.Undefined } element)
            return AbsentHash;
        var buffer = t_buffer ??= new ArrayBufferWriter<byte>(1024);
        buffer.ResetWrittenCount();
        Write(buffer, element);
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(buffer.WrittenSpan, hash);
        if (buffer.Capacity > 1 << 20)
            t_buffer = null; // do not keep a huge buffer alive after one large argument
        return Convert.ToHexStringLower(hash);
    }

    /// <summary>The canonical form itself, as UTF-8 text (for tests and tools; <see cref="Hash"/> does not allocate it).</summary>
    public static string ToCanonicalString(JsonElement value)
    {
        var buffer = new ArrayBufferWriter<byte>();
        Write(buffer, value);
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static void Write(ArrayBufferWriter<byte> output, JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                WriteObject(output, element);
                break;
            case JsonValueKind.Array:
                output.Write("["u8);
                var first = true;
                foreach (var item in element.EnumerateArray())
                {
                    if (!first)
                        output.Write(","u8);
                    first = false;
                    Write(output, item);
                }

                output.Write("]"u8);
                break;
            case JsonValueKind.String:
                WriteString(output, JsonMarshal.GetRawUtf8Value(element), element);
                break;
            case JsonValueKind.Number:
                output.Write(JsonMarshal.GetRawUtf8Value(element));
                break;
            case JsonValueKind.True:
                output.Write("true"u8);
                break;
            case JsonValueKind.False:
                output.Write("false"u8);
                break;
            default:
                output.Write("null"u8);
                break;
        }
    }

    private static void WriteObject(ArrayBufferWriter<byte> output, JsonElement element)
    {
        var count = 0;
        var members = ArrayPool<Member>.Shared.Rent(16);
        try
        {
            foreach (var property in element.EnumerateObject())
            {
                if (count == members.Length)
                {
                    var larger = ArrayPool<Member>.Shared.Rent(count * 2);
                    Array.Copy(members, larger, count);
                    ArrayPool<Member>.Shared.Return(members, clearArray: true);
                    members = larger;
                }

                members[count] = new Member(property, count);
                count++;
            }

            Array.Sort(members, 0, count, MemberComparer.Instance);
            output.Write("{"u8);
            for (var i = 0; i < count; i++)
            {
                if (i > 0)
                    output.Write(","u8);
                var property = members[i].Property;
                WritePropertyName(output, property);
                output.Write(":"u8);
                Write(output, property.Value);
            }

            output.Write("}"u8);
        }
        finally
        {
            ArrayPool<Member>.Shared.Return(members, clearArray: true);
        }
    }

    private static void WritePropertyName(ArrayBufferWriter<byte> output, JsonProperty property)
    {
        var raw = JsonMarshal.GetRawUtf8PropertyName(property);
        if (raw.IndexOf((byte)'\\') < 0)
        {
            output.Write("\""u8);
            output.Write(raw);
            output.Write("\""u8);
        }
        else
        {
            WriteEscaped(output, property.Name);
        }
    }

    /// <summary>A string token as written when it has no escapes (it is then already minimal), else re-escaped minimally.</summary>
    private static void WriteString(ArrayBufferWriter<byte> output, ReadOnlySpan<byte> rawWithQuotes, JsonElement element)
    {
        if (rawWithQuotes.IndexOf((byte)'\\') < 0)
            output.Write(rawWithQuotes);
        else
            WriteEscaped(output, element.GetString()!);
    }

    private static void WriteEscaped(ArrayBufferWriter<byte> output, string value)
    {
        output.Write("\""u8);
        Span<byte> scratch = stackalloc byte[6];
        var start = 0;
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (c is not ('"' or '\\') && c >= 0x20)
                continue;
            WriteUtf8(output, value.AsSpan(start, i - start));
            if (c is '"' or '\\')
            {
                scratch[0] = (byte)'\\';
                scratch[1] = (byte)c;
                output.Write(scratch[..2]);
            }
            else
            {
                "\\u00"u8.CopyTo(scratch);
                scratch[4] = (byte)"0123456789abcdef"[c >> 4];
                scratch[5] = (byte)"0123456789abcdef"[c & 0xF];
                output.Write(scratch);
            }

            start = i + 1;
        }

        WriteUtf8(output, value.AsSpan(start));
        output.Write("\""u8);
    }

    private static void WriteUtf8(ArrayBufferWriter<byte> output, ReadOnlySpan<char> text)
    {
        if (text.IsEmpty)
            return;
        var span = output.GetSpan(Encoding.UTF8.GetMaxByteCount(text.Length));
        output.Advance(Encoding.UTF8.GetBytes(text, span));
    }

    private readonly record struct Member(JsonProperty Property, int Index);

    /// <summary>Orders members by the UTF-8 bytes of their unescaped names, then by position.</summary>
    private sealed class MemberComparer : IComparer<Member>
    {
        public static readonly MemberComparer Instance = new();

        public int Compare(Member x, Member y)
        {
            var a = JsonMarshal.GetRawUtf8PropertyName(x.Property);
            var b = JsonMarshal.GetRawUtf8PropertyName(y.Property);
            var order = a.IndexOf((byte)'\\') < 0 && b.IndexOf((byte)'\\') < 0
                ? a.SequenceCompareTo(b)
                : Encoding.UTF8.GetBytes(x.Property.Name).AsSpan().SequenceCompareTo(Encoding.UTF8.GetBytes(y.Property.Name));
            return order != 0 ? order : x.Index.CompareTo(y.Index);
        }
    }
}
