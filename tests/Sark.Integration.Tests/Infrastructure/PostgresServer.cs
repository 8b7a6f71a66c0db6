using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace Sark.Integration.Tests.Infrastructure;

/// <summary>
/// A private PostgreSQL server for the audit specs (and the audit benchmark, which links this
/// file): the server binaries under <c>/usr/lib/postgresql/*/bin</c> (scripts/test.sh installs the
/// <c>postgresql</c> package when there are none), a temporary data directory, <c>initdb</c>, then
/// <c>postgres -D dir -p PORT -k dir -c listen_addresses=127.0.0.1</c> as a direct child process,
/// so that its PID is known and it can be stopped by PID. PostgreSQL refuses to run as root: when
/// we are root, the server runs as the <c>postgres</c> system user (created by the Debian
/// package; created here with useradd if missing) through <c>setpriv</c>, which execs, so the
/// child's PID is the server's. Loopback only, trust authentication, no fsync unless asked.
/// <see cref="Stop"/> and <see cref="StartAsync()"/> stop and restart it on the same directory and port.
/// </summary>
internal sealed class PostgresServer : IAsyncDisposable
{
    private const string ServiceUser = "postgres";
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(15);

    private readonly string _bin;
    private readonly string _root;
    private readonly bool _fsync;
    private readonly Queue<string> _output = new();
    private Process? _process;

    private PostgresServer(string bin, string root, int port, bool fsync)
    {
        _bin = bin;
        _root = root;
        Port = port;
        _fsync = fsync;
    }

    public int Port { get; }

    /// <summary>The PID of the running server (the postmaster), or null while stopped.</summary>
    public int? ProcessId => _process is { HasExited: false } p ? p.Id : null;

    public string DataDirectory => Path.Combine(_root, "data");

    /// <summary>The connection string of a database (trust authentication as <c>postgres</c>).</summary>
    public string ConnectionString(string database = "postgres") => new NpgsqlConnectionStringBuilder
    {
        Host = "127.0.0.1",
        Port = Port,
        Username = "postgres",
        Database = database,
        Timeout = 5,
        CommandTimeout = 30,
    }.ToString();

    /// <summary>The directory that holds initdb, pg_ctl and postgres, or null when none is installed.</summary>
    public static string? FindBinaries()
    {
        if (!Directory.Exists("/usr/lib/postgresql"))
            return null;
        return Directory.GetDirectories("/usr/lib/postgresql")
            .Select(dir => Path.Combine(dir, "bin"))
            .Where(bin => File.Exists(Path.Combine(bin, "initdb")) && File.Exists(Path.Combine(bin, "postgres")))
            .OrderByDescending(bin => int.TryParse(Path.GetFileName(Path.GetDirectoryName(bin)), out var v) ? v : 0)
            .FirstOrDefault();
    }

