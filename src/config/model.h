// The typed model of a pilotlight configuration file.
//
// One YAML file describes the platform: its regions and their data stores, node
// groups, recovery objectives and replication settings, and what watches them:
// health checks, alarms and notification topics (`detection`), and the DNS zones
// that fail over on those checks (`dns`), the failover controller's policy
// (`controller`) and its runbooks (`runbooks`). LoadConfigFile() (in config/loader.h)
// turns a file into a Config, or into every error it found. Values are plain
// data: thread-compatible, cheap to copy, never mutated after loading. Pure: no
// I/O here.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "config/config_error.h"  // SourceLocation, ConfigError
#include "core/clock.h"
#include "dns/update/publisher.h"
#include "dns/zone/zone_spec.h"
#include "health/detector.h"

namespace pilotlight::config {

enum class RegionRole { kPrimary, kDr };

const char* RoleName(RegionRole role);  // "primary" | "dr"

// A region's PostgreSQL: where it listens, the application database, and the
// two roles pilotlight tells apart. `user` is pilotlight's admin role (promote,
// fence, replication status; a superuser). `app_user` is the role the
// application (the trading service, its checks) logs in as: never a superuser,
// so that a fence (which revokes its LOGIN) holds. Passwords live in files
// (paths relative to the config file), never in the config.
//
// `replication_user` is the role the other region's standby streams WAL as (a
// REPLICATION role, no superuser). `sslmode` and `sslrootcert` are libpq's: empty
// sslmode is libpq's default ("prefer"); "verify-full" with the CA's
// certificate is what a WAN between sites wants.
struct PostgresSpec {
  uint16_t port = 5432;
  std::string database = "trading";  // the application database
  std::string user = "postgres";
  std::string password_file;      // empty: no password
  std::string app_user = "trader";
  std::string app_password_file;  // empty: no password
  std::string replication_user = "replicator";
  std::string replication_password_file;  // empty: no password
  std::string sslmode;                    // empty: libpq's default
  std::string sslrootcert;                // a CA certificate file; empty: none
};

// A region's Redis (the session store). `user` is a Redis 6+ ACL user (empty:
// the default user); the password lives in a file (0600), never in the config.
struct RedisSpec {
  uint16_t port = 6379;
  std::string user;
  std::string password_file;  // empty: no AUTH
};

// A bucket of objects (trade confirmations, release artifacts). An empty path
// means "inside the lab's state directory" (<lab dir>/<region>/buckets/<name>).
struct BucketSpec {
  std::string name;
  std::string path;
  SourceLocation where;
};

// A group of identical application instances (EKS node group in the seed).
struct NodeGroupSpec {
  std::string name;
  int pilot_light_size = 1;  // instances kept running in standby (DR) mode
  int production_size = 2;   // instances when the region carries production load
  uint16_t port = 8080;      // every instance listens here (SO_REUSEPORT)
  // The instance type each instance runs on, e.g. "m5.large": the key of its
  // price in a price file (`pilotlight cost`). Empty: not given.
  std::string instance;
  SourceLocation instance_where;  // of the instance value; line 0 when absent
  SourceLocation where;
};

// A region's managed database instances, for `pilotlight cost`.
struct DatabaseResources {
  std::string instance;  // instance class, e.g. "db.r5.large": the key of its price
  int count = 1;         // instances of that class (primary or replica, plus any in-region ones)
  int64_t storage_gb = 0;
  SourceLocation instance_where;
};

// What a region holds beyond its node groups, by role, so that `pilotlight
// cost` can price it. All absent means nothing is priced for the region.
struct RegionResources {
  bool database_present = false;  // false: no database is priced for the region
  DatabaseResources database;
  int64_t object_storage_gb = 0;        // buckets (confirmations, artifacts)
  int64_t backup_storage_gb = 0;        // database snapshots and backup copies kept here
  int64_t replicated_gb_per_month = 0;  // sent to the other region while this one is primary
  SourceLocation where;                 // of the resources mapping; line 0 when absent
};

struct RegionSpec {
  std::string name;
  RegionRole role = RegionRole::kPrimary;
  std::string address;  // IPv4 address every component of the region listens on
  PostgresSpec postgres;
  RedisSpec redis;
  std::vector<BucketSpec> buckets;
  std::vector<NodeGroupSpec> node_groups;
  RegionResources resources;
  SourceLocation where;
};

// Recovery point objective per data type; defaults are the seed's.
struct RpoObjectives {
  Duration database = std::chrono::seconds(60);
  Duration objects = std::chrono::minutes(15);
  Duration sessions = std::chrono::seconds(5);
  Duration artifacts = std::chrono::minutes(15);
};

struct Objectives {
  Duration rto = std::chrono::minutes(30);  // the seed's 15-30 min, upper bound
  RpoObjectives rpo;
};

struct ReplicationSpec {
  std::string slot = "pilotlight_dr";                          // physical slot for DR
  Duration heartbeat_interval = std::chrono::seconds(1);       // primary agent's heartbeat
  Duration max_lag_on_failover = std::chrono::seconds(60);     // refuse promotion beyond this
};

// How long each recovery step takes, the assumptions behind the RTO and RPO
// `pilotlight cost` expects of each DR strategy. Defaults are conservative
// guesses; replace them with drill measurements.
struct RecoveryModel {
  Duration detection = std::chrono::minutes(1);     // a region failure is confirmed
  Duration dns_switch = std::chrono::minutes(1);    // clients follow the DNS change (TTL)
  Duration backup_interval = std::chrono::hours(24);  // backup & restore loses up to this
  Duration provision = std::chrono::minutes(30);    // build the DR compute from nothing
  Duration restore = std::chrono::hours(2);         // restore database and objects from backup
  Duration scale_up = std::chrono::minutes(10);     // DR compute from pilot-light to production size
  Duration promote = std::chrono::minutes(1);       // promote the DR database replica
};

// Inputs of `pilotlight cost` that belong to no region (the `cost:` section).
struct CostSpec {
  int hosted_zones = 1;            // DNS zones, paid with or without DR
  int health_checks = 2;           // failover health checks, paid by every DR strategy
  int warm_standby_percent = 50;   // warm standby runs this share of production compute
  RecoveryModel recovery;
};

// An ADDRESS:PORT somebody listens on.
struct ListenAddress {
  std::string address = "127.0.0.1";  // IPv4 or IPv6 literal
  uint16_t port = 53;
  std::string ToString() const;  // "127.0.3.1:5353", "[::1]:53"
};

// An external authoritative server pilotlight changes with RFC 2136 updates
// (`dns.publishers[]`). `options` is complete but for options.key.secret: the
// TSIG secret stays in `secret_file` until LoadPublisherOptions (config/loader.h)
// reads it, so a config can be validated where the secret is not.
struct DnsPublisherSpec {
  dns::Rfc2136Options options;  // server, zone, key name, timeout, attempts, backoff
  std::string secret_file;      // base64 secret; relative paths resolved (see Config)
  SourceLocation where;
};

// The `dns:` section: the zones the embedded server answers for, where it
// listens, and the external servers failover decisions are published to.
struct DnsSpec {
  ListenAddress listen;
  Duration reload_interval = std::chrono::milliseconds(200);  // health and overrides re-read
  std::vector<dns::ZoneSpec> zones;
  std::vector<DnsPublisherSpec> publishers;
  SourceLocation where;  // of the section; line 0 when absent
};

// A webhook secret named by an environment variable (`secret_env`). It is read
// when detection starts (ResolveWebhookSecrets in config/loader.h), not when the
// file is validated.
struct SecretReference {
  size_t topic = 0;       // index into detection.topics
  size_t subscriber = 0;  // index into that topic's subscribers
  std::string env;        // the environment variable
  std::string field;      // "topics[0].subscribers[1].secret_env"
  SourceLocation where;
};

// One step of a runbook (`runbooks.<name>[i]`). `params` are the step kind's
// scalars (docs/operations.md lists them); the loader checked each of them.
struct RunbookStepConfig {
  std::string name;
  std::string kind;  // scale | fence | promote | dns | replicate | notify | exec | wait_healthy | approve
  std::vector<std::pair<std::string, std::string>> params;  // in file order
  Duration timeout = std::chrono::seconds(60);
  int retries = 2;
  Duration backoff = std::chrono::milliseconds(500);
  SourceLocation where;
};

// A named runbook (`runbooks:` maps names to lists of steps).
struct RunbookConfig {
  std::string name;
  std::vector<RunbookStepConfig> steps;
  SourceLocation where;
};

enum class ControllerMode { kAutomatic, kApproval, kObserveOnly };

// Scaling bounds of one node group (`controller.scaling.<group>`).
struct ScalingConfig {
  std::string group;
  int min = 1;
  int max = 1;
  int target_requests_per_instance = 100;
  // Scale down only once the lower size has been wanted this long (HPA-style).
  Duration scale_down_stabilization = std::chrono::seconds(60);
};

// Commands of the `exec` compute provider; {region} {group} {size} are substituted.
struct ExecComputeConfig {
  std::string size_command;
  std::string scale_command;
  std::string ready_command;
  std::string can_scale_command;
  // Optional: prints the group's requests per second (auto-scaling); empty: the
  // exec provider's groups are not auto-scaled.
  std::string requests_command;
};

// The `controller:` section. `present` is false when the file has none; each
// `has_*` says whether the key was given (else the controller's default holds).
// A probe agent the controller fetches a site's votes from
// (`controller.probe_agents[]`; `pilotlight probe run --site SITE --listen LISTEN`).
struct ProbeAgentConfig {
  std::string site;
  ListenAddress listen;
  SourceLocation where;
};

struct ControllerConfig {
  bool present = false;
  ControllerMode mode = ControllerMode::kAutomatic;
  bool has_mode = false;
  std::string primary_check;  // empty: the controller's default
  int quorum = 0;             // sites that must agree; 0 = majority
  std::string site;           // the site the controller runs in; empty: "witness"
  std::vector<ProbeAgentConfig> probe_agents;  // the other sites' agents
  bool unsafe_single_vantage = false;          // allow one site's word (a quorum of 1)
  std::optional<Duration> confirm_for;
  std::optional<Duration> hold_down;
  std::optional<Duration> failed_run_backoff;
  std::optional<Duration> cycle_interval;
  std::string state_dir;     // resolved against the config's directory; empty: default
  std::string events_topic;  // empty: "controller"
  // lease
  std::optional<ListenAddress> lease_listen;
  std::optional<Duration> lease_duration;
  std::optional<Duration> lease_safety_margin;
  // leader_election: several controllers, the one leading through etcd acts
  // (controller/leader.h); `controller run --etcd` and its flags override.
  std::vector<std::string> etcd_endpoints;  // "http://HOST:PORT"; empty: a single controller
  std::string election_key;                 // empty: /pilotlight/<platform>/leader
  std::optional<Duration> election_ttl;     // whole seconds, 2s-1h
  // etcd's own authentication (etcdctl auth enable): the user pilotlight logs in
  // as and the file holding its password (0600). Empty user: no login.
  std::string election_user;
  std::string election_password_file;
  // gates
  bool gate_replica_streaming = true;
  bool gate_replica_lag = true;
  bool gate_release = true;         // false: `release: false`
  std::string release_name;         // empty: the controller decides
  std::string release_bucket;
  bool gate_compute = true;
  bool gate_dns = true;
  // dns
  std::string dns_record;     // empty: "api"
  std::string zone_file;      // resolved; empty: default
  std::string overrides_file; // resolved; empty: default
  // compute
  std::string compute_provider = "lab";  // lab | exec
  ExecComputeConfig exec;
  std::vector<ScalingConfig> scaling;
  SourceLocation where;
};

// One row of the DR responsibility matrix (`responsibilities:`), which
// `pilotlight calendar` turns into "last done, next due, overdue".
struct Responsibility {
  std::string task;       // e.g. "DR testing"; unique in the file
  std::string owner;      // e.g. "DevOps"
  std::string frequency;  // daily | weekly | monthly | quarterly | biannually | annually | continuous
  std::string kind;       // a drill scenario (done when that drill passes) or "manual"
  SourceLocation where;
};

struct Config {
  std::string file;           // path the config was read from, as given
  std::string platform;       // platform name, e.g. "trading-lab"
  std::vector<RegionSpec> regions;
  Objectives objectives;
  ReplicationSpec replication;
  CostSpec cost;
  // `health_checks`, `alarms`, `topics` and `detection.alarm_evaluation_interval`.
  // Relative file paths in it (file subscribers) are resolved against the
  // directory of the config file. Empty checks: the commands derive defaults.
  health::DetectionSpec detection;
  std::vector<SecretReference> webhook_secrets;
  DnsSpec dns;
  ControllerConfig controller;
  // `runbooks:`; empty when absent (the controller keeps its built-in ones).
  std::vector<RunbookConfig> runbooks;
  // `responsibilities:`; empty when absent.
  std::vector<Responsibility> responsibilities;
  // `secrets_dir:` (absolute once loaded); empty when absent. See ApplySecretsDir.
  std::string secrets_dir;

