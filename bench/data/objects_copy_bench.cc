// What the bucket replicator costs per object copied, for the trader's
// confirmations: small objects written as the trader writes them (a temporary
// file in the bucket's .pilotlight/incoming, then a rename to
// trade-<20 digits>.json at the top of the bucket), replicated by the change
// feed's passes as they arrive.
//
//   pl_bench_objects_copy [OBJECTS=20000] [SIZE=300] [BURST=500]
//
// Each variant of the replicator gets its own buckets: the working tree's
// (metadata in an extended attribute), the same with `sidecar_metadata` (what a
// file system without extended attributes gets), and, when objects_copy.sh
// linked it in, an earlier commit's ("before"). OBJECTS/BURST rounds: BURST
// objects of SIZE bytes are written into every variant's source bucket, then
// each variant runs one pass (RunPass: the feed's report, a stat per reported
// key, the copies, two syncfs and the checkpoint), in an order that rotates from
// round to round. Only the passes are measured: the process's CPU seconds (user
// + system, getrusage) over the objects copied. The variants share the process,
// the file system and the moment, so what drifts on a shared machine (above
// all, on ext4 without a journal, inodes deleted in the last minutes make every
// inode allocation scan past them) drifts for all of them alike; the figure to
// read is the median over rounds of each round's ratio to "before". Then checks
// that every object arrived intact, and removes the files unless
// PL_BENCH_KEEP_FILES is set. Works under $TMPDIR (default /tmp).
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "core/log.h"
#include "objects_copy_runner.h"
#include "process_cpu.h"

namespace fs = std::filesystem;
using pilotlight::bench::CopyRunner;

namespace {

// As trader::ConfirmationWriter::ObjectName.
std::string Name(int i) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "trade-%020d.json", i);
  return buf;
}

std::string Body(int i, int size) {
  std::string b = "{\"trade\":" + std::to_string(i) + ",\"pad\":\"";
  const int pad = size - static_cast<int>(b.size()) - 2;
  b.append(static_cast<size_t>(pad > 0 ? pad : 0), static_cast<char>('a' + i % 26));
  return b + "\"}";
}

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "%s\n", what.c_str());
  std::exit(1);
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct Variant {
  std::string name;
  std::string root;
  std::unique_ptr<CopyRunner> runner;
  double cpu = 0;
  int64_t copied = 0;
  std::vector<double> round_us;  // CPU per object copied, each round
};

}  // namespace

#ifdef PL_BENCH_BASELINE  // the baseline's name, a string literal
constexpr bool kHaveBaseline = true;
constexpr char kBaselineName[] = "before (" PL_BENCH_BASELINE ")";
#else
constexpr bool kHaveBaseline = false;
constexpr char kBaselineName[] = "";
namespace pilotlight::bench {
std::unique_ptr<CopyRunner> MakeBaselineRunner(const std::string&, bool, std::string*) {
  return nullptr;
}
}  // namespace pilotlight::bench
#endif

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 20'000;
  const int size = argc > 2 ? std::atoi(argv[2]) : 300;
  const int burst = argc > 3 ? std::max(1, std::atoi(argv[3])) : 500;
  pilotlight::InitLogging(pilotlight::LogLevel::kWarn);
  const char* tmpdir = std::getenv("TMPDIR");
  std::string tmpl = std::string(tmpdir != nullptr && *tmpdir ? tmpdir : "/tmp") +
                     "/pilotlight-objcopy-bench-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) Die("cannot make a directory like " + tmpl);
  const std::string root = tmpl;

  std::vector<Variant> variants;
  auto add = [&](const std::string& name, const std::string& dir, bool baseline, bool sidecar) {
    Variant v;
    v.name = name;
    v.root = root + "/" + dir;
    fs::create_directories(v.root + "/src/.pilotlight/incoming");
    std::string error;
    v.runner = baseline ? pilotlight::bench::MakeBaselineRunner(v.root, sidecar, &error)
                        : pilotlight::bench::MakeCurrentRunner(v.root, sidecar, &error);
    if (!v.runner) Die(name + ": " + error);
    if (std::string e; v.runner->Pass(&e) < 0) Die(name + ": " + e);  // first pass: empty
    variants.push_back(std::move(v));
  };
  if (kHaveBaseline) add(kBaselineName, "before", true, false);
  add("after", "after", false, false);
  add("after, sidecar files", "after-sidecar", false, true);

  int round = 0;
  for (int start = 0; start < n; start += burst, ++round) {
    const int end = std::min(n, start + burst);
    for (int i = start; i < end; ++i) {
      for (const Variant& v : variants) {
        const std::string tmp = v.root + "/src/.pilotlight/incoming/" + Name(i) + ".tmp";
        std::ofstream(tmp, std::ios::binary) << Body(i, size);
        if (std::rename(tmp.c_str(), (v.root + "/src/" + Name(i)).c_str()) != 0) {
          Die("cannot rename " + tmp);
        }
      }
    }
    for (size_t k = 0; k < variants.size(); ++k) {
      Variant& v = variants[(k + static_cast<size_t>(round)) % variants.size()];
      std::string error;
      const double c0 = pilotlight::bench::ProcessCpuSeconds();
      const int64_t copied = v.runner->Pass(&error);
      const double cpu = pilotlight::bench::ProcessCpuSeconds() - c0;
      if (copied < 0) Die(v.name + ": " + error);
      v.cpu += cpu;
      v.copied += copied;
      if (copied > 0) v.round_us.push_back(1e6 * cpu / static_cast<double>(copied));
    }
  }
  for (const Variant& v : variants) {
    if (v.copied != n)
      Die(v.name + ": copied " + std::to_string(v.copied) + " of " + std::to_string(n));
    for (int i = 0; i < n; ++i) {
      std::ifstream in(v.root + "/dst/" + Name(i), std::ios::binary);
      const std::string got((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (got != Body(i, size)) Die(v.name + ": object " + std::to_string(i) + " is not intact");
    }
  }

  std::printf("objects %d x %d B per variant, %d rounds of %d (one pass each)\n", n, size, round,
              burst);
  for (const Variant& v : variants) {
    std::printf(
        "%-24s CPU %7.3f s  %7.1f us/object  (rounds: median %6.1f, min %6.1f, max %6.1f)\n",
        v.name.c_str(), v.cpu, 1e6 * v.cpu / static_cast<double>(v.copied), Median(v.round_us),
        *std::min_element(v.round_us.begin(), v.round_us.end()),
        *std::max_element(v.round_us.begin(), v.round_us.end()));
  }
  if (kHaveBaseline) {
    const Variant& base = variants[0];
    for (size_t k = 1; k < variants.size(); ++k) {
      const Variant& v = variants[k];
      std::vector<double> ratios;
      for (size_t r = 0; r < std::min(v.round_us.size(), base.round_us.size()); ++r) {
        ratios.push_back(v.round_us[r] / base.round_us[r]);
      }
      std::printf("%s / before: total %.2f, median of the rounds' ratios %.2f\n", v.name.c_str(),
                  v.cpu / base.cpu, Median(ratios));
    }
  }
  if (std::getenv("PL_BENCH_KEEP_FILES") == nullptr) fs::remove_all(root);
  return 0;
}
