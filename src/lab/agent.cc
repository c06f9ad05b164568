// The region agent: it writes the replication heartbeat and keeps the primary's
// write lease. Once a controller runs for the lab (it publishes its lease
// endpoint in <lab dir>/controller/lease.endpoint), the agent renews the lease,
// signed with the lab's lease secret (<lab dir>/controller/lease.secret, written
// by the lab before it starts an agent), and fences its own PostgreSQL when it
// cannot: the half of "never two writable primaries" that still works when the
// primary region is cut off from everyone.
// It is also the region's local supervisor: a node-group instance that crashed
// is started again (Lab::RestartCrashedInstances), the way an auto-scaling
// group replaces a failed instance.
#include <signal.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "controller/lease_http.h"
#include "core/clock.h"
#include "core/duration.h"
#include "core/log.h"
#include "data/postgres/region_database.h"
#include "lab/lab.h"

namespace pilotlight::lab {
namespace {

std::atomic<bool> g_stop{false};

void OnSignal(int) { g_stop.store(true); }

// Sleeps up to `d`, waking early on a stop request.
void SleepUnlessStopped(Duration d) {
  Clock& clock = SystemClock::Instance();
  const MonoTime until = clock.Monotonic() + d;
  while (!g_stop.load() && clock.Monotonic() < until) {
    clock.SleepFor(std::chrono::milliseconds(20));
  }
}

std::string ReadEndpoint(const std::string& path) {
  std::ifstream in(path);
  std::string endpoint;
  std::getline(in, endpoint);
  while (!endpoint.empty() && (endpoint.back() == ' ' || endpoint.back() == '\r')) {
    endpoint.pop_back();
  }
  return endpoint;
}

// Keeps the write lease with whichever controller endpoint the lab publishes;
// restarts the keeper when a restarted controller publishes a new one. Without
// any controller (a bare `lab up`) there is no lease to keep and nothing fenced.
void KeepLease(const std::string& endpoint_file, const std::string& secret_file,
               const std::string& region, const pg::Endpoint& database,
               const std::optional<pg::LocalServer>& local_server) {
  std::string current;
  std::atomic<bool> keeper_stop{false};
  std::thread keeper;
  auto stop_keeper = [&] {
    if (!keeper.joinable()) return;
    keeper_stop.store(true);
    keeper.join();
    keeper_stop.store(false);
  };
  while (!g_stop.load()) {
    const std::string endpoint = ReadEndpoint(endpoint_file);
    if (!endpoint.empty() && endpoint != current) {
      stop_keeper();
      current = endpoint;
      LogInfo("agent: keeping the write lease of region " + region + " with controller " +
              endpoint);
      controller::LeaseKeeperOptions options;
      options.controller = endpoint;
      options.holder = region;
      options.secret_file = secret_file;
      options.database = database;
      // On the server's own host: a SQL fence that cannot finish well inside
      // the lease (slots full, backends frozen) is replaced by killing it.
      options.local_server = local_server;
      options.sql_fence_budget = std::chrono::milliseconds(800);
      keeper = std::thread([options, &keeper_stop] {
        controller::LeaseEffects effects =
            controller::PostgresLeaseEffects(options, SystemClock::Instance());
        controller::RunLeaseKeeper(options, effects, SystemClock::Instance(), keeper_stop);
      });
    }
    SleepUnlessStopped(std::chrono::seconds(1));
  }
  stop_keeper();
}

// The region's local supervisor: crashed node-group instances start again.
void Supervise(const config::Config& config, const std::string& region,
               const std::string& lab_dir) {
  std::error_code ec;
  const std::string self = std::filesystem::read_symlink("/proc/self/exe", ec).string();
  if (ec) {
    LogWarn("agent: cannot find its own binary (" + ec.message() + "); no supervision");
    return;
  }
  Lab lab(config, lab_dir, self);
  std::vector<std::string> stale;
  while (!g_stop.load()) {
    Result<std::vector<std::string>> restarted = lab.RestartCrashedInstances(region, &stale);
    if (!restarted.ok()) LogWarn("agent: supervision: " + restarted.status().ToString());
    SleepUnlessStopped(std::chrono::milliseconds(500));
  }
}

}  // namespace

int RunAgent(const config::Config& config, const std::string& region_name,
             const std::string& lab_dir) {
  const config::RegionSpec* region = config.FindRegion(region_name);
  if (region == nullptr) {
    LogError("agent: no region named '" + region_name + "' in " + config.file);
    return 2;
  }
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);

  const pg::Endpoint endpoint = pg::RegionDatabase(*region);
  const Duration interval = config.replication.heartbeat_interval;
  LogInfo("agent for region " + region_name + ": heartbeat every " + FormatDuration(interval) +
          " to " + endpoint.ToString());

  std::optional<pg::LocalServer> local;
  {
    std::error_code ec;
    const std::string self = std::filesystem::read_symlink("/proc/self/exe", ec).string();
    Result<std::optional<sys::RunAs>> user = sys::ServerUser("postgres");
    if (!ec && user.ok()) {
      Lab lab(config, lab_dir, self);
      local.emplace();
      local->data_dir = lab.PostgresDataDir(*region);
      local->pid_file = lab.PostgresPidFile(*region);
      local->log_file = lab.PostgresLogFile(*region);
      local->user = *user;
      local->endpoint = endpoint;
    } else {
      LogWarn(
          "agent: cannot describe the region's PostgreSQL server; a lost lease is fenced "
          "through SQL only");
    }
  }
  std::thread lease(KeepLease, lab_dir + "/controller/lease.endpoint",
                    lab_dir + "/controller/lease.secret", region_name, endpoint, local);
  std::thread supervisor(Supervise, std::cref(config), region_name, lab_dir);

  std::unique_ptr<pg::Connection> conn;
  std::string last_error;
  while (!g_stop.load()) {
    const MonoTime started = SystemClock::Instance().Monotonic();
    if (!conn) {
      Result<std::unique_ptr<pg::Connection>> opened = pg::Connection::Open(endpoint);
      if (opened.ok()) {
        conn = std::move(*opened);
        Status table = pg::EnsureHeartbeatTable(*conn);
        if (!table.ok()) LogWarn("agent: " + table.ToString());
      }
      else if (opened.status().message() != last_error) {
        last_error = opened.status().message();
        LogWarn("agent: " + last_error);
      }
    }
    if (conn) {
      Status st = pg::WriteHeartbeat(*conn, region_name);
      if (!st.ok()) {
        if (st.message() != last_error) LogWarn("agent: heartbeat failed: " + st.message());
        last_error = st.message();
        conn.reset();
      } else if (!last_error.empty()) {
        LogInfo("agent: heartbeat restored");
        last_error.clear();
      }
    }
    const Duration spent = SystemClock::Instance().Monotonic() - started;
    if (spent < interval) SleepUnlessStopped(interval - spent);
  }
  lease.join();
  supervisor.join();
  LogInfo("agent for region " + region_name + ": stopped");
  return 0;
}

}  // namespace pilotlight::lab
