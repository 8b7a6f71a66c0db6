using System.Net;

namespace Sark.Host.FrontDoor;

/// <summary>
/// DNS-rebinding protection of the MCP endpoints (pure): which <c>Host</c> and <c>Origin</c>
/// headers a request may carry. Configured lists win; empty lists are automatic: the loopback
/// names and the bind address, any host when the node listens on every interface, and the
/// origins whose host is an allowed host (or, with any host allowed, the request's own host).
/// A request without <c>Origin</c> (every non-browser client) passes the origin check.
/// </summary>
internal sealed class HostOriginPolicy
{
    private static readonly string[] LoopbackNames = ["localhost", "127.0.0.1", "::1"];

    private readonly HashSet<string> _hosts;
    private readonly HashSet<string> _origins;

    private HostOriginPolicy(bool anyHost, HashSet<string> hosts, bool anyOrigin, HashSet<string> origins)
    {
        AnyHost = anyHost;
        _hosts = hosts;
        AnyOrigin = anyOrigin;
        _origins = origins;
    }

    /// <summary>Every <c>Host</c> is accepted (<c>allowed-hosts = ["*"]</c>, or automatic on a wildcard bind).</summary>
    public bool AnyHost { get; }

    /// <summary>Every <c>Origin</c> is accepted (<c>allowed-origins = ["*"]</c>).</summary>
    public bool AnyOrigin { get; }

    /// <summary>The accepted host names (lower case, IPv6 without brackets), besides any host with <see cref="AnyHost"/>.</summary>
    public IReadOnlyCollection<string> Hosts => _hosts;

    /// <param name="allowedHosts"><c>sark.front-door.allowed-hosts</c>, normalized.</param>
    /// <param name="allowedOrigins"><c>sark.front-door.allowed-origins</c>, normalized.</param>
    /// <param name="bindHost">The host part of <c>sark.node.http.bind</c> (an IP address, <c>localhost</c> or <c>*</c>).</param>
    public static HostOriginPolicy Create(IReadOnlyList<string> allowedHosts, IReadOnlyList<string> allowedOrigins, string bindHost)
    {
        var hosts = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        bool anyHost;
        if (allowedHosts.Count > 0)
        {
            anyHost = allowedHosts.Contains("*");
            hosts.UnionWith(allowedHosts.Where(static h => h != "*"));
        }
        else
        {
            var bind = StripBrackets(bindHost);
            anyHost = bind is "*" or "+" || (IPAddress.TryParse(bind, out var address) && (address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any)));
            if (!anyHost)
            {
                hosts.UnionWith(LoopbackNames);
                hosts.Add(bind.ToLowerInvariant());
            }
        }

        var anyOrigin = allowedOrigins.Contains("*");
        var origins = new HashSet<string>(allowedOrigins.Where(static o => o != "*"), StringComparer.OrdinalIgnoreCase);
        return new HostOriginPolicy(anyHost, hosts, anyOrigin, origins);
    }

    /// <summary>Whether a request with this <c>Host</c> name (no port) may be served.</summary>
    public bool IsHostAllowed(string? host)
    {
        if (string.IsNullOrEmpty(host))
            return false;
        return AnyHost || _hosts.Contains(StripBrackets(host));
    }

    /// <summary>Whether a request with this <c>Origin</c> header (null: none) may be served; <paramref name="requestHost"/> is its <c>Host</c> name.</summary>
    public bool IsOriginAllowed(string? origin, string? requestHost)
    {
        if (origin is null)
            return true;
        if (AnyOrigin)
            return true;
        var normalized = NormalizeOrigin(origin);
        if (normalized is null)
            return false;
        if (_origins.Count > 0)
            return _origins.Contains(normalized);

        var host = StripBrackets(new Uri(normalized).Host);
        return _hosts.Contains(host)
            || (AnyHost && requestHost is not null && string.Equals(host, StripBrackets(requestHost), StringComparison.OrdinalIgnoreCase));
    }

    /// <summary><c>scheme://host[:port]</c> in lower case without a default port; null when <paramref name="origin"/> is not an origin (<c>null</c>, a path, a query).</summary>
    public static string? NormalizeOrigin(string origin)
    {
        if (!Uri.TryCreate(origin, UriKind.Absolute, out var uri) || uri.HostNameType == UriHostNameType.Unknown || string.IsNullOrEmpty(uri.Host))
            return null;
        if (uri.AbsolutePath != "/" || uri.Query.Length > 0 || uri.Fragment.Length > 0 || uri.UserInfo.Length > 0)
            return null;
        if (origin.EndsWith('/'))
            return null;
        var scheme = uri.Scheme.ToLowerInvariant();
        var host = uri.Host.ToLowerInvariant();
        return uri.IsDefaultPort ? $"{scheme}://{host}" : $"{scheme}://{host}:{uri.Port}";
    }

    /// <summary><c>[::1]</c> → <c>::1</c>.</summary>
    public static string StripBrackets(string host) =>
        host.Length > 1 && host[0] == '[' && host[^1] == ']' ? host[1..^1] : host;
}