  // REQUIRES: a validated Config (exactly one region of each role).
  const RegionSpec& Primary() const;
  const RegionSpec& Dr() const;
  // nullptr when no region has that name.
  const RegionSpec* FindRegion(const std::string& name) const;
  // nullptr when no runbook has that name.
  const RunbookConfig* FindRunbook(const std::string& name) const;
  // The site the controller runs in: controller.site, else "witness".
  std::string ControllerSite() const;
  // The probe agents the controller asks for votes: controller.probe_agents, or,
  // when it lists none, one in the DR region at <DR address>:kDefaultProbeAgentPort.
  std::vector<ProbeAgentConfig> ProbeAgents() const;
};

inline constexpr uint16_t kDefaultProbeAgentPort = 7410;

// Credential files by convention: every password file the config leaves empty
// is taken from `dir` when the file there exists, by name:
//   <region>.postgres.<role>.password   admin, application and replication roles
//   <region>.redis.password
// (the lab writes them, 0600, into <lab dir>/secrets; `secrets_dir:` names such a
// directory for any platform). Then each PostgreSQL health check without a
// password file gets the one of the role it logs in as, found by the region it
// probes (address and port). An empty `dir`, or one that does not exist, fills
// only the health checks. Never reads a file: only its existence is checked.
void ApplySecretsDir(Config& config, const std::string& dir);
// A PostgreSQL check's password file and TLS settings, when it has none, from
// the region it probes (by address and port) and the role it logs in as.
void PostgresCheckCredentials(const Config& config, health::CheckSpec& check);
// "<dir>/<region>.postgres.<role>.password", "<dir>/<region>.redis.password".
std::string PostgresSecretFile(const std::string& dir, const std::string& region,
                               const std::string& role);
std::string RedisSecretFile(const std::string& dir, const std::string& region);

}  // namespace pilotlight::config