    /// <summary>Creates a data directory, runs initdb and starts the server on a free loopback port.</summary>
    public static async Task<PostgresServer> StartNewAsync(bool fsync = false)
    {
        var bin = FindBinaries() ?? throw new InvalidOperationException(
            "No PostgreSQL server binaries under /usr/lib/postgresql/*/bin; install the postgresql package (scripts/test.sh does).");
        var root = Path.Combine(Path.GetTempPath(), "sark-pg-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(root);
        var server = new PostgresServer(bin, root, FreePort(), fsync);
        try
        {
            if (IsRoot)
            {
                await EnsureServiceUserAsync().ConfigureAwait(false);
                await RunAsync("chown", ["-R", $"{ServiceUser}:{ServiceUser}", root]).ConfigureAwait(false);
            }

            await server.RunAsServerUserAsync(Path.Combine(bin, "initdb"),
                ["-D", server.DataDirectory, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync", "--no-instructions"]).ConfigureAwait(false);
            await server.StartAsync().ConfigureAwait(false);
            return server;
        }
        catch
        {
            await server.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Starts the server (again) on the same data directory and port and waits until it accepts connections.</summary>
    public async Task StartAsync()
    {
        if (ProcessId is not null)
            return;
        var args = new List<string>
        {
            Path.Combine(_bin, "postgres"), "-D", DataDirectory, "-p", Port.ToString(CultureInfo.InvariantCulture), "-k", _root,
            "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=50", "-c", "shared_buffers=32MB",
        };
        if (!_fsync)
            args.AddRange(["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]);
        _process = StartProcess(args);
        await WaitUntilReadyAsync().ConfigureAwait(false);
    }

    /// <summary>Stops the server by PID (SIGINT: fast shutdown), waits until it is gone (bounded), kills it after that.</summary>
    public void Stop()
    {
        var process = _process;
        _process = null;
        if (process is null)
            return;
        try
        {
            if (!process.HasExited)
            {
                Signal(process.Id, "INT");
                if (!process.WaitForExit(StopTimeout))
                {
                    process.Kill(entireProcessTree: true);
                    process.WaitForExit(StopTimeout);
                }
            }
        }
        finally
        {
            process.Dispose();
        }
    }

    /// <summary>Creates a database and returns its connection string.</summary>
    public async Task<string> CreateDatabaseAsync(string name)
    {
        // Not pooled: a pooled connection would be broken after a Stop/Start.
        await using var connection = new NpgsqlConnection(ConnectionString() + ";Pooling=false");
        await connection.OpenAsync().ConfigureAwait(false);
        await using var command = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
        await command.ExecuteNonQueryAsync().ConfigureAwait(false);
        return ConnectionString(name);
    }

    /// <summary>The last lines the server wrote (for failure messages).</summary>
    public string RecentOutput()
    {
        lock (_output)
            return string.Join('\n', _output);
    }

    public async ValueTask DisposeAsync()
    {
        Stop();
        NpgsqlConnection.ClearAllPools();
        try
        {
            if (Directory.Exists(_root))
                Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
            await Task.Delay(200).ConfigureAwait(false);
            Directory.Delete(_root, recursive: true);
        }
    }

    private static bool IsRoot => !OperatingSystem.IsWindows() && Environment.UserName == "root";

    private async Task WaitUntilReadyAsync()
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (_process is null || _process.HasExited)
                throw new InvalidOperationException($"PostgreSQL exited while starting:\n{RecentOutput()}");
            try
            {
                await using var connection = new NpgsqlConnection(ConnectionString() + ";Pooling=false");
                await connection.OpenAsync().ConfigureAwait(false);
                return;
            }
            catch (NpgsqlException) when (clock.Elapsed < ReadyTimeout)
            {
                await Task.Delay(100).ConfigureAwait(false);
            }
            catch (NpgsqlException ex)
            {
                throw new TimeoutException($"PostgreSQL did not accept connections within {ReadyTimeout.TotalSeconds:0}s:\n{RecentOutput()}", ex);
            }
        }
    }

    private Process StartProcess(IReadOnlyList<string> argv)
    {
        var start = IsRoot ? new ProcessStartInfo("setpriv") : new ProcessStartInfo(argv[0]);
        if (IsRoot)
        {
            foreach (var a in new[] { $"--reuid={ServiceUser}", $"--regid={ServiceUser}", "--init-groups", "--" })
                start.ArgumentList.Add(a);
            start.ArgumentList.Add(argv[0]);
        }

        foreach (var a in argv.Skip(1))
            start.ArgumentList.Add(a);
        start.UseShellExecute = false;
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.WorkingDirectory = _root;
        var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => Remember(e.Data);
        process.ErrorDataReceived += (_, e) => Remember(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private async Task RunAsServerUserAsync(string program, IReadOnlyList<string> args)
    {
        using var process = StartProcess([program, .. args]);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{Path.GetFileName(program)} failed with exit code {process.ExitCode}:\n{RecentOutput()}");
    }

    private void Remember(string? line)
    {
        if (line is null)
            return;
        lock (_output)
        {
            _output.Enqueue(line);
            while (_output.Count > 200)
                _output.Dequeue();
        }
    }

    private static async Task EnsureServiceUserAsync()
    {
        if ((await RunAsync("id", ["-u", ServiceUser], check: false).ConfigureAwait(false)) == 0)
            return;
        await RunAsync("useradd", ["--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin", ServiceUser]).ConfigureAwait(false);
    }

    private static void Signal(int pid, string signal)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill") { ArgumentList = { "-" + signal, pid.ToString(CultureInfo.InvariantCulture) }, UseShellExecute = false })
            ?? throw new InvalidOperationException("Could not run kill.");
        kill.WaitForExit(TimeSpan.FromSeconds(10));
    }

    private static async Task<int> RunAsync(string program, IReadOnlyList<string> args, bool check = true)
    {
        var start = new ProcessStartInfo(program) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
            start.ArgumentList.Add(a);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not run {program}.");
        var stderr = process.StandardError.ReadToEndAsync();
        _ = process.StandardOutput.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
        if (check && process.ExitCode != 0)
            throw new InvalidOperationException($"{program} {string.Join(' ', args)} failed ({process.ExitCode}): {await stderr.ConfigureAwait(false)}");
        return process.ExitCode;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
