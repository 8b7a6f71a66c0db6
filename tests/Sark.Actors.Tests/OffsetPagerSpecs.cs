using Sark.Actors.Upstreams.Gateway;

namespace Sark.Actors.Tests;

public sealed class OffsetPagerSpecs
{
    /// <summary>A fingerprint unique to the page at <paramref name="offset"/> of <paramref name="count"/> items.</summary>
    private static string PageAt(int offset, int count) =>
        OffsetPager.Fingerprint(Enumerable.Range(offset, count).Select(i => $"server-{i:D4}"));

    /// <summary>Walks a well-behaved registry of <paramref name="total"/> items; returns the requests made and the final step.</summary>
    private static (List<PageRequest> Requests, PagerStep Final) Walk(OffsetPager pager, int total, bool sendTotal = false, bool sendNextOffset = false)
    {
        var requests = new List<PageRequest>();
        var request = pager.First;
        while (true)
        {
            requests.Add(request);
            var count = Math.Clamp(total - request.Offset, 0, request.Limit);
            var next = sendNextOffset && request.Offset + count < total ? request.Offset + count : (int?)null;
            var step = pager.Next(count, PageAt(request.Offset, count), next, sendTotal ? total : null);
            if (step is PagerStep.Fetch fetch)
                request = fetch.Request;
            else
                return (requests, step);
        }
    }

    [Fact]
    public void First_page_starts_at_zero_with_the_default_limit_of_100()
    {
        var pager = new OffsetPager();

        Assert.Equal(new PageRequest(0, 100), pager.First);
    }

    [Fact]
    public void Page_size_is_capped_at_1000_and_raised_to_at_least_1()
    {
        Assert.Equal(1000, new OffsetPager(5000).Limit);
        Assert.Equal(1, new OffsetPager(0).Limit);
        Assert.Equal(1, new OffsetPager(-5).Limit);
        Assert.Equal(250, new OffsetPager(250).Limit);
    }

    [Fact]
    public void A_page_size_of_5000_walks_past_the_first_page_because_the_capped_limit_is_compared()
    {
        var (requests, final) = Walk(new OffsetPager(5000), total: 2500);

        Assert.Equal([new PageRequest(0, 1000), new PageRequest(1000, 1000), new PageRequest(2000, 1000)], requests);
        Assert.Equal(new PagerStep.Done(3, 2500), final);
    }

    [Fact]
    public void Pager_stops_on_a_short_page()
    {
        var pager = new OffsetPager(10);

        var step = pager.Next(7, PageAt(0, 7));

        Assert.Equal(new PagerStep.Done(1, 7), step);
    }

    [Fact]
    public void Pager_stops_on_an_empty_page()
    {
        var pager = new OffsetPager(10);
        Assert.IsType<PagerStep.Fetch>(pager.Next(10, PageAt(0, 10)));

        var step = pager.Next(0, PageAt(10, 0));

        Assert.Equal(new PagerStep.Done(2, 10), step);
    }

    [Fact]
    public void Pager_moves_on_by_the_page_it_got_when_the_page_is_full()
    {
        var pager = new OffsetPager(10);

        var step = pager.Next(10, PageAt(0, 10));

        Assert.Equal(new PagerStep.Fetch(new PageRequest(10, 10)), step);
    }

    [Fact]
    public void An_exact_multiple_without_total_ends_with_one_empty_page()
    {
        var (requests, final) = Walk(new OffsetPager(100), total: 300);

        Assert.Equal(4, requests.Count);
        Assert.Equal(new PageRequest(300, 100), requests[^1]);
        Assert.Equal(new PagerStep.Done(4, 300), final);
    }

    [Fact]
    public void An_exact_multiple_with_total_ends_without_the_empty_page()
    {
        var (requests, final) = Walk(new OffsetPager(100), total: 300, sendTotal: true);

        Assert.Equal(3, requests.Count);
        Assert.Equal(new PagerStep.Done(3, 300), final);
    }

    [Fact]
    public void Next_offset_when_present_decides_where_the_next_page_starts()
    {
        var pager = new OffsetPager(10);

        var step = pager.Next(10, PageAt(0, 10), nextOffset: 25);

        Assert.Equal(new PagerStep.Fetch(new PageRequest(25, 10)), step);
    }

