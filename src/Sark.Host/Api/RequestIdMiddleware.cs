using Sark.Actors.Errors;

namespace Sark.Host.Api;

/// <summary>
/// Gives every request an id: the caller's <c>X-Request-ID</c> when it is valid, else a new one.
/// The id becomes <see cref="HttpContext.TraceIdentifier"/>, is echoed on the response and scopes
/// the logs. An invalid header (CR/LF, other characters, too long) is refused with <c>invalid_request</c>.
/// </summary>
internal sealed class RequestIdMiddleware(RequestDelegate next, ILogger<RequestIdMiddleware> logger)
{
    private readonly RequestDelegate _next = next;
    private readonly ILogger _logger = logger;

    public async Task InvokeAsync(HttpContext context)
    {
        var values = context.Request.Headers[RequestIds.Header];
        var id = RequestIds.NewId();
        var valid = true;
        if (values.Count > 0)
        {
            valid = values.Count == 1 && RequestIds.IsValid(values[0]);
            if (valid)
                id = values[0]!;
        }

        context.TraceIdentifier = id;
        context.Response.Headers[RequestIds.Header] = id;
        using var scope = _logger.BeginScope(new RequestIdScope(id));
        if (!valid)
        {
            await ApiErrors.WriteAsync(context, new SarkInvalidRequestException(
                $"Header {RequestIds.Header} must be 1 to {RequestIds.MaxLength} characters of letters, digits, '.', '_', ':' or '-'.", id)).ConfigureAwait(false);
            return;
        }

        await _next(context).ConfigureAwait(false);
    }

    /// <summary>The log scope of one request: <c>RequestId</c>.</summary>
    private sealed class RequestIdScope(string requestId) : IReadOnlyList<KeyValuePair<string, object?>>
    {
        private readonly KeyValuePair<string, object?> _item = new("RequestId", requestId);

        public int Count => 1;

        public KeyValuePair<string, object?> this[int index] => index == 0 ? _item : throw new ArgumentOutOfRangeException(nameof(index));

        public IEnumerator<KeyValuePair<string, object?>> GetEnumerator()
        {
            yield return _item;
        }

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

        public override string ToString() => $"RequestId:{_item.Value}";
    }
}
