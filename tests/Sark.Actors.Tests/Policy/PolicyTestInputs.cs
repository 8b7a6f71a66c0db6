using System.Collections.Immutable;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Sark.Actors.Policy;

namespace Sark.Actors.Tests.Policy;

/// <summary>Inputs and configurations shared by the policy specs.</summary>
internal static class PolicyTestInputs
{
    public static readonly DateTimeOffset Now = new(2025, 1, 2, 3, 4, 5, TimeSpan.Zero);

    public static Caller Caller(string id, params string[] roles) => new(id, [.. roles], []);

    public static JsonElement Json(string json) => JsonElement.Parse(json);

    public static PolicyInput Invoke(Caller caller, string server, string tool, string? args = null, string serverLevel = "medium", string toolLevel = "medium") =>
        PolicyInput.ForInvoke(caller, server, serverLevel, tool, toolLevel, args is null ? null : Json(args), "req-1", Now, "test");

    public static PolicyInput Invoke(string role, string server, string tool, string? args = null) =>
        Invoke(Caller("u-" + role, role), server, tool, args);

    public static PolicyInput ListTool(Caller caller, string server, string tool, string level = "medium") =>
        new(PolicySubject.From(caller), PolicyActions.ToolList, new PolicyServer(server, "medium"), new PolicyTool(tool, level), null,
            new PolicyContext("req-1", Now, "test"));

    public static PolicyInput ListServer(Caller caller, string server, string level = "medium") =>
        new(PolicySubject.From(caller), PolicyActions.ServerList, new PolicyServer(server, level), null, null,
            new PolicyContext("req-1", Now, "test"));

    public static EmbeddedPolicyEngine Engine(string embeddedHocon)
    {
        var options = PolicyOptions.Parse("sark.policy.embedded { " + embeddedHocon + " }");
        return new EmbeddedPolicyEngine(options);
    }

    /// <summary>The repository's hocon/ folder, found from this source file.</summary>
    public static string HoconFile(string name, [CallerFilePath] string here = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(here)!, "../../../hocon", name));

    public static ImmutableArray<string> Roles(params string[] roles) => [.. roles];
}
