using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Sark.Actors.Telemetry;

namespace Sark.Actors.Tests.Audit;

/// <summary>Listens to one counter of the Sark meter and sums it by its <c>reason</c> tag (or "" without one).</summary>
internal sealed class AuditMeter : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<string, long> _sums = new();

    public AuditMeter(string instrument = "sark.audit.dropped")
    {
        _listener.InstrumentPublished = (i, l) =>
        {
            if (i.Meter.Name == SarkTelemetry.Name && i.Name == instrument)
                l.EnableMeasurementEvents(i);
        };
        _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            var reason = "";
            foreach (var tag in tags)
            {
                if (tag.Key == "reason")
                    reason = tag.Value as string ?? "";
            }

            _sums.AddOrUpdate(reason, value, (_, sum) => sum + value);
        });
        _listener.Start();
    }

    public long this[string reason] => _sums.TryGetValue(reason, out var v) ? v : 0;

    public long Total => _sums.Values.Sum();

    public void Dispose() => _listener.Dispose();
}
