using System.Text.Json;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Sark.Actors.Hosting;

namespace Sark.Actors.Tests;

/// <summary>The library as an Akka.NET backend embeds it: Akka.Hosting, DI, and the host's life.</summary>
public sealed class HostingSpecs
{
    [Fact]
    public async Task A_host_with_WithSarkGateway_serves_ISarkGateway_and_stops_its_processes()
    {
        var options = TestUpstreams.With(TestUpstreams.Demo());
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
        builder.Services.AddAkka("app", akka => akka.WithSarkGateway(options));
        builder.Services.AddSarkGateway();
        using var host = builder.Build();

        await host.StartAsync();
        var gateway = host.Services.GetRequiredService<ISarkGateway>();
        var result = await gateway.InvokeToolAsync("demo", "echo", JsonDocument.Parse("""{"message":"hosted"}""").RootElement);
        var pid = (await gateway.GetUpstreamsAsync()).Single().ProcessId!.Value;
        using var process = System.Diagnostics.Process.GetProcessById(pid);
        await host.StopAsync();

        Assert.Equal("Echo: hosted", result.Result.GetProperty("content")[0].GetProperty("text").GetString());
        // Coordinated shutdown reaped the demo server before the host finished stopping.
        Assert.True(process.HasExited, $"the demo server (pid {pid}) outlived the host");
        await Assert.ThrowsAsync<Errors.SarkShuttingDownException>(() => gateway.InvokeToolAsync("demo", "echo"));
    }
}
