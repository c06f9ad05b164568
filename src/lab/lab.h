// The local two-region lab: the embedded environment every drill runs on.
//
// A Lab owns a state directory and runs, for each region of the config, the
// real servers the pilot-light pattern needs: PostgreSQL 15 (a primary with a
// physical replication slot in the primary region, a streaming hot standby made
// by pg_basebackup in the DR region), Redis, a bucket directory per bucket, in
// the primary region a pilotlight agent that writes the replication heartbeat,
// and the instances of each node group (`pilotlight trader serve`, sharing the
// region's address and the group's port through SO_REUSEPORT): production_size
// of them in the primary region, pilot_light_size in the DR region, unless
// ScaleNodeGroup set another size. The trading schema is created on the primary;
// the standby receives it by replication. On a third site, in neither region,
// runs the embedded DNS server (`pilotlight dns serve --probe`) when the config
// declares dns.zones: it answers the service's name from the health checks and
// the controller's overrides (<dir>/dns/overrides), as Route 53 failover routing
// would.
// Every server listens on its region's address, runs in its own process group and
// is tracked by a pid file, so `up` is idempotent, `down` leaves nothing behind
// and `kill-region` SIGKILLs a region the way an outage would.
//
// A Lab is used by one thread; two Labs with different directories and addresses
// are independent.
#pragma once

#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "config/model.h"
#include "core/status.h"
#include "data/postgres/pg_client.h"
#include "data/postgres/replication.h"
#include "sys/process.h"

namespace pilotlight::lab {

using sys::RunAs;

struct ComponentStatus {
  std::string name;     // "postgres", "redis", "agent", or an instance "<node group>-<n>"
  std::string address;  // "127.0.1.1:5432", or "" when it does not listen
  bool up = false;
  pid_t pid = 0;        // 0 when not running
  std::string detail;   // e.g. "primary", "standby (read-only)", "stale pid file"
};

struct RegionStatus {
  std::string name;
  std::string role;  // configured role: "primary" | "dr"
  std::vector<ComponentStatus> components;
  std::vector<std::string> buckets;  // bucket directories
};

struct LabStatus {
  std::string dir;
  std::string config_file;
  std::vector<RegionStatus> regions;
  // The third site, in neither region (an outage of one leaves it running):
  // the embedded DNS server when the config declares dns.zones.
  std::vector<ComponentStatus> site;
  pg::ReplicationStatus replication;
  bool all_up = false;
};

class Lab {
 public:
  // `dir` is the lab's state directory; `self_exe` is the pilotlight binary the
  // lab runs as its agent.
  Lab(config::Config config, std::string dir, std::string self_exe);

  // Brings every region up. Idempotent: running components are left alone.
  // With `replicators` false, the lab does not run its session and object
  // replicators (for tests and drills that drive replication themselves).
  Status Up(bool replicators = true);
  // Stops every component; with `purge`, also deletes the lab's data.
  Status Down(bool purge);
  LabStatus GetStatus() const;
  // SIGKILLs every process of the region.
  Status KillRegion(const std::string& name);
  // Starts the region's components again in their old roles.
  Status StartRegion(const std::string& name);
  // Sends `signal` to the process group of each running component of the region
  // named `which`: "postgres", "redis", "agent", "replicator", or a node group
  // (all its instances). The pids signalled go to `signalled`; NotFound when
  // none runs. Drills make their faults with it (SIGKILL, SIGSTOP, SIGCONT).
  Status SignalComponents(const std::string& region, const std::string& which, int signal,
                          std::vector<pid_t>* signalled = nullptr);
  // Cuts the region off the network (lab/partition.h): nothing outside reaches
  // it, it reaches neither the other regions nor the third site (the DNS
  // server, the controller's lease at controller.lease.listen, which must then
  // be a third-site address); its processes keep running. Idempotent.
  Status Partition(const std::string& region);
  // Undoes Partition (idempotent).
  Status HealPartition(const std::string& region);
  // Runs `body` in a child process inside the region's partition; its exit code.
  Result<int> RunInPartition(const std::string& region, const std::function<int()>& body);
  // The pids (each its process group's id) of the region's running components.
  std::vector<pid_t> RegionPids(const std::string& region) const;
  // The region's local supervisor (run by its agent): starts again each
  // node-group instance whose process died while its pid file stayed behind
  // (crashed, not stopped), if its pid file was already stale at the previous
  // call (`stale` carries that memory), so an instance being stopped by a
  // scale-down is not raced. Returns the instances restarted.
  Result<std::vector<std::string>> RestartCrashedInstances(const std::string& region,
                                                           std::vector<std::string>* stale);
  // Sets how many instances of a node group run in a region (kept across
  // start-region) and starts or stops instances to match.
  Status ScaleNodeGroup(const std::string& region, const std::string& group, int size);
  // How many instances of the group run in the region when it is up.
  int DesiredSize(const config::RegionSpec& region, const config::NodeGroupSpec& group) const;

