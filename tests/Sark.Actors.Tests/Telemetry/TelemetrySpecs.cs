using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Text;
using System.Text.Json;
using Sark.Actors.Configuration;
using Sark.Actors.Protocol;
using Sark.Actors.Telemetry;

namespace Sark.Actors.Tests.Telemetry;

/// <summary>The pure parts of observability (issue 8): options, the log limiter, trace context helpers, the front-door instruments.</summary>
public sealed class TelemetrySpecs
{
    [Fact]
    public void Telemetry_defaults_are_a_one_second_slow_call_threshold_text_logs_and_no_otlp()
    {
        var telemetry = SarkConfigLoader.Parse("").Telemetry;

        Assert.Equal(TimeSpan.FromSeconds(1), telemetry.SlowCallThreshold);
        Assert.Null(telemetry.OtlpEndpoint);
        Assert.Equal("grpc", telemetry.OtlpProtocol);
        Assert.Equal("text", telemetry.LogFormat);
        Assert.Equal(10, telemetry.ErrorLogBurst);
        Assert.Equal(TimeSpan.FromSeconds(60), telemetry.OtlpMetricsInterval);
    }

    [Fact]
    public void Telemetry_options_are_read_from_hocon()
    {
        var telemetry = SarkConfigLoader.Parse("""
            sark.telemetry {
              slow-call-threshold = 250ms
              otlp-endpoint = "http://127.0.0.1:4318"
              otlp-protocol = "http/protobuf"
              log-format = json
              error-log-burst = 3
            }
            """).Telemetry;

        Assert.Equal(TimeSpan.FromMilliseconds(250), telemetry.SlowCallThreshold);
        Assert.Equal(new Uri("http://127.0.0.1:4318"), telemetry.OtlpEndpoint);
        Assert.Equal("http/protobuf", telemetry.OtlpProtocol);
        Assert.Equal("json", telemetry.LogFormat);
        Assert.Equal(3, telemetry.ErrorLogBurst);
    }

