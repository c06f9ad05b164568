// Live lag readings for every data type of a platform, and the replicators that
// keep them low, both laid out from the config and a state directory (the lab's).
//
// Layout: a region's bucket lives at its configured path, else at
// <state dir>/<region>/buckets/<name> (the lab's convention); the checkpoint of
// the replicator of bucket B from region X to Y lives in
// <state dir>/replication/objects/B.X-to-Y. A bucket named "artifacts" holds
// release bundles (data type artifacts); every other bucket holds objects.
// ReadLags is thread-safe; RunReplicators blocks until `stop`.
#pragma once

#include <atomic>
#include <string>
#include <vector>

#include "config/model.h"
#include "core/clock.h"
#include "core/status.h"
#include "data/rpo/rpo.h"

namespace pilotlight::rpo {

inline constexpr char kArtifactsBucket[] = "artifacts";

struct DataLayout {
  std::string state_dir;  // the lab directory

  std::string BucketDir(const config::RegionSpec& region, const config::BucketSpec& bucket) const;
  std::string ObjectStateDir(const std::string& bucket, const std::string& from,
                             const std::string& to) const;
};

// Database (whichever direction streams now), sessions both ways, and every
// bucket both regions have (primary -> DR, and DR -> primary once a replicator
// ran that way).
std::vector<LagReading> ReadLags(const config::Config& config, const DataLayout& layout,
                                 WallTime now);

// Runs the session replicator both ways and one bucket replicator per shared
// bucket from region `from` (the region taking writes) to the other, until
// `stop`. Each on its own thread, so a long bucket pass never delays sessions.
Status RunReplicators(const config::Config& config, const DataLayout& layout,
                      const std::string& from, Duration interval, const std::atomic<bool>& stop,
                      Clock& clock);

}  // namespace pilotlight::rpo
