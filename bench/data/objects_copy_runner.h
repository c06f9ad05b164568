// The bench's handle on one build of the bucket replicator (objects_copy_bench.cc):
// objects_copy_runner.cc is compiled once against the working tree's replicator
// and, by objects_copy.sh, once more against an earlier commit's (its namespace
// renamed by the preprocessor), so that both run in one process, side by side.
// Not thread-safe; one runner per source bucket.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace pilotlight::bench {

class CopyRunner {
 public:
  virtual ~CopyRunner() = default;
  // One RunPass; the objects it copied, or -1 with `error` set.
  virtual int64_t Pass(std::string* error) = 0;
};

// A replicator (change feed on) from `root`/src to `root`/dst, state in
// `root`/state; `sidecar` asks for sidecar files where the build has the option.
std::unique_ptr<CopyRunner> MakeCurrentRunner(const std::string& root, bool sidecar,
                                              std::string* error);
std::unique_ptr<CopyRunner> MakeBaselineRunner(const std::string& root, bool sidecar,
                                               std::string* error);

}  // namespace pilotlight::bench
