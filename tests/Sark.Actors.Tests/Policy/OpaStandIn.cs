using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Sark.Actors.Tests.Policy;

/// <summary>How the stand-in answers.</summary>
public enum OpaBehaviour
{
    /// <summary><c>200 {"result": Result}</c>, or what <see cref="OpaStandIn.Decide"/> returns.</summary>
    Decide,

    /// <summary><c>200 {}</c>: the document is undefined.</summary>
    Undefined,

    /// <summary><c>500</c> with an OPA-style error body.</summary>
    ServerError,

    /// <summary>Never answers (until the client gives up).</summary>
    Hang,

    /// <summary><c>200</c> with a body that is not JSON.</summary>
    Malformed,

    /// <summary><c>307</c> to another host, which must not be followed.</summary>
    Redirect,
}

/// <summary>
/// An in-repo stand-in for Open Policy Agent (no OPA binary can be installed here): Kestrel on
/// 127.0.0.1 and a free port, speaking OPA's Data API, <c>POST /v1/data/{path}</c> with
/// <c>{"input": ...}</c>, answering <c>{"result": ...}</c>. Specs set the decision, count the
/// requests, read the last input, hold requests back, and make it fail.
/// </summary>
internal sealed class OpaStandIn : IAsyncDisposable
{
    private readonly WebApplication _app;
    private int _requests;
    private volatile TaskCompletionSource? _hold;

    private OpaStandIn(WebApplication app)
    {
        _app = app;
    }

    /// <summary><c>http://127.0.0.1:port</c>.</summary>
    public Uri Url { get; private set; } = null!;

    public OpaBehaviour Behaviour { get; set; } = OpaBehaviour.Decide;

    /// <summary>The raw JSON of <c>result</c> while <see cref="Behaviour"/> is <see cref="OpaBehaviour.Decide"/>.</summary>
    public string Result { get; set; } = """{"allow":true,"reason":"stand-in allows"}""";

    /// <summary>When set, computes the raw <c>result</c> from the input (overrides <see cref="Result"/>).</summary>
    public Func<JsonElement, string>? Decide { get; set; }

    /// <summary>POSTs received on the Data API.</summary>
    public int Requests => Volatile.Read(ref _requests);

    /// <summary>The path of the last query, like <c>/v1/data/sark/authz/decision</c>.</summary>
    public string? LastPath { get; private set; }

    /// <summary>The <c>input</c> of the last query.</summary>
    public JsonElement? LastInput { get; private set; }

    /// <summary>The last request body, as text.</summary>
    public string? LastBody { get; private set; }

    public static async Task<OpaStandIn> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var opa = new OpaStandIn(app);
        app.MapPost("/v1/data/{**path}", opa.HandleAsync);
        await app.StartAsync().ConfigureAwait(false);
        opa.Url = new Uri(app.Urls.Single());
        return opa;
    }

    /// <summary>Makes every request wait until <see cref="Release"/>.</summary>
    public void Hold() => _hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Release() => Interlocked.Exchange(ref _hold, null)?.TrySetResult();

    private async Task HandleAsync(HttpContext context)
    {
        Interlocked.Increment(ref _requests);
        var ct = context.RequestAborted;
        using var reader = new StreamReader(context.Request.Body, Encoding.UTF8);
        var body = await reader.ReadToEndAsync(ct).ConfigureAwait(false);
        LastBody = body;
        LastPath = context.Request.Path.Value;
        JsonElement? input = null;
        try
        {
            var root = JsonElement.Parse(body);
            input = root.TryGetProperty("input", out var i) ? i : null;
        }
        catch (JsonException)
        {
            context.Response.StatusCode = 400;
            await context.Response.WriteAsync("""{"code":"invalid_parameter","message":"body is not JSON"}""", ct).ConfigureAwait(false);
            return;
        }

        LastInput = input;
        if (_hold is { } hold)
            await hold.Task.WaitAsync(ct).ConfigureAwait(false);

        context.Response.ContentType = "application/json";
        switch (Behaviour)
        {
            case OpaBehaviour.Undefined:
                await context.Response.WriteAsync("{}", ct).ConfigureAwait(false);
                break;
            case OpaBehaviour.ServerError:
                context.Response.StatusCode = 500;
                await context.Response.WriteAsync("""{"code":"internal_error","message":"stand-in failure"}""", ct).ConfigureAwait(false);
                break;
            case OpaBehaviour.Hang:
                await Task.Delay(Timeout.Infinite, ct).ConfigureAwait(false);
                break;
            case OpaBehaviour.Malformed:
                await context.Response.WriteAsync("{\"result\": {\"allow\": tru", ct).ConfigureAwait(false);
                break;
            case OpaBehaviour.Redirect:
                context.Response.StatusCode = 307;
                context.Response.Headers.Location = "http://198.51.100.1/v1/data/elsewhere";
                break;
            default:
                var result = Decide is { } decide && input is { } given ? decide(given) : Result;
                await context.Response.WriteAsync("{\"result\":" + result + "}", ct).ConfigureAwait(false);
                break;
        }
    }

    public async ValueTask DisposeAsync()
    {
        Release();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await _app.StopAsync(cts.Token).ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }
}
