using System.Collections.Immutable;
using System.Reflection;
using System.Text.RegularExpressions;
using Akka.Configuration;
using Akka.Configuration.Hocon;

namespace Sark.Actors.Configuration;

/// <summary>A configuration error. The message names the offending key.</summary>
public sealed class SarkConfigException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Reads the <c>sark</c> HOCON section into <see cref="SarkOptions"/>, failing with a
/// <see cref="SarkConfigException"/> that names the key on anything invalid.
/// </summary>
public static partial class SarkConfigLoader
{
    private const string Root = "sark";

    /// <summary>The defaults shipped in <c>hocon/reference.conf</c>, embedded in this assembly.</summary>
    public static Config Defaults { get; } = LoadEmbeddedDefaults();

    /// <summary>Parses HOCON text on top of the embedded defaults.</summary>
    public static SarkOptions Parse(string hocon, string? appDirectory = null)
    {
        Config config;
        try
        {
            config = ConfigurationFactory.ParseString(SubstituteEnvironment(hocon));
        }
        catch (Exception ex)
        {
            throw new SarkConfigException($"The configuration is not valid HOCON: {ex.Message}", ex);
        }

        return Load(config.WithFallback(Defaults), appDirectory);
    }

    /// <summary>The configuration text as Akka reads it, on top of the embedded defaults (what the ops console's <c>config show</c> renders).</summary>
    public static Config ParseConfig(string hocon)
    {
        try
        {
            return ConfigurationFactory.ParseString(SubstituteEnvironment(hocon)).WithFallback(Defaults);
        }
        catch (Exception ex)
        {
            throw new SarkConfigException($"The configuration is not valid HOCON: {ex.Message}", ex);
        }
    }

    /// <summary>
    /// Replaces <c>${VAR}</c> and <c>${?VAR}</c> (a name without dots) by the environment
    /// variable's value as a quoted string, when it is set. Akka's HOCON parser does not read
    /// the environment itself. An unset <c>${?VAR}</c> is left to HOCON, which leaves the key empty.
    /// </summary>
    internal static string SubstituteEnvironment(string hocon) =>
        EnvReference().Replace(hocon, match =>
        {
            var value = Environment.GetEnvironmentVariable(match.Groups["name"].Value);
            return value is null ? match.Value : System.Text.Json.JsonSerializer.Serialize(value);
        });

    /// <summary>Reads a HOCON file on top of the embedded defaults.</summary>
    public static SarkOptions LoadFile(string path, string? appDirectory = null)
    {
        if (!File.Exists(path))
            throw new SarkConfigException($"The configuration file '{path}' does not exist.");
        return Parse(File.ReadAllText(path), appDirectory);
    }

