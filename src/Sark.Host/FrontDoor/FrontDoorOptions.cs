using System.Globalization;
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

    /// <summary>Host names accepted in the <c>Host</c> header; empty: automatic (<see cref="HostOriginPolicy"/>).</summary>
    public IReadOnlyList<string> AllowedHosts { get; init; } = [];

    /// <summary>Origins (<c>scheme://host[:port]</c>) accepted in the <c>Origin</c> header; empty: those of the allowed hosts.</summary>
    public IReadOnlyList<string> AllowedOrigins { get; init; } = [];

    /// <summary>Largest request body on every MCP endpoint.</summary>
    public long MaxRequestBodyBytes { get; init; } = 1024 * 1024;

    /// <summary>Open Streamable HTTP sessions on this node.</summary>
    public int MaxSessions { get; init; } = 1000;

    /// <summary>Open sessions (Streamable HTTP and legacy SSE together) of one caller.</summary>
    public int MaxSessionsPerCaller { get; init; } = 100;

    /// <summary>Items per page of <c>tools/list</c>, <c>resources/list</c>, <c>resources/templates/list</c> and <c>prompts/list</c>.</summary>
    public int PageSize { get; init; } = 500;

    /// <summary>A session without any request for this long is closed.</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromMinutes(30);

    /// <summary>Period of the <c>: keep-alive</c> comments on open SSE streams; zero: none.</summary>
    public TimeSpan KeepAlive { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>How long the events of a session's SSE streams are kept for a client that resumes with <c>Last-Event-ID</c>; zero: no resumption.</summary>
    public TimeSpan ResumeWindow { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Whether the events of every call's answer stream (a streamed POST) are kept too, not only the GET stream's.</summary>
    public bool ResumeCallStreams { get; init; }

    /// <summary>
    /// A plain <c>tools/call</c> at the aggregated endpoint is answered by the front door itself,
    /// without the SDK's MCP server (<see cref="DirectToolCall"/>): stateless, in a Streamable HTTP
    /// session (<see cref="DirectSessionCalls"/>) and in a legacy SSE session.
    /// </summary>
    public bool DirectToolCalls { get; init; } = true;

    /// <summary>
    /// Whether the calls of a Streamable HTTP session are answered directly: with
    /// <see cref="DirectToolCalls"/>, unless every call's answer stream is kept for resumption
    /// (<see cref="ResumeCallStreams"/>), which the SDK's event store does.
    /// </summary>
    public bool DirectSessionCalls => DirectToolCalls && !(ResumeCallStreams && ResumeWindow > TimeSpan.Zero);

    /// <summary>The deprecated HTTP+SSE transport (MCP 2024-11-05) at <c>/sse</c> and <c>/messages</c>.</summary>
    public LegacySseOptions LegacySse { get; init; } = new();

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
            throw new SarkConfigException($"{Key}.path: '{path}' is taken by the REST API, health, metrics, the legacy SSE endpoints or the single-server endpoints (/servers).");

        var separator = section.GetString("separator", ToolNames.DefaultSeparator);
        if (string.IsNullOrEmpty(separator) || !ToolNames.IsValidName(separator))
            throw new SarkConfigException($"{Key}.separator: '{separator}' must be one or more of the characters A-Z a-z 0-9 _ - .");

        var stateless = SarkConfigLoader.ReadBool(section, "stateless", Key);
        var legacy = LegacySseOptions.Read(section, $"{Key}.legacy-sse");
        if (stateless && legacy.Enabled)
            throw new SarkConfigException($"{Key}.legacy-sse.enabled: the legacy SSE transport needs sessions; set it to false when {Key}.stateless = true.");

        return new FrontDoorOptions(
            SarkConfigLoader.ReadBool(section, "enabled", Key),
            path.Length > 1 ? path.TrimEnd('/') : path,
            stateless,
            separator)
        {
            AllowedHosts = ReadHosts(section),
            AllowedOrigins = ReadOrigins(section),
            MaxRequestBodyBytes = SarkConfigLoader.ReadSize(section, "max-request-body", 1024, 64L * 1024 * 1024, Key),
            MaxSessions = SarkConfigLoader.ReadInt(section, "max-sessions", 1, 1_000_000, Key),
            MaxSessionsPerCaller = SarkConfigLoader.ReadInt(section, "max-sessions-per-caller", 1, 1_000_000, Key),
            PageSize = SarkConfigLoader.ReadInt(section, "page-size", 1, 10_000, Key),
            IdleTimeout = ReadPositiveDuration(section, "idle-timeout", Key),
            KeepAlive = SarkConfigLoader.ReadDuration(section, "keep-alive", Key),
            ResumeWindow = SarkConfigLoader.ReadDuration(section, "resume-window", Key),
            ResumeCallStreams = SarkConfigLoader.ReadBool(section, "resume-call-streams", Key),
            DirectToolCalls = SarkConfigLoader.ReadBool(section, "direct-tool-calls", Key),
            LegacySse = legacy,
        };
    }

    internal static TimeSpan ReadPositiveDuration(Config section, string path, string prefix)
    {
        var value = SarkConfigLoader.ReadDuration(section, path, prefix);
        return value >= TimeSpan.FromSeconds(1)
            ? value
            : throw new SarkConfigException($"{prefix}.{path}: must be at least 1s.");
    }

    private static IReadOnlyList<string> ReadHosts(Config section)
    {
        var hosts = Sark.Actors.Identity.HoconReading.ReadStringList(section, "allowed-hosts", Key);
        foreach (var host in hosts)
        {
            if (host != "*" && (host.Length == 0 || host.Contains('/', StringComparison.Ordinal) || Uri.CheckHostName(HostOriginPolicy.StripBrackets(host)) == UriHostNameType.Unknown))
                throw new SarkConfigException($"{Key}.allowed-hosts: '{host}' is not a host name or IP address (no scheme, no port), or \"*\".");
        }

        return [.. hosts.Select(static h => HostOriginPolicy.StripBrackets(h).ToLowerInvariant())];
    }

    private static IReadOnlyList<string> ReadOrigins(Config section)
    {
        var origins = Sark.Actors.Identity.HoconReading.ReadStringList(section, "allowed-origins", Key);
        var result = new List<string>(origins.Length);
        foreach (var origin in origins)
        {
            if (origin == "*")
            {
                result.Add(origin);
                continue;
            }

            result.Add(HostOriginPolicy.NormalizeOrigin(origin)
                ?? throw new SarkConfigException($"{Key}.allowed-origins: '{origin}' is not an origin like \"https://app.example.com\" (scheme, host and optional port, no path), or \"*\"."));
        }

        return result;
    }

    private static bool IsReserved(string path) =>
        path == "/" || StartsWithSegment(path, "/api") || StartsWithSegment(path, "/health") || StartsWithSegment(path, "/metrics")
        || StartsWithSegment(path, LegacySseOptions.SsePath) || StartsWithSegment(path, LegacySseOptions.MessagesPath)
        || StartsWithSegment(path, "/servers");

    private static bool StartsWithSegment(string path, string prefix) =>
        path.StartsWith(prefix, StringComparison.OrdinalIgnoreCase) && (path.Length == prefix.Length || path[prefix.Length] == '/');
}

