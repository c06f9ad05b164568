// ControllerSpec: everything the controller needs to know about the platform it
// protects, as plain values: its policy, the check whose vantage points vote on
// the primary, the databases, the DNS record to switch, the DR node groups, the
// release to look for, its runbooks and its write-lease settings.
//
// DefaultLabSpec() builds the spec from a platform config and a lab directory:
// the config's `controller:` and `runbooks:` sections when present, its
// health_checks and DNS zones when present, and otherwise defaults derived the
// way `pilotlight watch` derives its checks.
// Plain values: thread-compatible. DefaultFailoverRunbook is pure.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "compute/node_group.h"
#include "config/model.h"
#include "core/clock.h"
#include "core/status.h"
#include "data/postgres/local_server.h"
#include "data/postgres/pg_client.h"
#include "decide/decision.h"
#include "health/check.h"
#include "notify/notify.h"
#include "runbook/executor.h"

namespace pilotlight::controller {

// The DNS record a failover switches, in the zone file `pilotlight dns serve` reads,
// and the external servers (`dns.publishers`) that must answer the same once it is
// switched (controller/dns_publishers.h).
struct DnsTarget {
  std::string zone_file;       // YAML zone file (dns/zonefile)
  std::string overrides_file;  // the routing overrides `dns serve` re-reads
  std::string record = "api";  // relative to the zone's origin, or absolute
  std::vector<config::DnsPublisherSpec> publishers;  // TSIG secrets read when used
};

// The release DR must hold (release readiness gate); empty name: not checked.
struct ReleaseTarget {
  std::string name;
  std::string primary_bucket;
  std::string dr_bucket;
};

// How the controller scales node groups (`controller.compute`).
struct ComputeTarget {
  std::string provider = "lab";  // lab | exec
  config::ExecComputeConfig exec;
  std::vector<config::ScalingConfig> scaling;
};

// A bucket both regions hold (objects replication), by region name.
struct SharedBucket {
  std::string name;
  std::map<std::string, std::string> dir_by_region;
  // The replicator checkpoint of the copy from region X to Y:
  // <state_root>/<name>.X-to-Y (the layout of data/rpo, so its lag readers see it).
  std::string state_root;
};

// A site's probe agent (`pilotlight probe run`), which serves that site's
// observations at http://address:port/observations.
struct ProbeAgentTarget {
  std::string site;
  std::string address;
  uint16_t port = 0;
  std::string ToString() const;  // "127.0.2.1:7410"
};

struct ControllerSpec {
  std::string platform;
  decide::Policy policy;
  std::string primary_region;
  std::string dr_region;
  // The check whose vantage points vote on the primary (e.g. "primary-postgres").
  // Every one of its vantage points has a site; those of `site` are probed in
  // process, the others by their site's probe agent.
  std::string primary_check;
  std::vector<health::CheckSpec> checks;
  std::string site = "witness";  // where this controller runs (config.ControllerSite())
  std::vector<ProbeAgentTarget> probe_agents;  // every other site that votes has one
  Duration agent_timeout = std::chrono::milliseconds(300);  // one fetch of a site's votes
  std::vector<notify::TopicSpec> topics;
  std::string events_topic = "controller";  // decisions and step start/end go here
  pg::Endpoint primary_db;
  pg::Endpoint dr_db;
  std::string standby_name;  // the DR standby's application_name
  DnsTarget dns;
  std::vector<compute::NodeGroupSpec> node_groups;  // every region's
  ComputeTarget compute;
  ReleaseTarget release;
  std::vector<runbook::RunbookSpec> runbooks;  // the first named failover_runbook is used
  std::string failover_runbook = "failover";
  std::string failback_runbook = "failback";  // run by `pilotlight failback`, never automatically
  // The data directories of the regions' PostgreSQL servers, by region name, for
  // the steps that need more than SQL (rejoin: pg_rewind, pg_basebackup). Filled
  // by the caller that knows where they are (the lab); empty otherwise.
  std::map<std::string, pg::LocalServer> local_databases;
  std::vector<SharedBucket> shared_buckets;  // every bucket both regions hold
  // Write lease: where the controller listens for renewals ("" = no lease server).
  std::string lease_listen;
  Duration lease_duration = std::chrono::seconds(6);
  Duration cycle_interval = std::chrono::milliseconds(500);
  // After a failover run failed, wait this long before the next automatic attempt.
  Duration failed_run_backoff = std::chrono::seconds(30);
  std::string state_dir;  // journal, lease state, status, requests, events

