using System.Collections.Immutable;

namespace Sark.Actors;

/// <summary>
/// Who makes a call: the subject of the policy input document (DESIGN.md section 7). An entry
/// point (REST, the MCP front door) authenticates the caller and builds one; a library user
/// builds one for the identity on whose behalf its backend calls.
/// </summary>
/// <param name="Id">The subject id, stable across calls (a user, a service, <c>local</c>).</param>
/// <param name="Roles">Roles the policy matches rules on.</param>
/// <param name="Teams">Teams, matched against a server's authorized teams.</param>
public sealed record Caller(string Id, ImmutableArray<string> Roles, ImmutableArray<string> Teams)
{
    /// <summary>How the caller was authenticated: <c>api-key</c>, <c>jwt</c>, <c>anonymous</c>, <c>library</c>.</summary>
    public string AuthMethod { get; init; } = "library";

    /// <summary>
    /// The caller's bearer token, kept only so that an upstream configured with
    /// <c>forward-caller-token = true</c> can pass it on. It never reaches policy, audit or logs.
    /// </summary>
    public string? BearerToken { get; init; }

    /// <summary>The subject a library call runs as when it names none: <c>local</c>, with no roles.</summary>
    public static Caller Local { get; } = new("local", [], []) { AuthMethod = "anonymous" };

    /// <inheritdoc />
    public override string ToString() => $"Caller {{ Id = {Id}, Roles = [{string.Join(", ", Roles)}], AuthMethod = {AuthMethod} }}";
}