/// <summary><c>sark.front-door.legacy-sse</c>: the deprecated HTTP+SSE transport, with its own, lower limits.</summary>
internal sealed record LegacySseOptions
{
    /// <summary>The GET stream of the legacy transport.</summary>
    public const string SsePath = "/sse";

    /// <summary>Where a legacy client posts its messages (<c>?sessionId=</c>).</summary>
    public const string MessagesPath = "/messages";

    /// <summary>Whether <c>/sse</c> and <c>/messages</c> are served.</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>The date after which the endpoints may go away (the <c>Sunset</c> header), UTC midnight.</summary>
    public DateTimeOffset Sunset { get; init; } = new(2027, 6, 30, 0, 0, 0, TimeSpan.Zero);

    /// <summary>The migration guide that the <c>Link</c> header points to.</summary>
    public Uri MigrationGuide { get; init; } = new("https://modelcontextprotocol.io/specification/2025-03-26/basic/transports#backwards-compatibility");

    /// <summary>Open legacy sessions on this node.</summary>
    public int MaxSessions { get; init; } = 100;

    /// <summary>A legacy session without any posted message for this long is closed.</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Messages one legacy session may post per second, sustained (<see cref="MessageRate"/>); 0: no limit.</summary>
    public int MessagesPerSecond { get; init; } = 100;

    /// <summary>Messages one legacy session may post at once, above the sustained rate.</summary>
    public int MessagesBurst { get; init; } = 200;

    internal static LegacySseOptions Read(Config section, string key)
    {
        var legacy = section.GetConfig("legacy-sse") ?? throw new SarkConfigException($"{key}: the section is missing.");
        var sunsetText = legacy.GetString("sunset", "");
        if (!DateTimeOffset.TryParseExact(sunsetText, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var sunset))
            throw new SarkConfigException($"{key}.sunset: '{sunsetText}' must be a date like \"2027-06-30\".");

        var guideText = legacy.GetString("migration-guide", "");
        if (!Uri.TryCreate(guideText, UriKind.Absolute, out var guide) || (guide.Scheme != Uri.UriSchemeHttps && guide.Scheme != Uri.UriSchemeHttp)
            || guideText.AsSpan().IndexOfAny("\r\n<>\" ") >= 0)
            throw new SarkConfigException($"{key}.migration-guide: '{guideText}' must be an absolute http or https URL.");

        return new LegacySseOptions
        {
            Enabled = SarkConfigLoader.ReadBool(legacy, "enabled", key),
            Sunset = sunset,
            MigrationGuide = guide,
            MaxSessions = SarkConfigLoader.ReadInt(legacy, "max-sessions", 1, 100_000, key),
            IdleTimeout = FrontDoorOptions.ReadPositiveDuration(legacy, "idle-timeout", key),
            MessagesPerSecond = SarkConfigLoader.ReadInt(legacy, "messages-per-second", 0, 1_000_000, key),
            MessagesBurst = SarkConfigLoader.ReadInt(legacy, "messages-burst", 1, 1_000_000, key),
        };
    }
}
