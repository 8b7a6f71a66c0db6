using System.IO.Pipelines;
using Microsoft.AspNetCore.Http.Features;

namespace Sark.Host.FrontDoor;

/// <summary>
/// The response body of an MCP request whose event stream gets keep-alive comments: the stream is
/// the <see cref="KeepAliveStream"/> (the SDK writes its events there, and the comments are
/// serialized with them); starting, completing, buffering and the pipe writer stay Kestrel's own.
/// Setting <see cref="HttpResponse.Body"/> instead would put a stream body feature of ASP.NET
/// Core's in front of all of them, on every request. Only error bodies go to the pipe writer, and
/// a response that is not an event stream never gets a comment.
/// </summary>
internal sealed class KeepAliveBodyFeature(IHttpResponseBodyFeature inner, KeepAliveStream stream) : IHttpResponseBodyFeature
{
    public IHttpResponseBodyFeature Inner => inner;

    public Stream Stream => stream;

    public PipeWriter Writer => inner.Writer;

    public void DisableBuffering() => inner.DisableBuffering();

    public Task StartAsync(CancellationToken cancellationToken = default) => inner.StartAsync(cancellationToken);

    public Task SendFileAsync(string path, long offset, long? count, CancellationToken cancellationToken = default) =>
        inner.SendFileAsync(path, offset, count, cancellationToken);

    public Task CompleteAsync() => inner.CompleteAsync();
}