    [Fact]
    public void Next_offset_keeps_the_walk_going_past_a_page_that_the_registry_shortened()
    {
        var pager = new OffsetPager(1000);

        var step = pager.Next(500, PageAt(0, 500), nextOffset: 500, total: 2000);

        Assert.Equal(new PagerStep.Fetch(new PageRequest(500, 1000)), step);
    }

    [Fact]
    public void Next_offset_that_does_not_move_forward_is_a_failure()
    {
        var pager = new OffsetPager(10);
        Assert.IsType<PagerStep.Fetch>(pager.Next(10, PageAt(0, 10)));

        var step = pager.Next(10, PageAt(10, 10), nextOffset: 10);

        var failed = Assert.IsType<PagerStep.Failed>(step);
        Assert.Contains("next_offset 10", failed.Reason);
        Assert.Contains("does not move past offset 10", failed.Reason);
    }

    [Fact]
    public void Total_ends_the_walk_once_the_next_offset_reaches_it()
    {
        var pager = new OffsetPager(10);

        var step = pager.Next(10, PageAt(0, 10), total: 10);

        Assert.Equal(new PagerStep.Done(1, 10), step);
    }

    [Fact]
    public void Total_and_next_offset_together_walk_every_item_exactly_once()
    {
        var (requests, final) = Walk(new OffsetPager(1000), total: 10_000, sendTotal: true, sendNextOffset: true);

        Assert.Equal(10, requests.Count);
        Assert.Equal(Enumerable.Range(0, 10).Select(i => new PageRequest(i * 1000, 1000)), requests);
        Assert.Equal(new PagerStep.Done(10, 10_000), final);
    }

    [Fact]
    public void A_registry_that_ignores_offset_fails_the_walk_instead_of_looping()
    {
        var pager = new OffsetPager(10);
        var samePage = PageAt(0, 10);
        Assert.IsType<PagerStep.Fetch>(pager.Next(10, samePage));

        var step = pager.Next(10, samePage);

        var failed = Assert.IsType<PagerStep.Failed>(step);
        Assert.StartsWith("the registry ignored offset: page 2 repeated page 1", failed.Reason);
    }

    [Fact]
    public void A_page_that_repeats_an_older_page_is_a_failure_naming_both_pages()
    {
        var pager = new OffsetPager(10);
        Assert.IsType<PagerStep.Fetch>(pager.Next(10, PageAt(0, 10)));
        Assert.IsType<PagerStep.Fetch>(pager.Next(10, PageAt(10, 10)));

        var step = pager.Next(10, PageAt(0, 10));

        var failed = Assert.IsType<PagerStep.Failed>(step);
        Assert.Contains("page 3 (offset 20) repeated page 1", failed.Reason);
    }

    [Fact]
    public void More_pages_than_the_guard_allows_is_a_failure_naming_the_guard()
    {
        var pager = new OffsetPager(10, maxPages: 3);
        Assert.IsType<PagerStep.Fetch>(pager.Next(10, PageAt(0, 10)));
        Assert.IsType<PagerStep.Fetch>(pager.Next(10, PageAt(10, 10)));

        var step = pager.Next(10, PageAt(20, 10));

        var failed = Assert.IsType<PagerStep.Failed>(step);
        Assert.Contains("more than 3 pages", failed.Reason);
        Assert.Contains("max-pages guard", failed.Reason);
    }

    [Fact]
    public void The_last_allowed_page_may_still_end_the_walk_normally()
    {
        var (requests, final) = Walk(new OffsetPager(10, maxPages: 3), total: 25);

        Assert.Equal(3, requests.Count);
        Assert.Equal(new PagerStep.Done(3, 25), final);
    }

    [Fact]
    public void A_finished_walk_refuses_another_page()
    {
        var pager = new OffsetPager(10);
        Assert.IsType<PagerStep.Done>(pager.Next(0, PageAt(0, 0)));

        Assert.Throws<InvalidOperationException>(() => pager.Next(10, PageAt(0, 10)));
    }

    [Fact]
    public void Fingerprints_are_equal_for_equal_pages_and_differ_when_the_ids_or_their_order_differ()
    {
        Assert.Equal(OffsetPager.Fingerprint(["a", "b"]), OffsetPager.Fingerprint(["a", "b"]));
        Assert.NotEqual(OffsetPager.Fingerprint(["a", "b"]), OffsetPager.Fingerprint(["b", "a"]));
        Assert.NotEqual(OffsetPager.Fingerprint(["ab"]), OffsetPager.Fingerprint(["a", "b"]));
    }
}