    /// <summary>Reads a resolved config (the defaults must already be part of it).</summary>
    public static SarkOptions Load(Config config, string? appDirectory = null)
    {
        appDirectory ??= AppContext.BaseDirectory.TrimEnd('/', '\\');
        var sark = config.GetConfig(Root) ?? throw new SarkConfigException("The configuration has no 'sark' section.");
        var node = new NodeOptions
        {
            HttpBind = ReadBind(sark, "node.http.bind"),
            MaxRequestBodyBytes = ReadSize(sark, "node.http.max-request-body", 1, long.MaxValue),
            ShutdownDrain = ReadDuration(sark, "node.shutdown-drain"),
            Gen0Budget = ReadSize(sark, "node.gc.gen0-budget", 0, 1L << 32),
            GcMode = ReadGcMode(sark),
            Ops = new Ops.OpsOptions
            {
                Enabled = ReadBool(sark, "node.ops.enabled"),
                Bind = ReadBind(sark, "node.ops.bind"),
                Token = sark.GetString("node.ops.token", "") ?? "",
                DefaultTimeout = ReadDuration(sark, "node.ops.default-timeout"),
                MaxTimeout = ReadDuration(sark, "node.ops.max-timeout"),
                MaxSessions = ReadInt(sark, "node.ops.max-sessions", 1, 1000),
                LogLines = ReadInt(sark, "node.ops.log-lines", 1, 100_000),
                PortFile = sark.GetString("node.ops.port-file", "") ?? "",
            }.Validate(),
        };

        var events = new EventsOptions
        {
            MaxStreams = ReadInt(sark, "events.max-streams", 1, 100_000),
            BufferSize = ReadInt(sark, "events.buffer-size", 1, 1_000_000),
            ReadTimeout = ReadDuration(sark, "events.read-timeout"),
            MaxEventBytes = ReadSize(sark, "events.max-event-size", 1024, int.MaxValue),
            Backoff = new BackoffOptions
            {
                Min = ReadDuration(sark, "events.backoff.min"),
                Max = ReadDuration(sark, "events.backoff.max"),
                RandomFactor = ReadDouble(sark, "events.backoff.random-factor", 0, 1),
            },
            JournalSize = ReadInt(sark, "events.journal-size", 1, 10_000_000),
            KeepAlive = ReadDuration(sark, "events.keep-alive"),
            MaxClients = ReadInt(sark, "events.max-clients", 1, 1_000_000),
        };
        if (events.Backoff.Min > events.Backoff.Max)
            throw new SarkConfigException($"{Root}.events.backoff.min: must not exceed events.backoff.max.");

        var defaults = sark.GetConfig("upstream-defaults") ?? Config.Empty;
        var upstreams = ImmutableDictionary.CreateBuilder<string, UpstreamOptions>(StringComparer.Ordinal);
        var upstreamsValue = sark.GetValue("upstreams");
        if (upstreamsValue is { } value && !value.IsEmpty)
        {
            if (!value.IsObject())
                throw new SarkConfigException("sark.upstreams: must be an object of named upstream blocks.");
            foreach (var name in value.GetObject().Items.Keys)
            {
                var key = $"{Root}.upstreams.{name}";
                if (!UpstreamName().IsMatch(name))
                    throw new SarkConfigException($"{key}: the upstream name must match {UpstreamName()} (letters, digits, '.', '_', '-'; at most 64).");
                var block = sark.GetConfig($"upstreams.{Quote(name)}");
                upstreams[name] = ReadUpstream(name, key, block.WithFallback(defaults), appDirectory) with { Events = events };
            }
        }

        var modeText = sark.GetString("routing.mode", "auto");
        var mode = RouteModes.FromConfigName(modeText)
            ?? throw new SarkConfigException($"{Root}.routing.mode: '{modeText}' is not a mode; use auto, http-only, sse-only or stdio-only.");
        var catalog = new CatalogOptions
        {
            MaxEntries = ReadInt(sark, "catalog.max-entries", 1, 10_000_000),
            StaleRetry = ReadDuration(sark, "catalog.stale-retry"),
        };

        return new SarkOptions
        {
            Node = node,
            Cluster = ClusterOptions.Read(sark),
            Telemetry = ReadTelemetry(sark),
            Upstreams = upstreams.ToImmutable(),
            Catalog = catalog,
            RouteMode = mode,
            Events = events,
            Policy = Policy.PolicyOptions.Read(config),
            Audit = Audit.AuditOptions.Read(config),
        };
    }

    private static GcMode ReadGcMode(Config sark) => sark.GetString("node.gc.mode", "workstation") switch
    {
        "workstation" => GcMode.Workstation,
        "server" => GcMode.Server,
        var other => throw new SarkConfigException($"{Root}.node.gc.mode: '{other}' is not a GC mode; use workstation or server."),
    };

