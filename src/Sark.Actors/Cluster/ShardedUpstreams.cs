using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Sharding;
using Akka.DistributedData;
using Akka.Event;
using Sark.Actors.Configuration;
using Sark.Actors.Errors;
using Sark.Actors.Upstreams;
using static Sark.Actors.Cluster.ClusterMessages;
using static Sark.Actors.Upstreams.UpstreamCommands;
using static Sark.Actors.Upstreams.UpstreamReplies;

namespace Sark.Actors.Cluster;

/// <summary>
/// The upstream manager of a cluster node (<c>/user/sark/upstreams</c>, in place of
/// <see cref="UpstreamManager"/>): still the router of every upstream-addressed message, but to
/// the shard regions (one per role; a proxy where this node lacks the role) instead of children.
/// It wakes every configured upstream once this node is up, keeps every upstream's status
/// (from distributed data) and writes this node's <see cref="CircuitBoard"/> from them, and
/// answers the calls it routed: replies come back through it, so that a call whose host becomes
/// unreachable or leaves fails at once with <c>upstream_unavailable</c>.
/// </summary>
internal sealed partial class ShardedUpstreams : UntypedActor, IWithUnboundedStash, IWithTimers
{
    private static readonly TimeSpan SweepEvery = TimeSpan.FromSeconds(5);

    /// <summary>A call no entity has accepted this long after it was sent is sent again (checked every second).</summary>
    private static readonly TimeSpan ResendAfter = TimeSpan.FromSeconds(2);
    private readonly SarkOptions _options;
    private readonly ClusterServices _services;
    private readonly CircuitBoard _board;
    private readonly Func<UpstreamOptions, IActorRef, Props> _connectionProps;
    private readonly UpstreamDirectory _directory;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Dictionary<string, IActorRef> _regions = new(StringComparer.Ordinal);
    private bool _up;
    private bool _woken;

    public ShardedUpstreams(SarkOptions options, ClusterServices services, CircuitBoard board, Func<UpstreamOptions, IActorRef, Props>? connectionProps)
    {
        _options = options;
        _services = services;
        _board = board;
        _connectionProps = connectionProps ?? UpstreamManager.ConnectionProps;
        _directory = new UpstreamDirectory(options);
    }

    public IStash Stash { get; set; } = null!;

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(SarkOptions options, ClusterServices services, CircuitBoard board, Func<UpstreamOptions, IActorRef, Props>? connectionProps = null) =>
        Akka.Actor.Props.Create(() => new ShardedUpstreams(options, services, board, connectionProps));

    private DateTimeOffset Now => Context.System.Scheduler.Now;

    private sealed record RegionsStarted(ImmutableArray<(ShardGroup Group, IActorRef Region)> Regions);

    private sealed record RegionsFailed(Exception Cause);

    private sealed class Sweep
    {
        public static readonly Sweep Instance = new();
    }

    private sealed class Resend
    {
        public static readonly Resend Instance = new();
    }