    [Theory]
    [InlineData("sark.telemetry.otlp-endpoint = \"ftp://x\"", "sark.telemetry.otlp-endpoint")]
    [InlineData("sark.telemetry.otlp-endpoint = \"not a url\"", "sark.telemetry.otlp-endpoint")]
    [InlineData("sark.telemetry.otlp-protocol = udp", "sark.telemetry.otlp-protocol")]
    [InlineData("sark.telemetry.log-format = xml", "sark.telemetry.log-format")]
    [InlineData("sark.telemetry.slow-call-threshold = -1s", "sark.telemetry.slow-call-threshold")]
    [InlineData("sark.telemetry.slow-call-threshold = soon", "sark.telemetry.slow-call-threshold")]
    [InlineData("sark.telemetry.error-log-burst = 0", "sark.telemetry.error-log-burst")]
    [InlineData("sark.telemetry.otlp-metrics-interval = 10ms", "sark.telemetry.otlp-metrics-interval")]
    public void Bad_telemetry_options_are_refused_with_the_key(string hocon, string key)
    {
        var error = Assert.Throws<SarkConfigException>(() => SarkConfigLoader.Parse(hocon));
        Assert.Contains(key, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_log_limiter_lets_a_burst_through_per_key_then_counts_what_it_suppressed()
    {
        var limiter = new LogLimiter(2, TimeSpan.FromSeconds(10));
        var t0 = 1_000L;

        Assert.True(limiter.TryLog("upstream_error", t0, out var s1));
        Assert.Equal(0, s1);
        Assert.True(limiter.TryLog("upstream_error", t0, out _));
        Assert.False(limiter.TryLog("upstream_error", t0, out _));
        Assert.False(limiter.TryLog("upstream_error", t0, out _));
        // Another key has its own budget.
        Assert.True(limiter.TryLog("policy_denied", t0, out _));

        // The next window: the first line says how many were left out.
        var later = t0 + (11 * Stopwatch.Frequency);
        Assert.True(limiter.TryLog("upstream_error", later, out var suppressed));
        Assert.Equal(2, suppressed);
        Assert.True(limiter.TryLog("upstream_error", later, out var none));
        Assert.Equal(0, none);
    }

    [Fact]
    public void A_stdio_tool_call_carries_the_traceparent_in_meta_and_none_without_one()
    {
        var writer = new JsonRpcWriter();
        var args = JsonDocument.Parse("""{"message":"hi"}""").RootElement;
        const string traceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

        var traced = JsonDocument.Parse(Encoding.UTF8.GetString(writer.CallTool(1, "echo", args, traceParent))).RootElement.GetProperty("params");
        var plain = JsonDocument.Parse(Encoding.UTF8.GetString(writer.CallTool(2, "echo", args))).RootElement.GetProperty("params");

        Assert.Equal(traceParent, traced.GetProperty("_meta").GetProperty("traceparent").GetString());
        Assert.Equal("hi", traced.GetProperty("arguments").GetProperty("message").GetString());
        Assert.False(plain.TryGetProperty("_meta", out _));
    }

    [Fact]
    public void An_upstream_span_is_a_child_of_the_carried_traceparent_and_leaves_no_ambient_activity()
    {
        var spans = new List<Activity>();
        using var listener = Listen(spans);
        using var parent = new Activity("outer").SetIdFormat(ActivityIdFormat.W3C).Start();
        parent.ActivityTraceFlags = ActivityTraceFlags.Recorded;
        var traceParent = parent.Id!;
        parent.Stop();
        Activity.Current = null;

        SarkTelemetry.RecordUpstreamSpan(traceParent, "up-1", "tools/call", "upstream_timeout", Stopwatch.GetTimestamp() - Stopwatch.Frequency);

        var span = Assert.Single(spans, s => (string?)s.GetTagItem("sark.upstream") == "up-1");
        Assert.Equal("sark.upstream tools/call", span.OperationName);
        Assert.Equal(parent.TraceId, span.TraceId);
        Assert.Equal(parent.SpanId, span.ParentSpanId);
        Assert.Equal(ActivityStatusCode.Error, span.Status);
        Assert.InRange(span.Duration, TimeSpan.FromMilliseconds(900), TimeSpan.FromSeconds(30));
        Assert.Null(Activity.Current);
    }

    [Fact]
    public void A_traceparent_that_is_not_recorded_makes_no_span()
    {
        var spans = new List<Activity>();
        using var listener = Listen(spans);

        // Sampled out upstream of here (flags 00): a child would be dropped, so none is made.
        SarkTelemetry.RecordUpstreamSpan("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", "up-3", "tools/call", "ok", Stopwatch.GetTimestamp());
        SarkTelemetry.RecordUpstreamSpan("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "up-4", "tools/call", "ok", Stopwatch.GetTimestamp());

        Assert.DoesNotContain(spans, s => (string?)s.GetTagItem("sark.upstream") == "up-3");
        Assert.Contains(spans, s => (string?)s.GetTagItem("sark.upstream") == "up-4");
    }

    [Fact]
    public void A_bad_traceparent_makes_no_span()
    {
        var spans = new List<Activity>();
        using var listener = Listen(spans);

        SarkTelemetry.RecordUpstreamSpan("not-a-traceparent", "up-2", "tools/call", "ok", Stopwatch.GetTimestamp());

        Assert.DoesNotContain(spans, s => (string?)s.GetTagItem("sark.upstream") == "up-2");
    }

    [Fact]
    public void Front_door_sessions_go_up_and_down_by_transport()
    {
        var seen = new List<(string Instrument, long Value, string? Transport)>();
        using var meters = new MeterListener();
        meters.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == SarkTelemetry.Name && instrument.Name.StartsWith("sark.frontdoor.", StringComparison.Ordinal))
                l.EnableMeasurementEvents(instrument);
        };
        meters.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            string? transport = null;
            foreach (var tag in tags)
            {
                if (tag.Key == "transport")
                    transport = (string?)tag.Value;
            }

            lock (seen)
                seen.Add((instrument.Name, value, transport));
        });
        meters.Start();

        SarkTelemetry.SessionOpened(SarkTelemetry.Transports.Sse);
        SarkTelemetry.SessionClosed(SarkTelemetry.Transports.Sse);

        lock (seen)
        {
            Assert.Contains(("sark.frontdoor.sessions", 1L, "sse"), seen);
            Assert.Contains(("sark.frontdoor.sessions.opened", 1L, "sse"), seen);
            Assert.Contains(("sark.frontdoor.sessions", -1L, "sse"), seen);
        }
    }

    private static ActivityListener Listen(List<Activity> spans)
    {
        var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == SarkTelemetry.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity =>
            {
                lock (spans)
                    spans.Add(activity);
            },
        };
        ActivitySource.AddActivityListener(listener);
        return listener;
    }
}
