using Sark.Actors.Configuration;

namespace Sark.Host;

/// <summary>
/// The node's console log (<c>sark.telemetry.log-format</c>): one line per entry, UTC time, and
/// the scopes, so that every line about a request carries its <c>RequestId</c>. <c>json</c>
/// writes one JSON object per line with the same fields.
/// </summary>
internal static class NodeLogging
{
    public static void Configure(ILoggingBuilder logging, TelemetryOptions telemetry)
    {
        logging.ClearProviders();
        if (telemetry.LogFormat == "json")
        {
            logging.AddJsonConsole(json =>
            {
                json.IncludeScopes = true;
                json.UseUtcTimestamp = true;
                json.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
            });
            return;
        }

        logging.AddSimpleConsole(text =>
        {
            text.IncludeScopes = true;
            text.SingleLine = true;
            text.UseUtcTimestamp = true;
            text.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
        });
    }
}
