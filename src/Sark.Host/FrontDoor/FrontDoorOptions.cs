using Akka.Configuration;
using Sark.Actors.Configuration;

namespace Sark.Host.FrontDoor;

/// <summary><c>sark.front-door</c>: the MCP endpoint that agents connect to.</summary>
/// <param name="Enabled">Whether <c>/mcp</c> is served.</param>
/// <param name="Path">Where the endpoint is mapped.</param>
/// <param name="Stateless">No sessions: every request stands alone.</param>
/// <param name="Separator">Between the server and the tool in a front-door tool name.</param>
internal sealed record FrontDoorOptions(bool Enabled, string Path, bool Stateless, string Separator)
{
    private const string Key = "sark.front-door";

    /// <summary>The values of <c>hocon/reference.conf</c>.</summary>
    public static FrontDoorOptions Default { get; } = Read(SarkConfigLoader.Defaults);

    /// <summary>Parses HOCON text on top of the embedded defaults.</summary>
    public static FrontDoorOptions Parse(string hocon)
    {
        Config config;
        try
        {
            config = ConfigurationFactory.ParseString(SarkConfigLoader.SubstituteEnvironment(hocon));
        }
        catch (Exception ex)
        {
            throw new SarkConfigException($"The configuration is not valid HOCON: {ex.Message}", ex);
        }

        return Read(config.WithFallback(SarkConfigLoader.Defaults));
    }

    /// <summary>Reads <c>sark.front-door</c> from a resolved config (the defaults must be part of it).</summary>
    /// <exception cref="SarkConfigException">A value is invalid; the message names the key.</exception>
    public static FrontDoorOptions Read(Config config)
    {
        var section = config.GetConfig(Key) ?? throw new SarkConfigException($"{Key}: the section is missing.");
        var path = section.GetString("path", "/mcp");
        if (string.IsNullOrEmpty(path) || path[0] != '/' || path.Contains('?', StringComparison.Ordinal) || path.Contains('#', StringComparison.Ordinal))
            throw new SarkConfigException($"{Key}.path: '{path}' must be a path starting with '/'.");
        if (IsReserved(path))
            throw new SarkConfigException($"{Key}.path: '{path}' is taken by the REST API, health or metrics.");

        var separator = section.GetString("separator", ToolNames.DefaultSeparator);
        if (string.IsNullOrEmpty(separator) || !ToolNames.IsValidName(separator))
            throw new SarkConfigException($"{Key}.separator: '{separator}' must be one or more of the characters A-Z a-z 0-9 _ - .");

        return new FrontDoorOptions(
            section.GetBoolean("enabled", true),
            path.Length > 1 ? path.TrimEnd('/') : path,
            section.GetBoolean("stateless", false),
            separator);
    }

    private static bool IsReserved(string path) =>
        path == "/" || StartsWithSegment(path, "/api") || StartsWithSegment(path, "/health") || StartsWithSegment(path, "/metrics");

    private static bool StartsWithSegment(string path, string prefix) =>
        path.StartsWith(prefix, StringComparison.OrdinalIgnoreCase) && (path.Length == prefix.Length || path[prefix.Length] == '/');
}
