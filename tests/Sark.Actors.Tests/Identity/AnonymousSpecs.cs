using Sark.Actors.Errors;

namespace Sark.Actors.Tests.Identity;

/// <summary>The anonymous caller: only when configured, and never in place of a bad credential.</summary>
public sealed class AnonymousSpecs
{
    [Fact]
    public void No_credential_is_unauthenticated_when_anonymous_callers_are_off()
    {
        var ex = Assert.Throws<SarkUnauthenticatedException>(() => Tokens.Authenticator("").Authenticate(null, null));

        Assert.Equal(SarkErrorCode.Unauthenticated, ex.Code);
        Assert.Contains("No credential", ex.Message, StringComparison.Ordinal);
        Assert.Null(ex.Scheme);
    }

    [Fact]
    public void No_credential_is_the_local_anonymous_caller_when_enabled()
    {
        var caller = Tokens.Authenticator("anonymous.enabled = true").Authenticate(null, null);

        Assert.Equal("local", caller.Id);
        Assert.Equal("anonymous", caller.AuthMethod);
        Assert.Empty(caller.Roles);
        Assert.Null(caller.BearerToken);
    }

    [Fact]
    public void The_anonymous_subject_and_roles_are_configurable()
    {
        var caller = Tokens.Authenticator("anonymous { enabled = true, subject = guest, roles = [viewer], teams = [public] }").Authenticate(null, null);

        Assert.Equal("guest", caller.Id);
        Assert.Equal(["viewer"], caller.Roles.ToArray());
        Assert.Equal(["public"], caller.Teams.ToArray());
    }

    [Fact]
    public void A_bad_bearer_token_is_refused_even_when_anonymous_callers_are_allowed()
    {
        var authenticator = Tokens.Authenticator("anonymous.enabled = true\n" + Tokens.JwtHs256Config());

        Assert.Throws<SarkUnauthenticatedException>(() => authenticator.Authenticate(null, "Bearer not.a.jwt"));
    }
}
