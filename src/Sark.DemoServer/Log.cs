namespace Sark.DemoServer;

/// <summary>Diagnostics on stderr; stdout carries protocol lines only.</summary>
internal static class Log
{
    private static readonly TextWriter Error = Console.Error;

    /// <summary>Writes a line exactly as given.</summary>
    public static void Raw(string line) => Error.WriteLine(line);

    /// <summary>Writes a diagnostic line with the <c>sark-demo:</c> prefix.</summary>
    public static void Info(string message) => Error.WriteLine("sark-demo: " + message);
}
