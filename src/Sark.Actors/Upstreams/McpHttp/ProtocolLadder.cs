namespace Sark.Actors.Upstreams.McpHttp;

/// <summary>
/// Which MCP protocol revision to ask for next when a server refuses the handshake. The first
/// try leaves the version to the SDK (<c>null</c>): it probes the newest revision it knows
/// (<c>server/discover</c>) and falls back to the <c>initialize</c> handshake with the newest revision
/// that still has one. A server that then refuses that revision outright (instead of answering with
/// one it supports, as the spec asks) is tried with each older revision, down to 2024-11-05. Pure.
/// </summary>
internal static class ProtocolLadder
{
    /// <summary>The pinned revisions tried after the SDK's own negotiation, newest first.</summary>
    public static readonly IReadOnlyList<string> Older = ["2025-06-18", "2025-03-26", "2024-11-05"];

    /// <summary>The revision to try after <paramref name="tried"/> was refused, or null when none is left.</summary>
    public static string? Next(string? tried)
    {
        if (tried is null)
            return Older[0];
        for (var i = 0; i < Older.Count - 1; i++)
        {
            if (Older[i] == tried)
                return Older[i + 1];
        }

        return null;
    }
}
