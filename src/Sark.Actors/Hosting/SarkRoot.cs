using Akka.Actor;
using Akka.Hosting;
using Sark.Actors.Catalog;
using Sark.Actors.Configuration;
using Sark.Actors.Upstreams;

namespace Sark.Actors.Hosting;

/// <summary>
/// <c>/user/sark</c>: owns the runtime's subtree (<c>catalog</c>, <c>upstreams</c>) with the
/// default one-for-one strategy and escalates nothing. It registers its children in the
/// <see cref="ActorRegistry"/> so that the facade can reach them without a hop through here.
/// </summary>
internal sealed class SarkRoot : UntypedActor
{
    public SarkRoot(SarkOptions options, Func<UpstreamOptions, IActorRef, Props>? connectionProps)
    {
        var registry = ActorRegistry.For(Context.System);
        var catalog = Context.ActorOf(CatalogActor.Props(), "catalog");
        registry.Register<CatalogActor>(catalog, overwrite: true);
        var upstreams = Context.ActorOf(UpstreamManager.Props(options, catalog, connectionProps), "upstreams");
        registry.Register<UpstreamManager>(upstreams, overwrite: true);
    }

    public static Props Props(SarkOptions options, Func<UpstreamOptions, IActorRef, Props>? connectionProps = null) =>
        Akka.Actor.Props.Create(() => new SarkRoot(options, connectionProps));

    protected override void OnReceive(object message) => Unhandled(message);
}
