using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Sark.Actors.Hosting;
using Sark.Actors.Ops;

namespace Sark.Actors.Tests.Ops;

/// <summary>
/// The command host inside a generic host, as an embedding application runs it: a palette of its
/// own registered through Akka.Hosting, a token, and the session's rules, over a real TCP socket.
/// </summary>
public sealed class OpsHostSpecs : IAsyncLifetime
{
    private const string Token = "spec-token-0123";
    private IHost? _host;
    private IPEndPoint _address = null!;

    public async Task InitializeAsync()
    {
        var options = TestUpstreams.With() with
        {
            Node = new Configuration.NodeOptions
            {
                Ops = new OpsOptions { Enabled = true, Bind = "127.0.0.1:0", Token = Token, DefaultTimeout = TimeSpan.FromSeconds(10) },
            },
        };
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
        builder.Services.AddAkka("ops-spec", akka => akka
            .WithSarkGateway(options)
            .WithSarkOpsPalette(new SpecPalette()));
        _host = builder.Build();
        await _host.StartAsync();
        var system = _host.Services.GetRequiredService<ActorSystem>();
        _address = await SarkOpsHostingExtensions.OpsListeningOf(system).WaitAsync(TimeSpan.FromSeconds(10));
    }

    public async Task DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.StopAsync();
            _host.Dispose();
        }
    }

    [Fact]
    public async Task A_wrong_token_is_refused_and_the_connection_closed()
    {
        using var client = await RawClient.ConnectAsync(_address);
        var hello = await client.ReadAsync();
        await client.SendAsync(new JsonObject { ["type"] = "auth", ["token"] = "wrong" });
        var refused = await client.ReadAsync();

        Assert.True(hello["auth_required"]!.GetValue<bool>());
        Assert.Equal("unauthenticated", refused.Text("code"));
        Assert.Null(await client.ReadLineAsync());
    }

    [Fact]
    public async Task A_command_before_the_token_is_refused()
    {
        using var client = await RawClient.ConnectAsync(_address);
        await client.ReadAsync();
        await client.SendAsync(new JsonObject { ["type"] = "run", ["id"] = "1", ["argv"] = new JsonArray("upstream", "list") });

        Assert.Equal("unauthenticated", (await client.ReadAsync()).Text("code"));
    }

    [Fact]
    public async Task The_catalogue_holds_the_builtin_palettes_and_the_applications_own()
    {
        using var client = await RawClient.AuthenticatedAsync(_address, Token);

        var names = client.Catalogue["palettes"]!.AsArray().Select(p => p!["name"]!.GetValue<string>()).ToList();
        var spec = client.Catalogue["palettes"]!.AsArray().Single(p => p!["name"]!.GetValue<string>() == "spec")!;

        Assert.Contains("upstream", names);
        Assert.Contains("cluster", names);
        Assert.Equal(["say", "hang", "crash"], spec["commands"]!.AsArray().Select(c => c!["name"]!.GetValue<string>()));
        Assert.Equal("spec say <text>", spec["commands"]![0]!["usage"]!.GetValue<string>());
    }

    [Fact]
    public async Task An_application_palette_streams_its_output_and_ends_with_a_final_frame()
    {
        using var client = await RawClient.AuthenticatedAsync(_address, Token);

        var frames = await client.RunAsync("a", "spec", "say", "hello");

        Assert.Equal(["line", "line", "final"], frames.Select(f => f.Text("type")));
        Assert.Equal("hello", frames[0].Text("text"));
        Assert.True(frames[^1]["ok"]!.GetValue<bool>());
    }

    [Fact]
    public async Task A_command_that_does_not_finish_in_time_ends_with_command_timeout()
    {
        using var client = await RawClient.AuthenticatedAsync(_address, Token);

        var frames = await client.RunAsync("t", ["spec", "hang"], timeoutMs: 300);
        var next = await client.RunAsync("u", "spec", "say", "after");

        Assert.Equal("command_timeout", frames[^1].Text("code"));
        Assert.True(next[^1]["ok"]!.GetValue<bool>());
    }

    [Fact]
    public async Task A_command_that_crashes_ends_with_command_failed_and_the_session_goes_on()
    {
        using var client = await RawClient.AuthenticatedAsync(_address, Token);

        var crashed = await client.RunAsync("c", "spec", "crash");
        var next = await client.RunAsync("d", "spec", "say", "still here");

        Assert.Equal("command_failed", crashed[^1].Text("code"));
        Assert.Equal("still here", next[0].Text("text"));
    }

    [Fact]
    public async Task Bad_frames_and_a_second_command_while_one_runs_are_invalid_requests()
    {
        using var client = await RawClient.AuthenticatedAsync(_address, Token);

        await client.SendLineAsync("this is not json");
        var bad = await client.ReadAsync();
        await client.SendAsync(new JsonObject { ["type"] = "run", ["id"] = "h", ["argv"] = new JsonArray("spec", "hang") });
        await client.SendAsync(new JsonObject { ["type"] = "run", ["id"] = "x", ["argv"] = new JsonArray("spec", "say", "x") });
        var busy = await client.ReadAsync();
        await client.SendAsync(new JsonObject { ["type"] = "cancel", ["id"] = "h" });
        var cancelled = await client.ReadAsync();

        Assert.Equal("invalid_request", bad.Text("code"));
        Assert.Equal(("x", "invalid_request"), (busy.Text("id"), busy.Text("code")));
        Assert.Equal(("h", "cancelled"), (cancelled.Text("id"), cancelled.Text("code")));
    }

    [Fact]
    public async Task Log_peek_without_a_registered_log_ring_says_how_to_register_one()
    {
        using var client = await RawClient.AuthenticatedAsync(_address, Token);

        var frames = await client.RunAsync("l", "log", "peek");

        Assert.Equal("not_found", frames[^1].Text("code"));
        Assert.Contains("AddSarkOpsLogs", frames[^1].Text("message"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_frame_over_the_size_limit_ends_the_session()
    {
        using var client = await RawClient.AuthenticatedAsync(_address, Token);

        await client.SendLineAsync(new string('x', OpsFrames.MaxInboundFrame + 10));

        Assert.Equal("too_large", (await client.ReadAsync()).Text("code"));
        Assert.Null(await client.ReadLineAsync());
    }

    /// <summary>An application's palette: <c>spec say|hang|crash</c>.</summary>
    private sealed class SpecPalette : OpsPalette
    {
        public override PaletteDefinition Definition { get; } = new("spec", "A palette of the application.",
        [
            new CommandDefinition("say", "Says the text twice.", [ArgumentDefinition.Positional("text", "what to say")]),
            new CommandDefinition("hang", "Never answers.", []),
            new CommandDefinition("crash", "Throws.", []),
        ]);

        public override Props CommandProps(OpsInvocation invocation) => Props.Create(() => new Command(invocation));

        private sealed class Command(OpsInvocation invocation) : OpsCommandActor(invocation)
        {
            protected override void PreStart()
            {
                switch (Command.Name)
                {
                    case "say":
                        Line(Command.Get("text")!);
                        Line(Command.Get("text")!);
                        Done();
                        break;
                    case "crash":
                        throw new InvalidOperationException("spec crash");
                }
            }

            protected override void OnReceive(object message) => Unhandled(message);
        }
    }

    /// <summary>A bare protocol client: frames in and out, with a deadline on every read.</summary>
    private sealed class RawClient : IDisposable
    {
        private static readonly TimeSpan ReadTimeout = TimeSpan.FromSeconds(15);
        private readonly TcpClient _tcp;
        private readonly StreamReader _reader;

        private RawClient(TcpClient tcp)
        {
            _tcp = tcp;
            _reader = new StreamReader(tcp.GetStream(), Encoding.UTF8);
        }

        public JsonObject Catalogue { get; private set; } = [];

        public static async Task<RawClient> ConnectAsync(IPEndPoint address)
        {
            var tcp = new TcpClient();
            await tcp.ConnectAsync(address);
            return new RawClient(tcp);
        }

        public static async Task<RawClient> AuthenticatedAsync(IPEndPoint address, string token)
        {
            var client = await ConnectAsync(address);
            await client.ReadAsync();
            await client.SendAsync(new JsonObject { ["type"] = "auth", ["token"] = token });
            client.Catalogue = await client.ReadAsync();
            Assert.Equal("catalogue", client.Catalogue.Text("type"));
            return client;
        }

        public Task<List<JsonObject>> RunAsync(string id, params string[] argv) => RunAsync(id, argv, null);

        public async Task<List<JsonObject>> RunAsync(string id, string[] argv, long? timeoutMs)
        {
            var run = new JsonObject { ["type"] = "run", ["id"] = id, ["argv"] = new JsonArray([.. argv.Select(a => (JsonNode?)a)]) };
            if (timeoutMs is { } t)
                run["timeout_ms"] = t;
            await SendAsync(run);
            var frames = new List<JsonObject>();
            for (var i = 0; i < 1000; i++)
            {
                var frame = await ReadAsync();
                frames.Add(frame);
                if (frame.Text("type") == "final")
                    return frames;
            }

            throw new InvalidOperationException("no final frame within 1000 frames");
        }

        public Task SendAsync(JsonObject frame) => SendLineAsync(frame.ToJsonString());

        public async Task SendLineAsync(string line) => await _tcp.GetStream().WriteAsync(Encoding.UTF8.GetBytes(line + "\n"));

        public async Task<string?> ReadLineAsync()
        {
            using var timeout = new CancellationTokenSource(ReadTimeout);
            try
            {
                return await _reader.ReadLineAsync(timeout.Token);
            }
            catch (IOException)
            {
                return null;
            }
        }

        public async Task<JsonObject> ReadAsync() =>
            JsonNode.Parse(await ReadLineAsync() ?? throw new InvalidOperationException("the host closed the connection"))!.AsObject();

        public void Dispose()
        {
            _reader.Dispose();
            _tcp.Dispose();
        }
    }
}

/// <summary>A library that does not ask for the console gets none, even with <c>sark.node.ops.enabled</c>.</summary>
public sealed class OpsOptInSpecs
{
    [Fact]
    public async Task Without_WithSarkOps_no_command_host_runs()
    {
        var options = TestUpstreams.With() with
        {
            Node = new Configuration.NodeOptions { Ops = new OpsOptions { Enabled = true, Bind = "127.0.0.1:0" } },
        };
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
        builder.Services.AddAkka("ops-opt-in-spec", akka => akka.WithSarkGateway(options));
        using var host = builder.Build();
        await host.StartAsync();
        try
        {
            var system = host.Services.GetRequiredService<ActorSystem>();
            var identity = await system.ActorSelection("/user/sark/ops").Ask<ActorIdentity>(new Identify(1), TimeSpan.FromSeconds(5));

            Assert.Null(identity.Subject);
            await Assert.ThrowsAsync<InvalidOperationException>(() => SarkOpsHostingExtensions.OpsListeningOf(system));
        }
        finally
        {
            await host.StopAsync();
        }
    }
}
