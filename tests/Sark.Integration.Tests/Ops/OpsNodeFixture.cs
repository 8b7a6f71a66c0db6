using Sark.Integration.Tests.Fakes;
using Sark.Integration.Tests.Infrastructure;

namespace Sark.Integration.Tests.Ops;

/// <summary>
/// One node for the console specs: the demo stdio upstream, a gateway upstream on a registry of
/// our own (so the catalog has entries to expire), a deny rule for <c>policy explain</c>, and the
/// console on a free port.
/// </summary>
public sealed class OpsNodeFixture : IAsyncLifetime
{
    public const string RegistryKey = "spec-registry-key-77";

    private NodeProcess? _node;

    public NodeProcess Node => _node ?? throw new InvalidOperationException("The node has not started.");

    internal FaultyRegistry Registry { get; private set; } = null!;

    public string Address { get; private set; } = "";

    public async Task InitializeAsync()
    {
        Registry = await FaultyRegistry.StartAsync(servers: 2, toolsPerServer: 1);
        _node = await NodeProcess.StartAsync(NodeConfigs.Demo() + $$"""

            sark {
              node.ops.bind = "127.0.0.1:0"
              policy.embedded.rules = [
                { name = spec-local-caller, effect = allow, subjects = [local] }
                { name = no-crash, effect = deny, tools = [crash], reason = "crash is not for callers" }
              ]
              upstreams.registry {
                kind = gateway
                url = {{NodeConfigs.Quote(Registry.BaseAddress.GetLeftPart(UriPartial.Authority))}}
                api-key = "{{RegistryKey}}"
                subscribe-events = false
              }
            }
            """);
        await DemoNodeFixture.WaitUntilReadyAsync(_node);
        Address = await OpsNodes.ConsoleAddressAsync(_node);
    }

    public async Task DisposeAsync()
    {
        if (_node is not null)
            await _node.DisposeAsync();
        if (Registry is not null)
            await Registry.DisposeAsync();
    }
}

[CollectionDefinition(Name)]
public sealed class OpsNodeCollection : ICollectionFixture<OpsNodeFixture>
{
    public const string Name = "ops node";
}
