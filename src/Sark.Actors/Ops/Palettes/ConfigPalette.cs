using Akka.Actor;
using Akka.Configuration;

namespace Sark.Actors.Ops.Palettes;

/// <summary><c>config show</c>: the configuration the node runs with (the <c>sark</c> section over its defaults), secrets redacted.</summary>
internal sealed class ConfigPalette : OpsPalette
{
    public override PaletteDefinition Definition { get; } = new("config", "The node's configuration.",
    [
        new CommandDefinition("show", "The effective sark configuration, as HOCON, with secrets redacted.",
            [ArgumentDefinition.Option("path", "--path", "only this section, for example sark.upstreams", alias: "-p", @default: "sark")]),
    ]);

    public override Props CommandProps(OpsInvocation invocation) => Props.Create(() => new Command(invocation));

    /// <summary>A section of a configuration as redacted HOCON text; null when the path is absent.</summary>
    internal static string? Render(Config config, string path)
    {
        if (!config.HasPath(path))
            return null;
        var section = config.GetConfig(path);
        return SecretRedactor.RedactHocon(section.Root.ToString(1));
    }

    private sealed class Command(OpsInvocation invocation) : OpsCommandActor(invocation)
    {
        protected override void PreStart()
        {
            if (Services.Config is not { } config)
            {
                Fail("not_found", "This runtime was configured in code, not from HOCON: there is no configuration text to show.");
                return;
            }

            var path = Command.Get("path") ?? "sark";
            if (!path.StartsWith("sark", StringComparison.Ordinal) || Render(config, path) is not { } text)
            {
                Fail("not_found", $"No section '{path}' in the configuration (paths start with sark).");
                return;
            }

            foreach (var line in $"{path} {text}".Split('\n'))
                Line(line);
            Done();
        }

        protected override void OnReceive(object message) => Unhandled(message);
    }
}
