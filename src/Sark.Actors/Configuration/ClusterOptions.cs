using System.Collections.Immutable;
using Akka.Configuration;

namespace Sark.Actors.Configuration;

/// <summary>
/// How a node joins an Akka.Cluster (<c>sark.cluster</c>, docs/cluster.md). Off by default: a
/// node on its own hosts every upstream itself.
/// </summary>
public sealed record ClusterOptions
{
    /// <summary>Form or join a cluster; upstreams become sharded entities.</summary>
    public bool Enabled { get; init; }

    /// <summary>The address Akka.Remote binds (an IP or a host name).</summary>
    public string Hostname { get; init; } = "127.0.0.1";

    /// <summary>The port Akka.Remote binds; 0 picks a free one.</summary>
    public int Port { get; init; } = 4053;

    /// <summary>The host name other nodes reach this one by, when it differs from <see cref="Hostname"/> (NAT, containers); empty for the same.</summary>
    public string PublicHostname { get; init; } = "";

    /// <summary>Seed nodes, as <c>akka.tcp://sark@HOST:PORT</c>. The actor system is always named <c>sark</c>.</summary>
    public ImmutableArray<string> SeedNodes { get; init; } = [];

    /// <summary>This node's cluster roles.</summary>
    public ImmutableArray<string> Roles { get; init; } = [];

    /// <summary>
    /// The role a node needs to host upstreams; empty: every node may. An upstream's own
    /// <c>cluster-role</c> narrows it further (for example stdio servers only where the binaries are).
    /// </summary>
    public string UpstreamRole { get; init; } = "";

    /// <summary>The split-brain resolver's strategy: keep-majority (default), keep-oldest, static-quorum or down-all.</summary>
    public string SplitBrainStrategy { get; init; } = "keep-majority";

    /// <summary>How long the membership must be stable before the resolver downs unreachable nodes.</summary>
    public TimeSpan StableAfter { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>The number of shards upstream entities are spread over.</summary>
    public int Shards { get; init; } = 30;

    /// <summary>The strategies <see cref="SplitBrainStrategy"/> accepts.</summary>
    public static readonly ImmutableArray<string> Strategies = ["keep-majority", "keep-oldest", "static-quorum", "down-all"];

    internal static ClusterOptions Read(Config sark)
    {
        const string key = "sark.cluster";
        var seeds = sark.GetStringList("cluster.seed-nodes", []) ?? [];
        foreach (var seed in seeds)
        {
            if (!Uri.TryCreate(seed, UriKind.Absolute, out var uri) || uri.Scheme != "akka.tcp" || uri.UserInfo != "sark" || uri.Port <= 0)
                throw new SarkConfigException($"{key}.seed-nodes: '{seed}' is not akka.tcp://sark@HOST:PORT (the actor system is named sark).");
        }

        var strategy = sark.GetString("cluster.split-brain-resolver.active-strategy", "keep-majority");
        if (!Strategies.Contains(strategy))
            throw new SarkConfigException($"{key}.split-brain-resolver.active-strategy: '{strategy}' is not a strategy; use {string.Join(", ", Strategies)}.");
        var port = sark.GetInt("cluster.port", 4053);
        if (port is < 0 or > 65535)
            throw new SarkConfigException($"{key}.port: {port} is not a port (0-65535).");
        var shards = sark.GetInt("cluster.shards", 30);
        if (shards is < 1 or > 10_000)
            throw new SarkConfigException($"{key}.shards: {shards} is out of range (1-10000).");
        var stable = sark.GetTimeSpan("cluster.split-brain-resolver.stable-after", TimeSpan.FromSeconds(20));
        if (stable <= TimeSpan.Zero)
            throw new SarkConfigException($"{key}.split-brain-resolver.stable-after: must be positive.");
        var hostname = sark.GetString("cluster.hostname", "127.0.0.1");
        if (string.IsNullOrWhiteSpace(hostname))
            throw new SarkConfigException($"{key}.hostname: must not be empty.");
        return new ClusterOptions
        {
            Enabled = sark.GetBoolean("cluster.enabled", false),
            Hostname = hostname,
            Port = port,
            PublicHostname = sark.GetString("cluster.public-hostname", "") ?? "",
            SeedNodes = [.. seeds],
            Roles = [.. sark.GetStringList("cluster.roles", []) ?? []],
            UpstreamRole = sark.GetString("cluster.upstream-role", "") ?? "",
            SplitBrainStrategy = strategy,
            StableAfter = stable,
            Shards = shards,
        };
    }
}