    protected override void PreStart()
    {
        Akka.Cluster.Cluster.Get(Context.System).Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents,
            typeof(ClusterEvent.IReachabilityEvent), typeof(ClusterEvent.MemberUp), typeof(ClusterEvent.MemberRemoved));
        _services.Replicator.Tell(Dsl.Subscribe(ClusterKeys.Statuses, Self));
        Timers.StartPeriodicTimer(Sweep.Instance, Sweep.Instance, SweepEvery);
        Timers.StartPeriodicTimer(Resend.Instance, Resend.Instance, TimeSpan.FromSeconds(1));
        StartRegions();
    }

    protected override void PostStop() => Akka.Cluster.Cluster.Get(Context.System).Unsubscribe(Self);

    private void StartRegions()
    {
        var sharding = ClusterSharding.Get(Context.System);
        var settings = ClusterShardingSettings.Create(Context.System).WithRememberEntities(true);
        var extractor = new UpstreamShards.Extractor(_options.Cluster.Shards);
        var (self, options, services, connectionProps) = (Self, _options, _services, _connectionProps);
        Props EntityProps(string name) =>
            UpstreamEntity.Props(name, options.Upstreams.GetValueOrDefault(name), services, self, connectionProps, options.Node.ShutdownDrain);

        async Task<(ShardGroup, IActorRef)> Start(ShardGroup group) => (group, group.HostedHere
            // A hand-off (this node leaves) stops each entity with UpstreamEntity.HandOff, which lets its calls finish first.
            ? await sharding.StartAsync(group.TypeName, EntityProps, settings.WithRole(group.Role), extractor,
                sharding.DefaultShardAllocationStrategy(settings), UpstreamEntity.HandOff.Instance).ConfigureAwait(false)
            : await sharding.StartProxyAsync(group.TypeName, group.Role!, extractor).ConfigureAwait(false));

        Task.WhenAll(UpstreamShards.Plan(_options).Select(Start)).PipeTo(self,
            success: started => new RegionsStarted([.. started]),
            failure: ex => new RegionsFailed(ex));
    }

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case RegionsStarted started:
                foreach (var (group, region) in started.Regions)
                {
                    foreach (var upstream in group.Upstreams)
                        _regions[upstream] = region;
                    _log.Info("Cluster: upstreams {Upstreams} in shard region {Region} ({Mode})",
                        string.Join(", ", group.Upstreams), group.TypeName, group.HostedHere ? "hosted here" : "proxy");
                }

                Become(Routing);
                Stash.UnstashAll();
                Wake();
                break;
            case RegionsFailed failed:
                // The tree's supervisor restarts this actor, which starts the regions again.
                throw new InvalidOperationException("The upstream shard regions could not be started.", failed.Cause);
            case var _ when Common(message):
                break;
            default:
                Stash.Stash();
                break;
        }
    }

    private void Routing(object message)
    {
        switch (message)
        {
            case CallTool call when _regions.TryGetValue(call.Upstream, out var region):
                Route(region, ClusterCall.From(call, Self), call.RequestId, call.Upstream, call.Timeout, call.Progress, call.ClientRequests);
                break;
            case ForwardRequest request when _regions.TryGetValue(request.Upstream, out var region):
                Route(region, request, request.RequestId, request.Upstream, request.Timeout, null, null);
                break;
            case CallAccepted accepted:
                _directory.Accept(accepted.RequestId);
                break;

            case CancelCall cancel when _regions.TryGetValue(cancel.Upstream, out var region):
                _directory.Complete(cancel.RequestId);
                region.Tell(cancel, Self);
                break;
            case Operate or RefreshCatalog when _regions.TryGetValue(((IUpstreamMessage)message).Upstream, out var region):
                region.Forward(message);
                break;
            case IUpstreamMessage unknown:
                RefuseUnknown(unknown);
                break;
            case ToolCallCompleted completed:
                _directory.Complete(completed.RequestId)?.ReplyTo.Tell(completed);
                break;
            case ToolCallFailed failed:
                _directory.Complete(failed.RequestId)?.ReplyTo.Tell(failed);
                break;
            case RequestCompleted completed:
                _directory.Complete(completed.RequestId)?.ReplyTo.Tell(completed);
                break;
            case CallProgress progress:
                _directory.Find(progress.RequestId)?.Progress?.Report(progress.Progress);
                break;
            case ClientRequest request:
                OnClientRequest(request);
                break;
            case ClientNotify notify:
                _directory.Find(notify.RequestId)?.Client?.Notify(notify.Method, notify.Params);
                break;
            default:
                if (!Common(message))
                    Unhandled(message);
                break;
        }
    }

    /// <summary>What is handled the same while the regions start and after.</summary>
    private bool Common(object message)
    {
        switch (message)
        {
            case HostedStatus hosted:
                Apply(hosted);
                return true;
            case Changed changed when changed.Key.Equals(ClusterKeys.Statuses):
                foreach (var (_, hosted) in changed.Get(ClusterKeys.Statuses).Entries)
                    Apply(hosted);
                return true;
            case ListUpstreams:
                Sender.Tell(new UpstreamList(_directory.Statuses(Now)));
                return true;
            case ClusterEvent.MemberUp up:
                if (up.Member.Address.Equals(Akka.Cluster.Cluster.Get(Context.System).SelfAddress))
                {
                    _up = true;
                    Wake();
                }

                Refresh(_directory.NodeBack(up.Member.Address.ToString()));
                return true;
            case ClusterEvent.ReachableMember reachable:
                Refresh(_directory.NodeBack(reachable.Member.Address.ToString()));
                return true;
            case ClusterEvent.UnreachableMember unreachable:
                NodeLost(unreachable.Member.Address.ToString(), "is unreachable");
                return true;
            case ClusterEvent.MemberRemoved { PreviousStatus: MemberStatus.Exiting }:
                // A graceful leave: its shards were handed off before it was removed, and what
                // it had in flight was answered by its connections as they stopped.
                WarnIfCoordinatorWouldStall();
                return true;
            case ClusterEvent.MemberRemoved removed:
                WakeAgain(NodeLost(removed.Member.Address.ToString(), "was removed from the cluster"));
                WarnIfCoordinatorWouldStall();
                return true;
            case Resend:
                SendAgain();
                return true;
            case Sweep:
                // Remembered entities restart on their own; a wake makes sure of it (it is idempotent)
                // for upstreams whose node is gone and that no other node has reported since.
                WakeAgain(_directory.Orphans());
                foreach (var expired in _directory.TakeExpired(Now))
                    _log.Debug("Cluster: no answer to request {RequestId} (upstream {Upstream}) before its deadline; forgotten", expired.RequestId, expired.Upstream);
                return true;
            case ClusterEvent.IMemberEvent or ClusterEvent.IReachabilityEvent or ClusterEvent.CurrentClusterState:
                return true;
            default:
                return false;
        }
    }

    /// <summary>Every node wakes every upstream once it is up and the regions run (remembered from then on; idempotent).</summary>
    private void Wake()
    {
        if (_woken || !_up || _regions.Count == 0)
            return;
        _woken = true;
        foreach (var (upstream, region) in _regions)
            region.Tell(new WakeUpstream(upstream));
    }

    /// <summary>After a member is removed: says so when too few are left for a new shard coordinator to place shards.</summary>
    private void WarnIfCoordinatorWouldStall()
    {
        var cluster = Akka.Cluster.Cluster.Get(Context.System);
        var up = cluster.State.Members.Where(m => m.Status == MemberStatus.Up).ToArray();
        foreach (var group in UpstreamShards.Plan(_options))
        {
            var minMembers = group.Role is null
                ? cluster.Settings.MinNrOfMembers
                : cluster.Settings.MinNrOfMembersOfRole.GetValueOrDefault(group.Role, 1);
            var membersUp = group.Role is null ? up.Length : up.Count(m => m.HasRole(group.Role));
            if (UpstreamShards.CoordinatorStall(group, membersUp, minMembers) is { } warning)
                _log.Warning("{0}", warning);
        }
    }

    private void Apply(HostedStatus hosted)
    {
        if (_directory.Apply(hosted))
            Refresh([hosted.Status.Name]);
    }

    private void Refresh(ImmutableArray<string> upstreams)
    {
        foreach (var upstream in upstreams)
            _board.Publish(upstream, _directory.BoardOf(upstream, Now));
    }
}
