// Release artifacts (ECR replication in the seed): bundles stored by digest in a
// region's artifacts bucket, replicated to DR like any object (the objects
// replicator runs on the bucket), and the readiness fact a failover needs:
// "DR holds the release the primary runs".
//
// A bundle named N with SHA-256 D lives at <bucket>/releases/N/sha256-D, so its
// name is its digest and a replicated copy can be checked without metadata.
// The release a region runs is recorded by its deployer in
// <bucket>/.pilotlight/running/N (region-local: never replicated). Functions are
// thread-safe; concurrent writers of one bucket must not publish the same name.
#pragma once

#include <optional>
#include <string>

#include "core/status.h"

namespace pilotlight::releases {

struct Release {
  std::string name;    // e.g. "trader"
  std::string digest;  // lowercase hex SHA-256 of the bundle
  std::string path;    // the bundle in its bucket

  std::string Reference() const { return name + "@sha256:" + digest; }
};

// The bundle's path for a release in `bucket_dir`.
std::string BundlePath(const std::string& bucket_dir, const std::string& name,
                       const std::string& digest);

// Copies `bundle_file` into the bucket under its digest (temp, fsync, rename).
// Idempotent: publishing the same bundle twice changes nothing.
Result<Release> Publish(const std::string& bucket_dir, const std::string& name,
                        const std::string& bundle_file);

// Records / reads the release a region runs.
Status SetRunning(const std::string& bucket_dir, const Release& release);
Result<std::optional<Release>> Running(const std::string& bucket_dir, const std::string& name);

// The readiness fact: does the DR bucket hold, intact, the bundle the primary runs?
struct ReleaseReadiness {
  bool ready = false;
  std::string fact;  // one sentence for the operator
};
ReleaseReadiness DrHoldsRunningRelease(const std::string& primary_bucket,
                                       const std::string& dr_bucket, const std::string& name);

}  // namespace pilotlight::releases
