using Microsoft.Extensions.Primitives;
using Sark.Actors.Errors;

namespace Sark.Host.Api;

/// <summary>The <c>offset</c> and <c>limit</c> of a list request (limit 100 by default, 1000 at most).</summary>
internal readonly record struct Page(int Offset, int Limit)
{
    public const int DefaultLimit = 100;
    public const int MaxLimit = 1000;

    /// <summary>Reads the page from the query; a bad value is a <see cref="SarkInvalidRequestException"/>.</summary>
    public static Page From(IQueryCollection query, string requestId)
    {
        var offset = Read(query, "offset", 0, defaultValue: 0, requestId);
        var limit = Read(query, "limit", 1, DefaultLimit, requestId);
        return new Page(offset, Math.Min(limit, MaxLimit));
    }

    /// <summary>The items of this page, and the offset of the next page when more follow.</summary>
    public (IReadOnlyList<T> Items, int? NextOffset) Apply<T>(IReadOnlyList<T> all)
    {
        if (Offset >= all.Count)
            return ([], null);
        var count = Math.Min(Limit, all.Count - Offset);
        var items = new T[count];
        for (var i = 0; i < count; i++)
            items[i] = all[Offset + i];
        var end = Offset + count;
        return (items, end < all.Count ? end : null);
    }

    private static int Read(IQueryCollection query, string name, int min, int defaultValue, string requestId)
    {
        if (!query.TryGetValue(name, out var values) || StringValues.IsNullOrEmpty(values))
            return defaultValue;
        if (values.Count > 1)
            throw new SarkInvalidRequestException($"Query parameter '{name}' is given more than once.", requestId);
        if (!int.TryParse(values[0], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var value) || value < min)
            throw new SarkInvalidRequestException($"Query parameter '{name}' must be a whole number of at least {min}, not '{values[0]}'.", requestId);
        return value;
    }
}