  // Where the PostgreSQL data directory of a region lives.
  std::string PostgresDataDir(const config::RegionSpec& region) const;
  // The lab's pid file and log of a region's PostgreSQL.
  std::string PostgresPidFile(const config::RegionSpec& region) const;
  std::string PostgresLogFile(const config::RegionSpec& region) const;
  // Makes the lab's passwords (a random one per PostgreSQL role and per Redis
  // the config names no password file for; 0600 files in <dir>/secrets, kept
  // once made) and fills them into this lab's config. `up` calls it; a drill
  // calls it first to give its own copy of the config the same passwords
  // (config::ApplySecretsDir with <dir>/secrets).
  Status EnsureSecrets();

  // The application database of a region.
  pg::Endpoint PostgresEndpoint(const config::RegionSpec& region,
                                const std::string& database) const;

 private:
  struct Component {
    std::string name;
    std::string pid_file;
    std::string program;  // expected in the process's command line
    std::string address;
    uint16_t port = 0;
    std::string config_field;  // where the port is configured, for errors
    std::string node_group;    // set for node group instances
    bool surplus = false;      // an instance beyond the group's size: stopped, never started
  };

  std::vector<Component> ComponentsOf(const config::RegionSpec& region) const;
  std::vector<Component> SiteComponents() const;
  Status StartSite();
  Status StartDns(const Component& c);
  Status StartProbeAgent(const config::RegionSpec& region, const Component& c);
  std::optional<pid_t> RunningPid(const Component& c) const;
  Status StartRegionComponents(const config::RegionSpec& region);
  Status PreparePostgresRoot();
  // The server users (postgres, redis) and the lab's secrets: a password for
  // each PostgreSQL role and each Redis the config names no password file for,
  // made once (0600 in <dir>/secrets) and then filled into the config.
  Status PrepareServers();
  // The .pgpass file (owned by the postgres user, 0600) beside a region's data
  // directory: passwords of every region's admin and replication roles, for the
  // standby's primary_conninfo and pg_basebackup. Empty when no role has one.
  Result<std::string> WriteServerPassfile(const config::RegionSpec& region);
  std::string RedisDir(const config::RegionSpec& region) const;
  Status StartPostgres(const config::RegionSpec& region, const Component& c);
  Status InitPrimaryCluster(const config::RegionSpec& region, const std::string& data);
  Status CloneStandby(const config::RegionSpec& region, const std::string& data);
  Status WritePostgresConf(const config::RegionSpec& region, const std::string& data,
                           bool standby);
  Status EnsurePrimaryObjects(const config::RegionSpec& region);
  Status FenceIfSuperseded(const config::RegionSpec& region, const std::string& data);
  Status StartRedis(const config::RegionSpec& region, const Component& c);
  Status StartPilotlightProcess(const config::RegionSpec& region, const Component& c);
  Status StartInstance(const config::RegionSpec& region, const Component& c);
  std::vector<Component> InstancesOf(const config::RegionSpec& region,
                                     const config::NodeGroupSpec& group, int count) const;
  std::string SizeFile(const config::RegionSpec& region, const std::string& group) const;
  Status StopComponent(const Component& c, int signal, Duration grace);
  Status CheckFree(const config::RegionSpec& region, const Component& c) const;
  std::string RegionDir(const config::RegionSpec& region) const;

  config::Config config_;
  std::string dir_;
  std::string self_exe_;
  std::optional<RunAs> pg_user_;
  std::optional<RunAs> redis_user_;
  std::string pg_root_;  // parent of every region's PostgreSQL data directory
};

// Renders a status for people (a table) or for scripts (JSON).
std::string FormatStatusText(const LabStatus& status);
std::string FormatStatusJson(const LabStatus& status);

// The lab's trading accounts (lab_accounts.cc): the load client's default
// accounts, LabLoadAccount(0) .. LabLoadAccount(kLabLoadAccounts - 1) ("load-N"),
// each get an API key once the trading schema exists; the keys are kept, one
// "<account> <key>" a line, in LabApiKeysFile (0600, in a 0700 directory), which
// `pilotlight load --dir` and the drills read. Idempotent: a key the file holds
// and the database verifies is kept, any other account gets a new one.
// REQUIRES: `trading_db` is the writable trading database, as the admin role.
inline constexpr int kLabLoadAccounts = 64;
std::string LabLoadAccount(int n);
std::string LabApiKeysFile(const std::string& lab_dir);
Status EnsureLabApiKeys(pg::Connection& trading_db, const std::string& lab_dir);

// The heartbeat agent of a region: writes a heartbeat to the region's
// PostgreSQL every replication.heartbeat_interval until SIGTERM/SIGINT.
// It also keeps the region's write lease with the lab's controller (see
// agent.cc) once one runs.
int RunAgent(const config::Config& config, const std::string& region, const std::string& lab_dir);

}  // namespace pilotlight::lab
