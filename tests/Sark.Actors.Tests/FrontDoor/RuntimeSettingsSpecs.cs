using Sark.Actors.Configuration;
using Sark.Host.Startup;

namespace Sark.Actors.Tests.FrontDoor;

public sealed class RuntimeSettingsSpecs
{
    [Fact]
    public void A_budget_becomes_the_runtime_variable_in_hexadecimal_bytes()
    {
        Assert.Equal("0x200000", RuntimeSettings.Wanted(2 * 1024 * 1024)[RuntimeSettings.Gen0SizeVariable]);
        Assert.Empty(RuntimeSettings.Wanted(0));
    }

    [Fact]
    public void Server_mode_asks_for_the_server_GC_and_no_budget()
    {
        var wanted = RuntimeSettings.Wanted(24 * 1024 * 1024, GcMode.Server);

        Assert.Equal("1", wanted[RuntimeSettings.ServerGcVariable]);
        Assert.False(wanted.ContainsKey(RuntimeSettings.Gen0SizeVariable));
        Assert.False(RuntimeSettings.Wanted(24 * 1024 * 1024, GcMode.Workstation).ContainsKey(RuntimeSettings.ServerGcVariable));
        // An operator's own choice stays: a DOTNET_gcServer=0 in the environment keeps workstation GC.
        Assert.Empty(RuntimeSettings.Missing(wanted, name => name == RuntimeSettings.ServerGcVariable ? "0" : null));
    }

    [Fact]
    public void Only_what_the_environment_lacks_is_set()
    {
        var wanted = RuntimeSettings.Wanted(2 * 1024 * 1024);

        Assert.Equal(wanted, RuntimeSettings.Missing(wanted, _ => null));
        Assert.Empty(RuntimeSettings.Missing(wanted, name => name == RuntimeSettings.Gen0SizeVariable ? "0x400000" : null));
    }

    [Fact]
    public void A_re_executed_node_never_re_executes_again()
    {
        var wanted = RuntimeSettings.Wanted(2 * 1024 * 1024);

        Assert.Empty(RuntimeSettings.Missing(wanted, name => name == RuntimeSettings.AppliedVariable ? "1" : null));
    }
}