  const runbook::RunbookSpec* FindRunbook(const std::string& name) const;
  const ProbeAgentTarget* FindProbeAgent(const std::string& site) const;
  // The checks this controller probes itself: vantage points of other sites left
  // out (a check left with none is probed once from here, as "local").
  std::vector<health::CheckSpec> LocalChecks() const;
  const compute::NodeGroupSpec* FindNodeGroup(const std::string& region,
                                              const std::string& group) const;
  std::string JournalPath() const { return state_dir + "/journal.db"; }
  std::string LeaseStatePath() const { return state_dir + "/lease"; }
  std::string LeaseEndpointPath() const { return state_dir + "/lease.endpoint"; }
  std::string StatusPath() const { return state_dir + "/status.json"; }
  // The observer's memory of the primary (its WAL positions, whether the replica
  // streamed), for the next process (snapshot.h, ObserverMemoryToJson).
  std::string ObserverMemoryPath() const { return state_dir + "/observer-memory.json"; }
  std::string EventsPath() const { return state_dir + "/events.jsonl"; }
  std::string RequestsDir() const { return state_dir + "/requests"; }
  std::string LockPath() const { return state_dir + "/runbook.lock"; }
};

// Knobs of the derived spec (flags of `pilotlight controller run`).
struct LabSpecOptions {
  decide::Mode mode = decide::Mode::kAutomatic;
  Duration probe_interval = std::chrono::milliseconds(500);
  int failure_threshold = 3;
  int success_threshold = 2;
  int vantages = 3;
  Duration confirm_for = std::chrono::seconds(1);
  Duration hold_down = std::chrono::minutes(10);
  std::string lease_listen = "127.0.0.1:0";
  Duration lease_duration = std::chrono::seconds(6);
  std::string webhook;  // also publish controller events here
  // The flags the operator gave (e.g. "--mode"), which override the config's
  // `controller:` section. nullopt: not known; then an option that differs from
  // its default above counts as given.
  std::optional<std::set<std::string>> given;
};

// The seed's failover runbook: scale up the DR node groups (waiting until their
// instances answer), fence the old primary, promote the DR replica, wait until
// the DR instances are ready (they are once their database takes writes), point
// the DNS record at DR, notify.
runbook::RunbookSpec DefaultFailoverRunbook(const config::Config& config,
                                            const std::string& dns_record,
                                            const std::string& events_topic);

// The failback runbook (`pilotlight failback`; never run by the controller):
//  1. reverse replication: rejoin the old primary's PostgreSQL as a streaming
//     standby of DR (pg_rewind, else pg_basebackup), copy DR's objects back;
//  2. validate the primary: it streams with lag under
//     replication.max_lag_on_failover, its node groups at production size and
//     answering;
//  3. planned switchover, zero data loss: fence DR, wait until the primary has
//     replayed DR's last WAL position, promote the primary, verify it writes;
//     copy the objects DR took meanwhile, wait until the primary's instances
//     are ready;
//  4. shift traffic back: weighted records in steps (25/50/100 % by default),
//     a failover record pointed back at the primary;
//  5. rejoin DR's PostgreSQL as a standby of the primary (pilot light restored),
//     scale DR's node groups back to pilot-light size, notify.
runbook::RunbookSpec DefaultFailbackRunbook(const config::Config& config,
                                            const std::string& dns_record,
                                            const std::string& events_topic);

// A spec for the lab in `lab_dir` (state in <lab_dir>/controller, DNS files in
// <lab_dir>/dns, ...). Votes come from independent sites: when the primary
// check names no site for any of its vantage points, they are the controller's
// and a vantage point "<dr>" in the DR region (probed by DR's probe agent, from
// DR's address) is added, so the primary is never declared dead from one
// process. A site other than the controller's without a probe agent is an error.
//
// A spec for the lab in `lab_dir` (state in <lab_dir>/controller, DNS files in
// <lab_dir>/dns, unless `controller:` names others). Reads whether the primary
// records a running release (the release gate is off otherwise, unless
// `controller.gates.release` names one); writes nothing. A `runbooks.failover`
// replaces DefaultFailoverRunbook, a `runbooks.failback` DefaultFailbackRunbook;
// other runbooks are added beside them. local_databases is left empty (the
// caller knows where the data directories are).
Result<ControllerSpec> DefaultLabSpec(const config::Config& config, const std::string& lab_dir,
                                      const LabSpecOptions& options);

// The checks a probe agent of `site` runs: every check with a vantage point in
// that site, with only those vantage points and no topics (an agent reports
// observations, it does not notify). A vantage point without a site is in
// `controller_site`. Calculated checks are left out.
std::vector<health::CheckSpec> ChecksProbedFrom(const std::vector<health::CheckSpec>& checks,
                                                const std::string& site,
                                                const std::string& controller_site);

// The zone file the lab's DNS serves when none exists: the config's dns.zones
// when it has some, else one where `record` fails over from the primary
// region's address to DR's. Text of a YAML zone file.
std::string DefaultLabZone(const config::Config& config, const std::string& record);

}  // namespace pilotlight::controller
