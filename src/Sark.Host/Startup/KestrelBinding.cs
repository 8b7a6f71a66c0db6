using System.Net;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Sark.Actors.Configuration;

namespace Sark.Host.Startup;

/// <summary>Applies <c>sark.node.http</c> to Kestrel: the listen address and the request body limit.</summary>
internal static class KestrelBinding
{
    /// <summary>
    /// The address to listen on: an IP address, <c>localhost</c> or <c>*</c>, with a port.
    /// <paramref name="key"/> names the setting in errors.
    /// </summary>
    public static (IPAddress? Address, int Port) Parse(string bind, string key = "sark.node.http.bind")
    {
        SarkConfigLoader.ValidateBind(bind, key);
        var colon = bind.LastIndexOf(':');
        var host = bind[..colon];
        var port = int.Parse(bind.AsSpan(colon + 1), System.Globalization.CultureInfo.InvariantCulture);
        if (host.StartsWith('[') && host.EndsWith(']'))
            host = host[1..^1];

        if (host is "*" or "+")
            return (IPAddress.IPv6Any, port);
        if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            return port == 0
                ? throw new SarkConfigException($"{key}: port 0 needs an IP address (for example 127.0.0.1:0), not localhost.")
                : (null, port);
        }

        return IPAddress.TryParse(host, out var address)
            ? (address, port)
            : throw new SarkConfigException($"{key}: '{host}' is not an IP address or localhost; the node cannot listen on a host name.");
    }

    /// <summary>Listens on <paramref name="node"/>'s bind address and limits request bodies.</summary>
    public static void Configure(KestrelServerOptions kestrel, NodeOptions node, (IPAddress? Address, int Port) endpoint)
    {
        kestrel.AddServerHeader = false;
        kestrel.Limits.MaxRequestBodySize = node.MaxRequestBodyBytes;
        if (endpoint.Address is null)
            kestrel.ListenLocalhost(endpoint.Port);
        else if (endpoint.Address.Equals(IPAddress.IPv6Any))
            kestrel.ListenAnyIP(endpoint.Port);
        else
            kestrel.Listen(endpoint.Address, endpoint.Port);
    }
}
