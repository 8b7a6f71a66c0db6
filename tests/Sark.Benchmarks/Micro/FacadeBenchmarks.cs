using System.Text.Json;
using BenchmarkDotNet.Attributes;
using Sark.Actors;
using Sark.Actors.Configuration;
using Sark.Benchmarks.Load;

namespace Sark.Benchmarks.Micro;

/// <summary>
/// One <see cref="ISarkGateway.InvokeToolAsync"/> through the actor tree to an in-memory echo
/// connection (no process, no pipe): what the actor path itself costs per call, and allocates.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(MicroConfig))]
public class FacadeBenchmarks
{
    private FacadeTarget _facade = null!;
    private ISarkGateway _gateway = null!;
    private JsonElement _arguments;

    [GlobalSetup]
    public void Setup()
    {
        var options = SarkConfigLoader.Parse("""
            sark.upstreams.everything { kind = mcp-stdio, command = ["in-memory"] }
            """);
        using var ready = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        _facade = FacadeTarget.StartAsync(options, "everything", ready.Token, inMemory: true).GetAwaiter().GetResult();
        _gateway = _facade.Gateway;
        using var document = JsonDocument.Parse("""{"message":"hi"}""");
        _arguments = document.RootElement.Clone();
    }

    [GlobalCleanup]
    public void Cleanup() => _facade.DisposeAsync().AsTask().GetAwaiter().GetResult();

    [Benchmark(Description = "InvokeToolAsync → in-memory connection")]
    public bool InvokeInMemory() => _gateway.InvokeToolAsync("everything", "echo", _arguments).GetAwaiter().GetResult().IsError;
}
