using System.Collections.Immutable;
using System.Text.Json.Nodes;
using Akka.Actor;

namespace Sark.Actors.Ops;

/// <summary>
/// A palette of the ops console: its definition (sent to every client in the catalogue) and
/// the actor that runs one of its commands. The session starts one such actor per command it
/// runs, and stops it when the command ends, times out or the client goes away. Register your
/// own with <c>WithSarkOpsPalette(palette)</c>; a palette registered later replaces one of the
/// same name.
/// </summary>
public abstract class OpsPalette
{
    public abstract PaletteDefinition Definition { get; }

    /// <summary>The actor that runs <paramref name="invocation"/> (see <see cref="OpsCommandActor"/>).</summary>
    public abstract Props CommandProps(OpsInvocation invocation);
}

/// <summary>One command to run: what was parsed, who gets the output, and what the node offers.</summary>
public sealed record OpsInvocation(OpsCommand Command, IActorRef Session, OpsServices Services) : INoSerializationVerificationNeeded;

/// <summary>What a command actor sends its session. The session turns each into a frame; <see cref="Done"/> and <see cref="Failed"/> end the command.</summary>
public static class OpsOutput
{
    /// <summary>The columns of the rows that follow (the client prints a table).</summary>
    public sealed record Table(ImmutableArray<string> Columns) : INoSerializationVerificationNeeded;

    /// <summary>One row: column name to value (string, number, bool or null).</summary>
    public sealed record Row(JsonObject Data) : INoSerializationVerificationNeeded;

    /// <summary>A line of text.</summary>
    public sealed record Line(string Text) : INoSerializationVerificationNeeded;

    /// <summary>The command succeeded (the final frame).</summary>
    public sealed record Done(string? Message = null) : INoSerializationVerificationNeeded;

    /// <summary>The command failed with a stable code (the final frame).</summary>
    public sealed record Failed(string Code, string Message) : INoSerializationVerificationNeeded;
}

/// <summary>
/// A base for command actors: <see cref="Columns"/>, <see cref="Row"/>, <see cref="Line"/>, then
/// <see cref="Done"/> or <see cref="Fail"/>. Data from other actors comes by Tell and a reply to
/// this actor, never by Ask.
/// </summary>
public abstract class OpsCommandActor : UntypedActor
{
    protected OpsCommandActor(OpsInvocation invocation)
    {
        Invocation = invocation;
    }

    protected OpsInvocation Invocation { get; }

    protected OpsCommand Command => Invocation.Command;

    protected OpsServices Services => Invocation.Services;

    protected void Columns(params string[] columns) => Invocation.Session.Tell(new OpsOutput.Table([.. columns]), Self);

    protected void Row(JsonObject row) => Invocation.Session.Tell(new OpsOutput.Row(row), Self);

    protected void Line(string text) => Invocation.Session.Tell(new OpsOutput.Line(text), Self);

    protected void Done(string? message = null) => Invocation.Session.Tell(new OpsOutput.Done(message), Self);

    protected void Fail(string code, string message) => Invocation.Session.Tell(new OpsOutput.Failed(code, message), Self);

    /// <summary>Key/value rows (<c>upstream show</c>, <c>actor system</c>).</summary>
    protected void Properties(IEnumerable<(string Key, JsonNode? Value)> properties)
    {
        Columns("key", "value");
        foreach (var (key, value) in properties)
            Row(new JsonObject { ["key"] = key, ["value"] = value });
    }
}

/// <summary>A palette made from a definition and a factory of command actors.</summary>
public sealed class DelegatePalette(PaletteDefinition definition, Func<OpsInvocation, Props> props) : OpsPalette
{
    public override PaletteDefinition Definition { get; } = definition;

    public override Props CommandProps(OpsInvocation invocation) => props(invocation);
}
