using System.Diagnostics.CodeAnalysis;

namespace Sark.Host.FrontDoor;

/// <summary>
/// Front-door resource URIs: <c>sark://&lt;server&gt;/&lt;the upstream's URI, verbatim&gt;</c>, for
/// example <c>sark://everything/test://static/resource/1</c>. The original follows the server's
/// path segment unchanged, so the mapping is reversible by construction, needs no escaping, and
/// keeps URI templates expandable (<c>sark://everything/test://static/resource/{id}</c>). The server
/// part is compared exactly (case-sensitive), as the catalog names it. Pure.
/// </summary>
internal static class ResourceUris
{
    public const string Prefix = "sark://";

    /// <summary>The front-door URI of <paramref name="uri"/> on <paramref name="server"/>; false for an empty part or a server with a '/'.</summary>
    public static bool TryQualify(string server, string? uri, [NotNullWhen(true)] out string? qualified)
    {
        qualified = null;
        if (string.IsNullOrEmpty(server) || string.IsNullOrEmpty(uri) || server.Contains('/', StringComparison.Ordinal))
            return false;
        qualified = string.Concat(Prefix, server, "/", uri);
        return true;
    }

    /// <summary>Splits a front-door URI into its server and the upstream's URI; false when it is not one.</summary>
    public static bool TryParse(string? uri, [NotNullWhen(true)] out string? server, [NotNullWhen(true)] out string? original)
    {
        server = null;
        original = null;
        if (uri is null || !uri.StartsWith(Prefix, StringComparison.Ordinal))
            return false;
        var slash = uri.IndexOf('/', Prefix.Length);
        if (slash <= Prefix.Length || slash == uri.Length - 1)
            return false;
        server = uri[Prefix.Length..slash];
        original = uri[(slash + 1)..];
        return true;
    }
}
