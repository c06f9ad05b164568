// The region agent: today it writes the replication heartbeat; later issues give
// it the primary's write lease.
#include <signal.h>

#include <atomic>
#include <thread>

#include "core/clock.h"
#include "core/duration.h"
#include "core/log.h"
#include "lab/lab.h"

namespace pilotlight::lab {
namespace {

std::atomic<bool> g_stop{false};

void OnSignal(int) { g_stop.store(true); }

// Sleeps up to `d`, waking early on a stop request.
void SleepUnlessStopped(Duration d) {
  const auto until = std::chrono::steady_clock::now() + d;
  while (!g_stop.load() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace

int RunAgent(const config::Config& config, const std::string& region_name) {
  const config::RegionSpec* region = config.FindRegion(region_name);
  if (region == nullptr) {
    LogError("agent: no region named '" + region_name + "' in " + config.file);
    return 2;
  }
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);

  pg::Endpoint endpoint;
  endpoint.host = region->address;
  endpoint.port = region->postgres.port;
  endpoint.database = region->postgres.database;
  const Duration interval = config.replication.heartbeat_interval;
  LogInfo("agent for region " + region_name + ": heartbeat every " + FormatDuration(interval) +
          " to " + endpoint.ToString());

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
  LogInfo("agent for region " + region_name + ": stopped");
  return 0;
}

}  // namespace pilotlight::lab
