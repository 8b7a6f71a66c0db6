using System.Security.Cryptography;
using System.Text;

namespace Sark.Actors.Upstreams.Gateway;

/// <summary>One page request of the registry contract: <c>?offset=…&amp;limit=…</c>.</summary>
internal readonly record struct PageRequest(int Offset, int Limit);

/// <summary>What <see cref="OffsetPager.Next"/> decided after a page: fetch another, stop, or give up.</summary>
internal abstract record PagerStep
{
    private PagerStep()
    {
    }

    /// <summary>Ask for this page next.</summary>
    public sealed record Fetch(PageRequest Request) : PagerStep;

    /// <summary>The walk is complete after <paramref name="Pages"/> pages holding <paramref name="Items"/> items.</summary>
    public sealed record Done(int Pages, int Items) : PagerStep;

    /// <summary>The walk cannot be trusted; <paramref name="Reason"/> is a sentence for the log and the caller.</summary>
    public sealed record Failed(string Reason) : PagerStep;
}

/// <summary>
/// Drives <c>offset</c>/<c>limit</c> paging of <c>GET /api/v1/servers</c> and <c>GET /api/v1/tools</c>
/// (original spec section 1.4, with its defects fixed). Pure: the caller fetches, this decides.
/// <list type="bullet">
/// <item>The requested page size is clamped to 1..1000; every comparison uses that effective limit.</item>
/// <item>An empty page ends the walk. Without <c>next_offset</c>, so does a page shorter than the limit.</item>
/// <item><c>next_offset</c>, when present, decides where the next page starts; it must move forward.</item>
/// <item><c>total</c>, when present, ends the walk once the next offset reaches it.</item>
/// <item>A page identical to an earlier one (same fingerprint) means the registry ignores <c>offset</c>: failure, not a loop.</item>
/// <item>More than <c>maxPages</c> pages is a failure naming the guard.</item>
/// </list>
/// </summary>
internal sealed class OffsetPager
{
    /// <summary>The page size used when none is configured.</summary>
    public const int DefaultPageSize = 100;

    /// <summary>The largest <c>limit</c> the registry contract allows.</summary>
    public const int MaxPageSize = 1000;

    /// <summary>The default of the max-pages guard.</summary>
    public const int DefaultMaxPages = 1000;

    private readonly Dictionary<string, int> _fingerprints = new(StringComparer.Ordinal);
    private readonly int _maxPages;
    private PageRequest _current;
    private int _pages;
    private int _items;
    private bool _finished;

    /// <param name="pageSize">The requested page size; clamped to 1..<see cref="MaxPageSize"/>.</param>
    /// <param name="maxPages">The most pages one walk may take (the max-pages guard); at least 1.</param>
    public OffsetPager(int pageSize = DefaultPageSize, int maxPages = DefaultMaxPages)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxPages, 1);
        Limit = Math.Clamp(pageSize, 1, MaxPageSize);
        _maxPages = maxPages;
        _current = First;
    }

    /// <summary>The effective <c>limit</c> of every request and of the short-page comparison.</summary>
    public int Limit { get; }

    /// <summary>The first page to ask for.</summary>
    public PageRequest First => new(0, Limit);

    /// <summary>Pages handed to <see cref="Next"/> so far.</summary>
    public int Pages => _pages;

    /// <summary>
    /// Decides what follows the page just fetched (the one last returned by <see cref="First"/> or a <see cref="PagerStep.Fetch"/>).
    /// </summary>
    /// <param name="pageItemCount">How many items the page held.</param>
    /// <param name="pageFingerprint">A digest of the page's item ids (see <see cref="Fingerprint"/>).</param>
    /// <param name="nextOffset">The page's <c>next_offset</c>, if the registry sent one.</param>
    /// <param name="total">The page's <c>total</c>, if the registry sent one.</param>
    public PagerStep Next(int pageItemCount, string pageFingerprint, int? nextOffset = null, int? total = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(pageItemCount);
        ArgumentNullException.ThrowIfNull(pageFingerprint);
        if (_finished)
            throw new InvalidOperationException("The walk has already finished; start a new OffsetPager.");

        _pages++;
        var page = _pages;
        if (pageItemCount == 0)
            return Finish(new PagerStep.Done(page, _items));

        if (_fingerprints.TryGetValue(pageFingerprint, out var earlier))
        {
            return Finish(new PagerStep.Failed(earlier == page - 1
                ? $"the registry ignored offset: page {page} repeated page {earlier} (offset {_current.Offset}); stopped paging"
                : $"the registry repeated a page: page {page} (offset {_current.Offset}) repeated page {earlier}; stopped paging"));
        }

        _fingerprints[pageFingerprint] = page;
        _items += pageItemCount;

        int following;
        if (nextOffset is { } explicitNext)
        {
            if (explicitNext <= _current.Offset)
            {
                return Finish(new PagerStep.Failed(
                    $"the registry's next_offset {explicitNext} on page {page} does not move past offset {_current.Offset}; stopped paging"));
            }

            following = explicitNext;
        }
        else
        {
            if (pageItemCount < Limit)
                return Finish(new PagerStep.Done(page, _items));
            following = _current.Offset + pageItemCount;
        }

        if (total is { } t && following >= t)
            return Finish(new PagerStep.Done(page, _items));

        if (page >= _maxPages)
        {
            return Finish(new PagerStep.Failed(
                $"the registry has more than {_maxPages} pages of {Limit} (the max-pages guard); stopped paging"));
        }

        _current = new PageRequest(following, Limit);
        return new PagerStep.Fetch(_current);
    }

    /// <summary>A digest of a page's item ids, in order: equal pages give equal fingerprints.</summary>
    public static string Fingerprint(IEnumerable<string> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var id in ids)
        {
            hash.AppendData(Encoding.UTF8.GetBytes(id));
            hash.AppendData([0]);
        }

        return Convert.ToHexString(hash.GetHashAndReset());
    }

    private PagerStep Finish(PagerStep step)
    {
        _finished = true;
        return step;
    }
}