    private static TelemetryOptions ReadTelemetry(Config sark)
    {
        var endpointText = sark.GetString("telemetry.otlp-endpoint", "");
        Uri? endpoint = null;
        if (!string.IsNullOrWhiteSpace(endpointText)
            && (!Uri.TryCreate(endpointText, UriKind.Absolute, out endpoint) || endpoint.Scheme is not ("http" or "https")))
            throw new SarkConfigException($"{Root}.telemetry.otlp-endpoint: '{endpointText}' is not an http or https URL.");
        var protocol = sark.GetString("telemetry.otlp-protocol", "grpc");
        if (protocol is not ("grpc" or "http/protobuf"))
            throw new SarkConfigException($"{Root}.telemetry.otlp-protocol: '{protocol}' is not a protocol; use grpc or http/protobuf.");
        var format = sark.GetString("telemetry.log-format", "text");
        if (format is not ("text" or "json"))
            throw new SarkConfigException($"{Root}.telemetry.log-format: '{format}' is not a format; use text or json.");
        var threshold = ReadDuration(sark, "telemetry.slow-call-threshold");
        var interval = ReadDuration(sark, "telemetry.otlp-metrics-interval");
        if (interval < TimeSpan.FromMilliseconds(100))
            throw new SarkConfigException($"{Root}.telemetry.otlp-metrics-interval: must be at least 100ms.");
        return new TelemetryOptions
        {
            SlowCallThreshold = threshold,
            OtlpEndpoint = endpoint,
            OtlpProtocol = protocol,
            OtlpMetricsInterval = interval,
            LogFormat = format,
            ErrorLogBurst = ReadInt(sark, "telemetry.error-log-burst", 1, 1_000_000),
            TraceSampleRatio = ReadDouble(sark, "telemetry.trace-sample-ratio", 0, 1),
            Enabled = ReadBool(sark, "telemetry.enabled"),
        };
    }

