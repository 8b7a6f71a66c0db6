using System.Buffers;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Sark.Actors.Protocol;

namespace Sark.Benchmarks.Micro;

/// <summary>
/// The per-call JSON-RPC work of a stdio upstream: writing the <c>tools/call</c> line and
/// parsing server-everything's echo response line (as it sends it).
/// </summary>
[MemoryDiagnoser]
[Config(typeof(MicroConfig))]
public class JsonRpcBenchmarks
{
    private static readonly byte[] EchoResponse = """{"result":{"content":[{"type":"text","text":"Echo: hi"}]},"jsonrpc":"2.0","id":2}"""u8.ToArray();

    private readonly JsonRpcWriter _writer = new();
    private ReadOnlySequence<byte> _line;
    private JsonElement _arguments;

    [GlobalSetup]
    public void Setup()
    {
        _line = new ReadOnlySequence<byte>(EchoResponse);
        using var document = JsonDocument.Parse("""{"message":"hi"}""");
        _arguments = document.RootElement.Clone();
    }

    [Benchmark(Description = "JsonRpcParser.Parse(echo response)")]
    public object ParseEchoResponse() => JsonRpcParser.Parse(_line);

    [Benchmark(Description = "JsonRpcWriter.CallTool(echo)")]
    public byte[] WriteCallTool() => _writer.CallTool(42, "echo", _arguments);
}

/// <summary>A short in-process job: no generated project to build, done in well under a minute.</summary>
public sealed class MicroConfig : ManualConfig
{
    public MicroConfig()
    {
        AddJob(Job.ShortRun.WithToolchain(InProcessEmitToolchain.Instance).WithId("ShortRun-InProcess"));
        ArtifactsPath = Path.Combine(Path.GetTempPath(), "sark-benchmarks-artifacts");
    }
}
