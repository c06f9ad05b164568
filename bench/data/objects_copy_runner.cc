// CopyRunner over whichever data/objects/replicator.h the include path finds;
// PL_BENCH_RUNNER names the factory (MakeCurrentRunner by default).
#include "objects_copy_runner.h"

#include "core/clock.h"
#include "data/objects/replicator.h"

#ifndef PL_BENCH_RUNNER
#define PL_BENCH_RUNNER MakeCurrentRunner
#endif

namespace pilotlight::bench {
namespace {

class Runner : public CopyRunner {
 public:
  explicit Runner(std::unique_ptr<objects::BucketReplicator> r) : r_(std::move(r)) {}
  int64_t Pass(std::string* error) override {
    Result<objects::PassStats> s = r_->RunPass();
    if (!s.ok()) {
      *error = s.status().ToString();
      return -1;
    }
    if (!s->alarms.empty()) {
      *error = s->alarms[0];
      return -1;
    }
    return s->copied;
  }

 private:
  std::unique_ptr<objects::BucketReplicator> r_;
};

}  // namespace

std::unique_ptr<CopyRunner> PL_BENCH_RUNNER(const std::string& root, bool sidecar,
                                            std::string* error) {
  objects::ReplicatorOptions o;
  o.source_dir = root + "/src";
  o.dest_dir = root + "/dst";
  o.state_dir = root + "/state";
  o.origin = "primary";
#ifdef PL_OBJECTS_HAVE_SIDECAR_OPTION
  o.sidecar_metadata = sidecar;
#else
  if (sidecar) {
    *error = "this build of the replicator always writes sidecar files";
    return nullptr;
  }
#endif
  Result<std::unique_ptr<objects::BucketReplicator>> r =
      objects::BucketReplicator::Open(o, SystemClock::Instance());
  if (!r.ok()) {
    *error = r.status().ToString();
    return nullptr;
  }
  return std::make_unique<Runner>(std::move(*r));
}

}  // namespace pilotlight::bench