    /// <summary>Validates HOST:PORT and returns it unchanged.</summary>
    public static string ValidateBind(string value, string key)
    {
        var colon = value.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(value.AsSpan(colon + 1), out var port) || port is < 0 or > 65535)
            throw new SarkConfigException($"{key}: '{value}' is not HOST:PORT (for example 127.0.0.1:8080).");
        return value;
    }

    private static UpstreamOptions ReadUpstream(string name, string key, Config c, string appDirectory)
    {
        var kindText = c.GetString("kind", null);
        var kind = UpstreamKinds.FromConfigName(kindText) ?? throw new SarkConfigException(kindText is null
            ? $"{key}.kind: missing; use mcp-stdio, mcp-http or gateway."
            : $"{key}.kind: '{kindText}' is not a kind; use mcp-stdio, mcp-http or gateway.");

        var options = new UpstreamOptions
        {
            Name = name,
            Kind = kind,
            ClusterRole = c.GetString("cluster-role", "") ?? "",
            CallTimeout = ReadDuration(c, "call-timeout", key),
            InitTimeout = ReadDuration(c, "init-timeout", key),
            MaxMessageBytes = (int)ReadSize(c, "max-message-size", 1024, int.MaxValue, key),
            FailureThreshold = ReadInt(c, "failure-threshold", 1, 1000, key),
            Backoff = new BackoffOptions
            {
                Min = ReadDuration(c, "backoff.min", key),
                Max = ReadDuration(c, "backoff.max", key),
                RandomFactor = ReadDouble(c, "backoff.random-factor", 0, 1, key),
                ResetAfter = ReadDuration(c, "backoff.reset-after", key),
            },
            IdlePingAfter = ReadDuration(c, "idle-ping-after", key),
            PingTimeout = ReadDuration(c, "ping-timeout", key),
            StopGrace = ReadDuration(c, "stop-grace", key),
            KillGrace = ReadDuration(c, "kill-grace", key),
            Stderr = new StderrOptions
            {
                MaxLineLength = ReadInt(c, "stderr.max-line-length", 16, 1 << 20, key),
                LinesPerSecond = ReadInt(c, "stderr.lines-per-second", 1, 100_000, key),
                Burst = ReadInt(c, "stderr.burst", 1, 100_000, key),
            },
            EnvAllowlist = [.. ReadStringList(c, "env-allowlist", key)],
            MaxPendingWhileConnecting = ReadInt(c, "max-pending-while-connecting", 0, 1_000_000, key),
            MaxInFlight = ReadInt(c, "max-in-flight", 1, 1_000_000, key),
            MaxListPages = ReadInt(c, "max-list-pages", 1, 100_000, key),
            Required = ReadBool(c, "required", key),
            Url = c.GetString("url", null),
            ApiKey = c.GetString("api-key", null) is { Length: > 0 } apiKey ? apiKey : null,
            PageSize = ReadInt(c, "page-size", 1, 1000, key),
            MaxConnections = ReadInt(c, "max-connections", 1, 10_000, key),
            CacheTtl = ReadDuration(c, "cache-ttl", key),
            ForwardCallerToken = ReadBool(c, "forward-caller-token", key),
            RelayClientRequests = ReadBool(c, "relay-client-requests", key),
            SubscribeEvents = ReadBool(c, "subscribe-events", key),
            HealthInterval = ReadDuration(c, "health-interval", key),
            ReadRetry = new ReadRetryOptions
            {
                Attempts = ReadInt(c, "read-retry.attempts", 1, 10, key),
                MinBackoff = ReadDuration(c, "read-retry.min-backoff", key),
                MaxBackoff = ReadDuration(c, "read-retry.max-backoff", key),
            },
            WorkingDirectory = c.GetString("working-directory", null),
        };

        if (options.Backoff.Min > options.Backoff.Max)
            throw new SarkConfigException($"{key}.backoff.min: must not exceed backoff.max.");

        switch (kind)
        {
            case UpstreamKind.McpStdio:
                var command = ReadStringList(c, "command", key);
                if (command.Count == 0 || command.Any(string.IsNullOrWhiteSpace))
                    throw new SarkConfigException($"{key}.command: must be a non-empty list of strings, the program first (it runs directly, never through a shell).");
                options = options with
                {
                    Command = [.. command.Select(a => a.Replace("{app}", appDirectory, StringComparison.Ordinal))],
                    Env = ReadEnv(c, key),
                };
                break;
            case UpstreamKind.McpHttp:
                options = options with { Transport = ReadMcpHttpTransport(c, key), Headers = ReadHeaders(c, key) };
                goto case UpstreamKind.Gateway;
            case UpstreamKind.Gateway:
                if (options.Url is null || !Uri.TryCreate(options.Url, UriKind.Absolute, out var uri) || (uri.Scheme != "http" && uri.Scheme != "https"))
                    throw new SarkConfigException($"{key}.url: must be an absolute http(s) URL.");
                break;
        }

        return options;
    }

    private static ImmutableDictionary<string, string> ReadEnv(Config c, string key)
    {
        var value = c.GetValue("env");
        if (value is null || value.IsEmpty)
            return ImmutableDictionary<string, string>.Empty;
        if (!value.IsObject())
            throw new SarkConfigException($"{key}.env: must be an object of NAME = value pairs.");
        var env = ImmutableDictionary.CreateBuilder<string, string>(StringComparer.Ordinal);
        foreach (var name in value.GetObject().Items.Keys)
        {
            string? text;
            try
            {
                text = c.GetString($"env.{Quote(name)}", null);
            }
            catch (Exception ex)
            {
                throw new SarkConfigException($"{key}.env.{name}: must be a string.", ex);
            }

            // An unset ${?VAR} leaves the key out, as HOCON intends.
            if (!string.IsNullOrEmpty(text))
                env[name] = text;
        }

        return env.ToImmutable();
    }

    private static McpHttpTransport ReadMcpHttpTransport(Config c, string key) => c.GetString("transport", "auto") switch
    {
        "auto" => McpHttpTransport.Auto,
        "streamable-http" => McpHttpTransport.StreamableHttp,
        "sse" => McpHttpTransport.Sse,
        var other => throw new SarkConfigException($"{key}.transport: '{other}' is not a transport; use auto, streamable-http or sse."),
    };

    /// <summary>mcp-http static headers: strings without CR or LF (a header value must not smuggle another header).</summary>
    private static ImmutableDictionary<string, string> ReadHeaders(Config c, string key)
    {
        var value = c.GetValue("headers");
        if (value is null || value.IsEmpty)
            return ImmutableDictionary<string, string>.Empty;
        if (!value.IsObject())
            throw new SarkConfigException($"{key}.headers: must be an object of Header-Name = value pairs.");
        var headers = ImmutableDictionary.CreateBuilder<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var name in value.GetObject().Items.Keys)
        {
            string? text;
            try
            {
                text = c.GetString($"headers.{Quote(name)}", null);
            }
            catch (Exception ex)
            {
                throw new SarkConfigException($"{key}.headers.{name}: must be a string.", ex);
            }

            if (name.Length == 0 || name.AsSpan().IndexOfAny("\r\n: ") >= 0)
                throw new SarkConfigException($"{key}.headers.{name}: is not a header name.");
            if (text is not null && text.AsSpan().IndexOfAny('\r', '\n') >= 0)
                throw new SarkConfigException($"{key}.headers.{name}: the value contains a line break (CR or LF), which could inject headers; remove it.");
            if (!string.IsNullOrEmpty(text))
                headers[name] = text;
        }

        return headers.ToImmutable();
    }

    private static string Quote(string name) => name.Contains('.') ? $"\"{name}\"" : name;

    private static string Path(string? prefix, string path) => prefix is null ? $"{Root}.{path}" : $"{prefix}.{path}";

    private static HoconValue Require(Config c, string path, string? prefix)
    {
        var v = c.HasPath(path) ? c.GetValue(path) : null;
        if (v is null || v.IsEmpty)
            throw new SarkConfigException($"{Path(prefix, path)}: missing.");
        return v;
    }

    private static string ReadBind(Config c, string path)
    {
        var v = Require(c, path, null).GetString();
        return ValidateBind(v, Path(null, path));
    }

    internal static TimeSpan ReadDuration(Config c, string path, string? prefix = null)
    {
        Require(c, path, prefix);
        try
        {
            var t = c.GetTimeSpan(path, null, allowInfinite: false);
            if (t < TimeSpan.Zero)
                throw new SarkConfigException($"{Path(prefix, path)}: must not be negative.");
            return t;
        }
        catch (Exception ex) when (ex is not SarkConfigException)
        {
            throw new SarkConfigException($"{Path(prefix, path)}: '{c.GetString(path)}' is not a duration (for example 30s, 500ms, 2m).", ex);
        }
    }

    internal static long ReadSize(Config c, string path, long min, long max, string? prefix = null)
    {
        Require(c, path, prefix);
        long? size;
        try
        {
            size = c.GetByteSize(path);
        }
        catch (Exception ex)
        {
            throw new SarkConfigException($"{Path(prefix, path)}: '{c.GetString(path)}' is not a size (for example 4MiB, 512KiB).", ex);
        }

        if (size is null || size < min || size > max)
            throw new SarkConfigException($"{Path(prefix, path)}: must be a size between {min} and {max} bytes.");
        return size.Value;
    }

    internal static int ReadInt(Config c, string path, int min, int max, string? prefix = null)
    {
        var text = Require(c, path, prefix).GetString();
        if (!int.TryParse(text, out var v) || v < min || v > max)
            throw new SarkConfigException($"{Path(prefix, path)}: '{text}' must be a whole number from {min} to {max}.");
        return v;
    }

    private static double ReadDouble(Config c, string path, double min, double max, string? prefix = null)
    {
        var text = Require(c, path, prefix).GetString();
        if (!double.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, out var v) || v < min || v > max)
            throw new SarkConfigException($"{Path(prefix, path)}: '{text}' must be a number from {min} to {max}.");
        return v;
    }

    internal static bool ReadBool(Config c, string path, string? prefix = null)
    {
        var text = Require(c, path, prefix).GetString();
        return text switch
        {
            "true" or "on" or "yes" => true,
            "false" or "off" or "no" => false,
            _ => throw new SarkConfigException($"{Path(prefix, path)}: '{text}' must be true or false."),
        };
    }

    private static IReadOnlyList<string> ReadStringList(Config c, string path, string? prefix = null)
    {
        if (!c.HasPath(path))
            return [];
        var v = c.GetValue(path);
        if (!v.IsArray())
            throw new SarkConfigException($"{Path(prefix, path)}: must be a list of strings, like [\"a\", \"b\"].");
        return [.. v.GetStringList()];
    }

    private static Config LoadEmbeddedDefaults()
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("Sark.Actors.reference.conf")
            ?? throw new InvalidOperationException("The embedded reference.conf is missing from the assembly.");
        using var reader = new StreamReader(stream);
        return ConfigurationFactory.ParseString(reader.ReadToEnd());
    }

    [GeneratedRegex(@"\$\{\??(?<name>[A-Za-z_][A-Za-z0-9_]*)\}")]
    private static partial Regex EnvReference();

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
    private static partial Regex UpstreamName();
}
