using System.Text.Json;
using Akka.Actor;
using Akka.Configuration;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using Sark.Actors;
using Sark.Actors.Configuration;
using Sark.Actors.Policy;

namespace Sark.Benchmarks.Micro;

/// <summary>
/// The per-call policy work: an embedded decision with the original's example rules (uncached),
/// a cache hit through <see cref="PolicyGate"/> (no message), and the canonical arguments hash.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(PolicyBenchmarkConfig))]
public class PolicyBenchmarks
{
    internal const string ExampleRules = """"
        sark.policy {
          embedded {
            rules = [
              { name = admin-everything, effect = allow, roles = [admin] }
              {
                name = analyst-postgres-read-only
                effect = allow
                roles = [analyst]
                except-roles = [admin]
                servers = [postgres-mcp]
                tools = [execute_query, list_tables, describe_table]
                arguments {
                  deny-if-matches { "query" = """(?is)^(?!\s*select\b)""" }
                }
              }
              { name = developer-github, effect = allow, roles = [developer], servers = [github-mcp], tools = [get_repo, list_repos, search_repos, get_issue, list_issues, create_issue] }
              { name = no-mutations-unless-admin, effect = deny, except-roles = [admin], tools = [execute_mutation] }
              {
                name = no-destructive-sql-unless-admin
                effect = deny
                except-roles = [admin]
                arguments {
                  deny-if-matches { "query" = """(?i)\b(drop|delete|truncate)\b""" }
                }
              }
              { name = no-issue-removal-unless-admin, effect = deny, except-roles = [admin], servers = [github-mcp], tools = [close_issue, delete_issue] }
            ]
            filters = { remove = [password, secret, api_key] }
          }
        }
        """";

    private EmbeddedPolicyEngine _engine = null!;
    private PolicyInput _analystQuery = null!;
    private PolicyInput _developerFiltered = null!;
    private PolicyGate _gate = null!;
    private ActorSystem _system = null!;
    private JsonElement _arguments;
    private string _argumentsHash = "";

    [GlobalSetup]
    public void Setup()
    {
        var options = PolicyOptions.Read(ConfigurationFactory.ParseString(ExampleRules).WithFallback(SarkConfigLoader.Defaults));
        _engine = new EmbeddedPolicyEngine(options);
        var now = DateTimeOffset.UtcNow;
        _arguments = JsonElement.Parse("""{"query":"SELECT id, name FROM users WHERE team = 'data' LIMIT 100","database":"analytics","options":{"timeout_ms":5000,"read_only":true}}""");
        _analystQuery = PolicyInput.ForInvoke(new Caller("alice", ["analyst"], ["data"]), "postgres-mcp", "high", "execute_query", "high", _arguments, "r", now, "bench");
        _developerFiltered = PolicyInput.ForInvoke(new Caller("bob", ["developer"], []), "github-mcp", "medium", "get_repo", "low",
            JsonElement.Parse("""{"repo":"sark","api_key":"k"}"""), "r", now, "bench");

        _system = ActorSystem.Create("policy-bench", "akka.loglevel = WARNING");
        var cache = new DecisionCache(_system.Scheduler, options.CacheMaxEntries);
        var pdp = _system.ActorOf(PolicyDecisionPoint.Props(options, cache), "policy");
        _gate = new PolicyGate(pdp, cache, options);
        _argumentsHash = CanonicalJson.Hash(_arguments);
        _gate.DecideAsync(_analystQuery).AsTask().GetAwaiter().GetResult();
        if (!_gate.DecideAsync(_analystQuery).IsCompletedSuccessfully)
            throw new InvalidOperationException("the decision was not cached");
    }

    [GlobalCleanup]
    public void Cleanup() => _system.Terminate().Wait(TimeSpan.FromSeconds(10));

    [Benchmark(Description = "Embedded.Evaluate (analyst SELECT, uncached)")]
    public PolicyDecision EmbeddedUncached() => _engine.Evaluate(_analystQuery);

    [Benchmark(Description = "Embedded.Evaluate (developer, api_key filtered)")]
    public PolicyDecision EmbeddedFiltered() => _engine.Evaluate(_developerFiltered);

    [Benchmark(Description = "PolicyGate.DecideAsync (cache hit, key + hash)")]
    public PolicyDecision GateCacheHit() => _gate.DecideAsync(_analystQuery).Result;

    [Benchmark(Description = "PolicyGate.DecideAsync (cache hit, hash given)")]
    public PolicyDecision GateCacheHitHashGiven() => _gate.DecideAsync(_analystQuery, _argumentsHash).Result;

    [Benchmark(Description = "CanonicalJson.Hash (3 keys, nested)")]
    public string CanonicalHash() => CanonicalJson.Hash(_arguments);
}

/// <summary>The short in-process job, with the tail percentiles the policy targets are written in.</summary>
public sealed class PolicyBenchmarkConfig : ManualConfig
{
    public PolicyBenchmarkConfig()
    {
        Add(new MicroConfig());
        AddColumn(StatisticColumn.P95, StatisticColumn.Max);
    }
}
