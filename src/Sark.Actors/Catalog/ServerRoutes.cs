using System.Collections.Immutable;
using Sark.Actors.Configuration;

namespace Sark.Actors.Catalog;

/// <summary>
/// Which upstream hosts each server, read by the facade without a message. An <c>mcp-*</c>
/// upstream hosts one server named after it, known from the configuration; an upstream that
/// exposes many servers (a gateway registry) has its servers published here by the catalog
/// whenever they are discovered. The catalog is the only writer.
/// </summary>
internal sealed class ServerRoutes
{
    private readonly ImmutableDictionary<string, string> _configured;
    private volatile ImmutableDictionary<string, string> _discovered = ImmutableDictionary<string, string>.Empty.WithComparers(StringComparer.Ordinal);

    public ServerRoutes(SarkOptions options)
    {
        var configured = ImmutableDictionary.CreateBuilder<string, string>(StringComparer.Ordinal);
        foreach (var upstream in options.Upstreams.Values)
        {
            if (upstream.Kind is UpstreamKind.McpStdio or UpstreamKind.McpHttp)
                configured[upstream.Name] = upstream.Name;
        }

        _configured = configured.ToImmutable();
    }

    /// <summary>The upstream that hosts <paramref name="server"/>, if any.</summary>
    public bool TryResolve(string server, out string upstream) =>
        _configured.TryGetValue(server, out upstream!) || _discovered.TryGetValue(server, out upstream!);

    /// <summary>Replaces the discovered routes (catalog only).</summary>
    public void Publish(ImmutableDictionary<string, string> discovered) => _discovered = discovered;
}
