using System.Buffers;

namespace Sark.Host.Api;

/// <summary>The <c>X-Request-ID</c> rules: 1 to 128 characters of <c>[A-Za-z0-9._:-]</c>, or a new id.</summary>
internal static class RequestIds
{
    public const string Header = "X-Request-ID";
    public const int MaxLength = 128;

    private static readonly SearchValues<char> Allowed =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-");

    public static bool IsValid(ReadOnlySpan<char> id) =>
        id.Length is > 0 and <= MaxLength && !id.ContainsAnyExcept(Allowed);

    public static string NewId() => Guid.NewGuid().ToString("N");
}
