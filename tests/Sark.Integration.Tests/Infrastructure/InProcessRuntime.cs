using System.Collections.Immutable;
using System.Text.Json;
using Akka.Actor;
using Sark.Actors;
using Sark.Actors.Configuration;
using Sark.Actors.Hosting;

namespace Sark.Integration.Tests.Infrastructure;

/// <summary>The runtime started in a spec's own actor system (no node), and the polls specs make on it.</summary>
internal static class InProcessRuntime
{
    /// <summary>Starts <c>/user/sark</c> with <paramref name="upstreams"/> and returns its facade.</summary>
    public static ISarkGateway Start(ActorSystem system, params UpstreamOptions[] upstreams) =>
        SarkRuntime.Start(system, new SarkOptions { Upstreams = upstreams.ToImmutableDictionary(u => u.Name, StringComparer.Ordinal) }).Gateway;

    /// <summary>Polls an upstream's status until <paramref name="done"/> holds; returns that status.</summary>
    public static async Task<UpstreamStatus> UpstreamAsync(ISarkGateway gateway, string name, Func<UpstreamStatus, bool> done, TimeSpan timeout, string what)
    {
        // The manager lists an upstream only once it has started it, so the first probes may find none.
        var status = await Eventually.UntilAsync(
            async () => (await gateway.GetUpstreamsAsync()).SingleOrDefault(u => u.Name == name),
            s => s is not null && done(s), timeout, what);
        return status!;
    }

    /// <summary>Tool arguments from JSON text.</summary>
    public static JsonElement Args(string json) => JsonDocument.Parse(json).RootElement.Clone();
}
