using System.Net;
using System.Security.Cryptography;
using System.Text;
using Sark.Actors.Configuration;

namespace Sark.Actors.Ops;

/// <summary>
/// The ops console's command host (<c>sark.node.ops</c>): where it listens, the token it wants,
/// and how long a command may run. Options built in code have it off; <c>hocon/reference.conf</c>
/// turns it on for a node.
/// </summary>
public sealed record OpsOptions
{
    /// <summary>Run the command host at all (when the builder asked for it with <c>WithSarkOps</c>).</summary>
    public bool Enabled { get; init; }

    /// <summary>HOST:PORT of the TCP listener; an IP address (port 0 picks a free port).</summary>
    public string Bind { get; init; } = "127.0.0.1:9110";

    /// <summary>The token a client must send before anything else; empty means none (loopback only).</summary>
    public string Token { get; init; } = "";

    /// <summary>A command that sets no timeout of its own ends with <c>command_timeout</c> after this.</summary>
    public TimeSpan DefaultTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The longest timeout a client may ask for (following commands such as <c>audit tail -f</c> use it).</summary>
    public TimeSpan MaxTimeout { get; init; } = TimeSpan.FromHours(1);

    /// <summary>Concurrent console connections at most; more are closed at once.</summary>
    public int MaxSessions { get; init; } = 16;

    /// <summary>Lines kept for <c>log peek</c>.</summary>
    public int LogLines { get; init; } = 1000;

    /// <summary>Where the bound address is written once listening (empty: nowhere); tests and scripts read it.</summary>
    public string PortFile { get; init; } = "";

    public bool RequiresToken => Token.Length > 0;

    /// <summary>The address to listen on. Throws <see cref="SarkConfigException"/> naming the key.</summary>
    public IPEndPoint EndPoint()
    {
        const string key = "sark.node.ops.bind";
        SarkConfigLoader.ValidateBind(Bind, key);
        var colon = Bind.LastIndexOf(':');
        var host = Bind[..colon].Trim('[', ']');
        var port = int.Parse(Bind.AsSpan(colon + 1), System.Globalization.CultureInfo.InvariantCulture);
        if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase))
            return new IPEndPoint(IPAddress.Loopback, port);
        if (host is "*" or "+")
            return new IPEndPoint(IPAddress.Any, port);
        return IPAddress.TryParse(host, out var address)
            ? new IPEndPoint(address, port)
            : throw new SarkConfigException($"{key}: '{host}' is not an IP address or localhost.");
    }

    /// <summary>
    /// The start rule: a command host bound to anything but loopback must have a token.
    /// Throws <see cref="SarkConfigException"/> (the node exits with its configuration-error code).
    /// </summary>
    public OpsOptions Validate()
    {
        if (!Enabled)
            return this;
        var endPoint = EndPoint();
        if (!IPAddress.IsLoopback(endPoint.Address) && !RequiresToken)
        {
            throw new SarkConfigException(
                $"sark.node.ops.bind: '{Bind}' is not a loopback address, and sark.node.ops.token is empty. "
                + "Set a token (token = ${?SARK_OPS_TOKEN}) or bind to 127.0.0.1.");
        }

        if (DefaultTimeout <= TimeSpan.Zero || MaxTimeout < DefaultTimeout)
            throw new SarkConfigException("sark.node.ops.default-timeout: must be positive and not above max-timeout.");
        return this;
    }

    /// <summary>Compares a token a client sent with the configured one in constant time.</summary>
    public bool TokenMatches(string? offered)
    {
        if (!RequiresToken)
            return true;
        if (offered is null)
            return false;
        var a = SHA256.HashData(Encoding.UTF8.GetBytes(offered));
        var b = SHA256.HashData(Encoding.UTF8.GetBytes(Token));
        return CryptographicOperations.FixedTimeEquals(a, b);
    }

    /// <inheritdoc />
    public override string ToString() =>
        $"OpsOptions {{ Enabled = {Enabled}, Bind = {Bind}, Token = {(RequiresToken ? "[REDACTED]" : "(none)")} }}";
}
