using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using Sark.Actors.Audit;
using Sark.Actors.Policy;
using Sark.Actors.Telemetry;

namespace Sark.Actors.Tests.Telemetry;

/// <summary>docs/observability.md lists every instrument of the <c>Sark.Actors</c> meter, with its unit.</summary>
public sealed class TelemetryCatalogueSpecs
{
    [Fact]
    public void Every_instrument_of_the_meter_is_in_the_documented_catalogue()
    {
        RuntimeHelpers.RunClassConstructor(typeof(SarkTelemetry).TypeHandle);
        RuntimeHelpers.RunClassConstructor(typeof(PolicyTelemetry).TypeHandle);
        RuntimeHelpers.RunClassConstructor(typeof(AuditTelemetry).TypeHandle);
        // The front door's pure parts are compiled into this project; their instruments are on the same meter.
        RuntimeHelpers.RunClassConstructor(typeof(Sark.Host.FrontDoor.HiddenTools).TypeHandle);
        var instruments = new List<Instrument>();
        using (var listener = new MeterListener())
        {
            listener.InstrumentPublished = (instrument, _) =>
            {
                if (instrument.Meter.Name == SarkTelemetry.Name)
                    instruments.Add(instrument);
            };
            listener.Start();
        }

        var doc = File.ReadAllText(Path.Combine(RepoRoot(), "docs", "observability.md"));
        Assert.True(instruments.Count >= 25, $"only {instruments.Count} instruments were published");
        foreach (var instrument in instruments)
        {
            var row = doc.Split('\n').FirstOrDefault(l => l.StartsWith($"| `{instrument.Name}` (", StringComparison.Ordinal));
            Assert.True(row is not null, $"{instrument.Name} is not in the catalogue of docs/observability.md");
            if (instrument.Unit is "s" or "By")
                Assert.Contains($", {instrument.Unit} |", row, StringComparison.Ordinal);
        }
    }

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Sark.Actors.sln")))
                return dir.FullName;
        }

        throw new InvalidOperationException("Sark.Actors.sln not found above the test assembly.");
    }
}
