// What the bucket replicator costs per object copied, for the trader's
// confirmations: small objects written as the trader writes them (temporary
// file, then rename, all in one directory), replicated by the change feed's
// passes as they arrive.
//
//   pl_bench_objects_copy [OBJECTS=20000] [SIZE=300] [BURST=500] [sidecar]
//
// Opens a BucketReplicator (change feed on, as in the lab) over an empty source,
// then OBJECTS/BURST times: writes BURST objects of SIZE bytes and runs one pass
// (RunPass: the feed's report, a stat per reported key, the copies, two syncfs
// and the checkpoint). Only the passes are measured: the process's CPU seconds
// (user + system, getrusage) divided by the objects copied, and their wall time.
// Then checks that every object arrived intact, and removes its files unless
// PL_BENCH_KEEP_FILES is set (objects_copy.sh sets it and removes them all at the
// end: on ext4 without a journal, inodes deleted in the last minutes make the
// next inode allocations scan past them, so one run's clean-up would tax the
// next run's copies). Works under $TMPDIR (default /tmp). "sidecar" keeps the metadata in
// sidecar files (ReplicatorOptions::sidecar_metadata), as a file system without
// extended attributes does. bench/data/objects_copy.sh runs this against the same
// bench built from an earlier commit, in one command.
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "core/clock.h"
#include "core/log.h"
#include "data/objects/replicator.h"

namespace fs = std::filesystem;
using pilotlight::SystemClock;
using pilotlight::objects::BucketReplicator;
using pilotlight::objects::ReplicatorOptions;

namespace {

struct Cpu {
  double user = 0;
  double sys = 0;
};

Cpu CpuNow() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return {static_cast<double>(u.ru_utime.tv_sec) + static_cast<double>(u.ru_utime.tv_usec) / 1e6,
          static_cast<double>(u.ru_stime.tv_sec) + static_cast<double>(u.ru_stime.tv_usec) / 1e6};
}

std::string Body(int i, int size) {
  std::string b = "{\"trade\":" + std::to_string(i) + ",\"pad\":\"";
  const int pad = size - static_cast<int>(b.size()) - 2;
  b.append(static_cast<size_t>(pad > 0 ? pad : 0), static_cast<char>('a' + i % 26));
  return b + "\"}";
}

void Die(const std::string& what) {
  std::fprintf(stderr, "%s\n", what.c_str());
  std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 20'000;
  const int size = argc > 2 ? std::atoi(argv[2]) : 300;
  const int burst = argc > 3 ? std::max(1, std::atoi(argv[3])) : 500;
  const bool sidecar = argc > 4 && std::strcmp(argv[4], "sidecar") == 0;
  pilotlight::InitLogging(pilotlight::LogLevel::kWarn);
  const char* tmpdir = std::getenv("TMPDIR");
  std::string tmpl = std::string(tmpdir != nullptr && *tmpdir ? tmpdir : "/tmp") +
                     "/pilotlight-objcopy-bench-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) Die("cannot make a directory like " + tmpl);
  const std::string root = tmpl;
  ReplicatorOptions o;
  o.source_dir = root + "/src";
  o.dest_dir = root + "/dst";
  o.state_dir = root + "/state";
  o.origin = "primary";
  if (sidecar) {
#ifdef PL_OBJECTS_HAVE_SIDECAR_OPTION
    o.sidecar_metadata = true;
#else
    Die("this build has no sidecar option (it always writes sidecar files)");
#endif
  }
  const std::string dir = o.source_dir + "/confirmations";
  fs::create_directories(dir);
  auto r = BucketReplicator::Open(o, SystemClock::Instance());
  if (!r.ok()) Die(r.status().ToString());
  if (auto first = (*r)->RunPass(); !first.ok()) Die(first.status().ToString());

  Cpu cpu;
  double wall = 0;
  int64_t copied = 0;
  int64_t full_scans = 0;
  for (int start = 0; start < n; start += burst) {
    for (int i = start; i < std::min(n, start + burst); ++i) {
      const std::string name = "t" + std::to_string(i) + ".json";
      const std::string tmp = dir + "/." + name + ".tmp";
      {
        std::ofstream out(tmp, std::ios::binary);
        out << Body(i, size);
      }
      if (std::rename(tmp.c_str(), (dir + "/" + name).c_str()) != 0) Die("rename " + tmp);
    }
    const Cpu c0 = CpuNow();
    const auto t0 = std::chrono::steady_clock::now();
    auto pass = (*r)->RunPass();
    const auto t1 = std::chrono::steady_clock::now();
    const Cpu c1 = CpuNow();
    if (!pass.ok()) Die(pass.status().ToString());
    if (!pass->alarms.empty()) Die("alarm: " + pass->alarms[0]);
    cpu.user += c1.user - c0.user;
    cpu.sys += c1.sys - c0.sys;
    wall += std::chrono::duration<double>(t1 - t0).count();
    copied += pass->copied;
    full_scans += pass->full_scan ? 1 : 0;
  }
  for (int i = 0; i < n; ++i) {
    std::ifstream in(o.dest_dir + "/confirmations/t" + std::to_string(i) + ".json",
                     std::ios::binary);
    const std::string got((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (got != Body(i, size)) Die("object " + std::to_string(i) + " did not arrive intact");
  }
  if (copied != n) Die("copied " + std::to_string(copied) + " of " + std::to_string(n));
  const double total = cpu.user + cpu.sys;
  std::printf(
      "%s: objects %d x %d B, %d per pass (%lld full scans): CPU user %.3f s sys %.3f s = "
      "%.1f us/object; wall %.1f us/object\n",
      sidecar ? "sidecar files" : "default", n, size, burst, static_cast<long long>(full_scans),
      cpu.user, cpu.sys, 1e6 * total / n, 1e6 * wall / n);
  if (std::getenv("PL_BENCH_KEEP_FILES") == nullptr) fs::remove_all(root);
  return 0;
}
