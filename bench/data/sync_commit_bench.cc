// What synchronous replication costs: commit latency of single-row INSERTs on
// the lab's primary, asynchronous (the default) against synchronous with
// remote_apply to the DR standby (zero data loss: an acknowledged commit is
// already visible on DR). Same server, same table, same session, interleaved in
// rounds so drift on a shared machine hits both modes alike. See README.md.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "data/postgres/failover.h"
#include "data/postgres/pg_client.h"

namespace {

using pilotlight::Result;
using pilotlight::Status;
namespace pg = pilotlight::pg;

struct Summary {
  double mean_ms, p50_ms, p99_ms;
};

Summary Summarize(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  double sum = 0;
  for (double x : v) sum += x;
  return {sum / v.size(), v[v.size() / 2], v[std::min(v.size() - 1, v.size() * 99 / 100)]};
}

// Times `n` autocommit INSERTs on a fresh session (which reads the current settings).
bool TimeCommits(const pg::Endpoint& e, int n, int round, std::vector<double>& out) {
  auto conn = pg::Connection::Open(e);
  if (!conn.ok()) {
    std::fprintf(stderr, "%s\n", conn.status().ToString().c_str());
    return false;
  }
  for (int i = 0; i < n; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    Status st = (*conn)->Exec("INSERT INTO pilotlight_bench_commits (round, note) VALUES (" +
                              std::to_string(round) + ", 'x')");
    const auto t1 = std::chrono::steady_clock::now();
    if (!st.ok()) {
      std::fprintf(stderr, "%s\n", st.ToString().c_str());
      return false;
    }
    out.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr,
                 "usage: %s HOST PORT STANDBY_NAME [COMMITS_PER_ROUND=200] [ROUNDS=5]\n"
                 "  HOST:PORT is the lab primary; STANDBY_NAME its DR standby's application_name\n",
                 argv[0]);
    return 2;
  }
  pg::Endpoint e;
  e.host = argv[1];
  e.port = static_cast<uint16_t>(std::atoi(argv[2]));
  e.database = "trading";
  const std::string standby = argv[3];
  const int per_round = argc > 4 ? std::atoi(argv[4]) : 200;
  const int rounds = argc > 5 ? std::atoi(argv[5]) : 5;

  auto setup = pg::Connection::Open(e);
  if (!setup.ok() || !(*setup)->Exec("CREATE TABLE IF NOT EXISTS pilotlight_bench_commits "
                                     "(id bigserial PRIMARY KEY, round int, note text)")
                          .ok()) {
    std::fprintf(stderr, "cannot prepare the bench table on %s\n", e.ToString().c_str());
    return 1;
  }
  std::vector<double> async_ms, sync_ms;
  for (int r = 0; r < rounds; ++r) {
    if (!pg::SetSynchronousStandby(e, "").ok() || !TimeCommits(e, per_round, r, async_ms)) return 1;
    if (!pg::SetSynchronousStandby(e, standby).ok()) return 1;
    // Wait until the standby is registered as synchronous before timing.
    for (int i = 0; i < 200; ++i) {
      auto q = (*setup)->Query("SELECT sync_state FROM pg_stat_replication WHERE "
                               "application_name = $1", {standby});
      if (q.ok() && !q->empty() && q->Get(0, "sync_state") == "sync") break;
      struct timespec ts {0, 10'000'000};
      nanosleep(&ts, nullptr);
    }
    if (!TimeCommits(e, per_round, r, sync_ms)) return 1;
  }
  (void)pg::SetSynchronousStandby(e, "");
  (void)(*setup)->Exec("DROP TABLE pilotlight_bench_commits");
  const Summary a = Summarize(async_ms);
  const Summary s = Summarize(sync_ms);
  std::printf("commits per mode: %zu (%d rounds of %d, interleaved)\n", async_ms.size(), rounds,
              per_round);
  std::printf("%-28s mean %7.3f ms  p50 %7.3f ms  p99 %7.3f ms\n", "asynchronous", a.mean_ms,
              a.p50_ms, a.p99_ms);
  std::printf("%-28s mean %7.3f ms  p50 %7.3f ms  p99 %7.3f ms\n", "synchronous (remote_apply)",
              s.mean_ms, s.p50_ms, s.p99_ms);
  std::printf("sync/async: mean x%.2f  p50 x%.2f  p99 x%.2f\n", s.mean_ms / a.mean_ms,
              s.p50_ms / a.p50_ms, s.p99_ms / a.p99_ms);
  return 0;
}
