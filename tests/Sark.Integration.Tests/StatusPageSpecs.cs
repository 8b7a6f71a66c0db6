using System.Net;
using System.Text.Json;
using Sark.Integration.Tests.Infrastructure;

namespace Sark.Integration.Tests;

/// <summary>
/// The status page at <c>/</c> (issue 8) in headless Chromium driven over the DevTools protocol:
/// it renders the upstream table, and a breaker change and new calls appear without a reload.
/// Its screenshot is written to <c>artifacts/status-page.png</c> (and to
/// <c>docs/images/status-page.png</c> when <c>SARK_UPDATE_SCREENSHOT=1</c>).
/// </summary>
public sealed class StatusPageSpecs
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    /// <summary>The demo upstream stays open 5 s after a crash, long enough to be seen; <c>add</c> is denied.</summary>
    private static string Config() => NodeConfigs.Demo() + """

        sark.upstreams.demo.backoff { min = 5s, max = 10s }
        sark.policy.embedded.rules = [
          { name = spec-local-caller, effect = allow, subjects = [local] }
          { name = no-add, effect = deny, tools = [add], reason = "add is not allowed here" }
        ]
        """;

    private static Task<JsonElement> UntilPageAsync(Chromium page, string expression, Func<JsonElement, bool> done, string what) =>
        Eventually.UntilAsync(() => page.EvaluateAsync(expression), done, Bound, what);

    [Fact]
    public async Task The_status_page_renders_the_upstreams_and_shows_a_breaker_change_without_a_reload()
    {
        await using var node = await NodeProcess.StartAsync(Config());
        await Eventually.UntilAsync(() => node.Http.GetAsync("/health/ready"), r => r.StatusCode == HttpStatusCode.OK, Bound, "the node ready");
        using (var html = await node.Http.GetAsync("/"))
        {
            Assert.Equal("text/html", html.Content.Headers.ContentType?.MediaType);
            Assert.Contains("default-src 'none'", html.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
        }

        await using var page = await Chromium.StartAsync();
        await page.NavigateAsync(node.BaseAddress);

        // The table comes from /api/v1/upstreams; the events stream connects.
        await UntilPageAsync(page, "document.querySelector('#upstreams tr[data-upstream=\"demo\"]')?.dataset.breaker ?? ''",
            v => v.GetString() == "closed", "the demo row with a closed breaker");
        await UntilPageAsync(page, "document.getElementById('conn').textContent", v => v.GetString() == "live", "the event stream live");
        // The demo server has 12 tools; the policy hides add, which this caller may not call.
        await UntilPageAsync(page, "document.getElementById('catalog-tools').textContent", v => v.GetString() == "11", "the catalog size (11 callable tools)");
        Assert.Equal("mcp-stdio", (await page.EvaluateAsync("document.querySelector('#upstreams tr[data-upstream=\"demo\"] td:nth-child(2)').textContent")).GetString());
        // A mark on the window: it is gone if the page reloads.
        await page.EvaluateAsync("window.__sarkMark = 'same page'");

        // An allowed, a denied and a failed call (the crash opens the circuit).
        (await node.Http.InvokeAsync(new { server = "demo", tool = "echo", parameters = new { message = "from the spec" } })).EnsureSuccessStatusCode();
        Assert.Equal(HttpStatusCode.Forbidden, (await node.Http.InvokeAsync(new { server = "demo", tool = "add", parameters = new { a = 1, b = 2 } })).StatusCode);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await node.Http.InvokeAsync(new { server = "demo", tool = "crash", parameters = new { } })).StatusCode);

        await UntilPageAsync(page, "document.querySelector('#upstreams tr[data-upstream=\"demo\"]').dataset.breaker",
            v => v.GetString() == "open", "the breaker change to open on the page");
        var counts = await UntilPageAsync(page,
            "['allowed','denied','failed'].map(k => document.getElementById('calls-' + k).textContent).join(',')",
            v => v.GetString() == "1,1,1", "one allowed, one denied and one failed call counted");
        Assert.Equal("1,1,1", counts.GetString());
        var recent = await page.EvaluateAsync("[...document.querySelectorAll('#recent tbody tr')].map(r => r.dataset.result + ':' + r.cells[3].textContent).join(' ')");
        Assert.Equal("failed:crash denied:add allowed:echo", recent.GetString());

        // The restart shows too, and the page never reloaded.
        await UntilPageAsync(page, "document.querySelector('#upstreams tr[data-upstream=\"demo\"]').dataset.breaker",
            v => v.GetString() == "closed", "the breaker closed again after the restart");
        await UntilPageAsync(page, "document.querySelector('#upstreams tr[data-upstream=\"demo\"] td:nth-child(5)').textContent",
            v => v.GetString() == "1", "the restart count 1");
        Assert.Equal("same page", (await page.EvaluateAsync("window.__sarkMark")).GetString());

        var png = await page.ScreenshotAsync();
        Assert.True(png.Length > 1000 && png[1] == (byte)'P' && png[2] == (byte)'N' && png[3] == (byte)'G', "a PNG screenshot");
        var artifacts = Path.Combine(NodePaths.RepoRoot, "artifacts");
        Directory.CreateDirectory(artifacts);
        await File.WriteAllBytesAsync(Path.Combine(artifacts, "status-page.png"), png);
        if (Environment.GetEnvironmentVariable("SARK_UPDATE_SCREENSHOT") == "1")
            await File.WriteAllBytesAsync(Path.Combine(NodePaths.RepoRoot, "docs", "images", "status-page.png"), png);
    }
}
