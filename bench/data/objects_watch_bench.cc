// What an idle bucket replicator costs, with and without its change feed, and
// how soon a new object reaches the DR bucket.
//
//   pl_bench_objects_watch [OBJECTS=50000] [IDLE_SECONDS=20] [SAMPLES=20]
//
// Makes OBJECTS small objects (in directories of 500), replicates them once, then
// for each mode (a full scan every pass, as before the feed; the change feed)
// runs BucketReplicator::Run with the lab's 200 ms pass interval in a thread for
// IDLE_SECONDS with nothing changing and prints the process's CPU seconds (user +
// system; the main thread only sleeps meanwhile) and their ratio. Then, with the
// replicator still running, writes SAMPLES objects the way the trader does
// (temporary file, then rename) and prints how long each took from its rename to
// its copy appearing in the DR bucket (polled every 200 us).
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/log.h"
#include "data/objects/replicator.h"
#include "process_cpu.h"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using pilotlight::SystemClock;
using pilotlight::objects::BucketReplicator;
using pilotlight::objects::ReplicatorOptions;

namespace {

struct ModeResult {
  double cpu = 0;
  std::vector<double> latency_ms;
};

ModeResult RunMode(const ReplicatorOptions& options, int idle_seconds, int samples,
                   const std::string& tag) {
  auto r = BucketReplicator::Open(options, SystemClock::Instance());
  if (!r.ok()) {
    std::fprintf(stderr, "%s\n", r.status().ToString().c_str());
    std::exit(1);
  }
  // The first pass of a replicator is a full scan in both modes: not measured.
  auto first = (*r)->RunPass();
  if (!first.ok() || first->copied != 0) {
    std::fprintf(stderr, "unexpected first pass\n");
    std::exit(1);
  }
  std::atomic<bool> stop{false};
  ModeResult out;
  const double cpu0 = pilotlight::bench::ProcessCpuSeconds();
  std::thread runner([&] { (*r)->Run(stop, 200ms); });
  std::this_thread::sleep_for(std::chrono::seconds(idle_seconds));
  out.cpu = pilotlight::bench::ProcessCpuSeconds() - cpu0;

  for (int i = 0; i < samples; ++i) {
    const std::string key = "latency/" + tag + "-" + std::to_string(i) + ".json";
    const std::string tmp =
        options.source_dir + "/latency/." + tag + "-" + std::to_string(i) + ".tmp";
    fs::create_directories(options.source_dir + "/latency");
    std::ofstream(tmp) << "{\"trade\":" << i << "}";
    const auto t0 = std::chrono::steady_clock::now();
    fs::rename(tmp, options.source_dir + "/" + key);
    const std::string dst = options.dest_dir + "/" + key;
    while (!fs::exists(dst)) {
      if (std::chrono::steady_clock::now() - t0 > 30s) {
        std::fprintf(stderr, "%s was not replicated within 30 s\n", key.c_str());
        std::exit(1);
      }
      std::this_thread::sleep_for(200us);
    }
    out.latency_ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    // Apart from each other, so that each waits for its own pass.
    std::this_thread::sleep_for(250ms);
  }
  stop = true;
  runner.join();
  return out;
}

void PrintLatency(const char* name, std::vector<double> v) {
  std::sort(v.begin(), v.end());
  if (v.empty()) return;
  std::printf("%-22s rename -> DR copy: p50 %7.1f ms  max %7.1f ms  (%zu objects)\n", name,
              v[v.size() / 2], v.back(), v.size());
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 50'000;
  const int idle = argc > 2 ? std::atoi(argv[2]) : 20;
  const int samples = argc > 3 ? std::atoi(argv[3]) : 20;
  pilotlight::InitLogging(pilotlight::LogLevel::kWarn);  // not a line per pass
  char tmpl[] = "/tmp/pilotlight-objwatch-bench-XXXXXX";
  const std::string root = mkdtemp(tmpl);
  ReplicatorOptions o;
  o.source_dir = root + "/src";
  o.dest_dir = root + "/dst";
  o.state_dir = root + "/state";
  o.origin = "primary";
  std::fprintf(stderr, "making %d objects in %s\n", n, o.source_dir.c_str());
  for (int i = 0; i < n; ++i) {
    const std::string dir = o.source_dir + "/t" + std::to_string(i / 500);
    if (i % 500 == 0) fs::create_directories(dir);
    std::ofstream(dir + "/" + std::to_string(i) + ".json") << "{\"trade\":" << i << "}";
  }
  {
    ReplicatorOptions once = o;
    once.full_rescan_every_pass = true;
    auto r = BucketReplicator::Open(once, SystemClock::Instance());
    auto pass =
        r.ok() ? (*r)->RunPass() : pilotlight::Result<pilotlight::objects::PassStats>(r.status());
    if (!pass.ok() || pass->copied != n) {
      std::fprintf(stderr, "initial replication failed\n");
      return 1;
    }
    std::fprintf(stderr, "replicated %d objects; measuring %d s idle per mode\n", n, idle);
  }
  ReplicatorOptions full = o;
  full.full_rescan_every_pass = true;
  const ModeResult a = RunMode(full, idle, samples, "full");
  const ModeResult b = RunMode(o, idle, samples, "feed");
  std::printf("objects %d, idle %d s per mode, pass interval 200 ms\n", n, idle);
  std::printf("full scan every pass  CPU %7.3f s  (%5.1f%% of a core)\n", a.cpu,
              100 * a.cpu / idle);
  std::printf("change feed           CPU %7.3f s  (%5.1f%% of a core)\n", b.cpu,
              100 * b.cpu / idle);
  std::printf("full / feed: x%.0f\n", b.cpu > 0 ? a.cpu / b.cpu : 0.0);
  PrintLatency("full scan every pass", a.latency_ms);
  PrintLatency("change feed", b.latency_ms);
  fs::remove_all(root);
  return 0;
}
