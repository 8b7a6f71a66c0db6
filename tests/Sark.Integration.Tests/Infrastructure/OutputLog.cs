using System.Text;

namespace Sark.Integration.Tests.Infrastructure;

/// <summary>The last lines a process wrote to one stream, at most <c>capacity</c> of them; older ones are counted and dropped.</summary>
public sealed class OutputLog(int capacity)
{
    private readonly Queue<string> _lines = new();
    private readonly Lock _gate = new();
    private int _dropped;

    public void Add(string line)
    {
        lock (_gate)
        {
            _lines.Enqueue(line);
            if (_lines.Count > capacity)
            {
                _lines.Dequeue();
                _dropped++;
            }
        }
    }

    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (_gate)
                return [.. _lines];
        }
    }

    public string Text => string.Join('\n', Lines);

    public override string ToString()
    {
        lock (_gate)
        {
            var text = new StringBuilder();
            if (_dropped > 0)
                text.Append("... (").Append(_dropped).Append(" earlier lines dropped)\n");
            return text.AppendJoin('\n', _lines).ToString();
        }
    }
}
