using System.Text;
using System.Text.Json;

namespace Sark.Benchmarks.Load;

/// <summary>The HOCON of the benchmark's nodes: the same text configures the facade (in process) and the REST node.</summary>
internal static class BenchConfig
{
    /// <summary>One mcp-stdio upstream per entry: name and argv.</summary>
    public static string Hocon(RepoLayout layout, params (string Name, string[] Command)[] upstreams)
    {
        var text = new StringBuilder();
        text.AppendLine("sark {");
        text.AppendLine("  node.http.bind = \"127.0.0.1:0\"");
        // The harness calls the REST API without credentials, on loopback.
        text.AppendLine("  auth.anonymous.enabled = true");
        text.AppendLine("  policy.embedded.rules = [ { name = bench-local-caller, effect = allow, subjects = [local] } ]");
        // The issue 3 paths measure the gateway without the audit log, as they did when recorded;
        // policy-audit measures what policy and audit add.
        text.AppendLine("  audit.enabled = false");
        text.AppendLine("  upstreams {");
        foreach (var (name, command) in upstreams)
        {
            text.Append("    ").Append(name).AppendLine(" {");
            text.AppendLine("      kind = mcp-stdio");
            text.Append("      command = [").AppendJoin(", ", command.Select(Quote)).AppendLine("]");
            text.Append("      working-directory = ").AppendLine(Quote(layout.Root));
            text.AppendLine("    }");
        }

        text.AppendLine("  }");
        text.AppendLine("}");
        return text.ToString();
    }

    /// <summary>server-everything over stdio, with node found on PATH.</summary>
    public static string[] Everything(RepoLayout layout) => [RepoLayout.OnPath("node"), layout.EverythingScript, "stdio"];

    private static string Quote(string value) => JsonSerializer.Serialize(value);
}
