// Bucket replication (S3 cross-region replication in the seed): copies new and
// changed objects from a source bucket directory to a destination bucket
// directory, replicates deletes, and reports its backlog as a live RPO.
//
// Every copy is checked and atomic: the object is streamed into a temporary file
// in <dest>/.pilotlight/tmp while its SHA-256 is computed, read back and
// verified, made durable, and only then renamed into place (with a metadata
// sidecar in <dest>/.pilotlight/meta/<key>), so the destination only ever holds
// whole, verified objects. A checksum mismatch is retried; after the last attempt
// it raises an alarm and the destination keeps the copy it had (a good copy is
// never replaced by a corrupt one). A source that changes while being copied is
// copied again. Progress is kept in a durable Checkpoint (checkpoint.h) written
// after each batch is in place; a replicator killed at any instant resumes
// without losing an object or copying one twice: objects found already in place
// with the right digest are recorded, not copied.
//
// Run the reverse direction (DR back to primary, after a failover) as another
// BucketReplicator with its own state directory; objects already identical on
// the other side are recorded without a copy, so the two never ping-pong.
// A BucketReplicator is used by one thread; Run() returns when `stop` is set.
// ReadBacklog() is thread-safe and may run in another process.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "data/objects/checkpoint.h"

namespace pilotlight::objects {

// The directory inside a bucket that holds pilotlight's own files; never replicated.
inline constexpr char kInternalDir[] = ".pilotlight";

struct ReplicatorOptions {
  std::string source_dir;
  std::string dest_dir;
  std::string state_dir;  // the checkpoint lives here
  std::string origin;     // the source region's name, recorded in sidecars
  int verify_attempts = 3;
  size_t batch_size = 256;  // objects made durable together (one sync per batch)
  bool replicate_deletes = true;
  // Test seam: may alter a chunk on its way to the destination (a bit flip in
  // transit), or touch the source mid-copy. Called for every chunk written.
  std::function<void(const std::string& key, int attempt, std::string& chunk)> on_chunk;
};

struct PassStats {
  int64_t copied = 0;          // objects written to the destination
  int64_t bytes_copied = 0;
  int64_t already_in_place = 0;  // found identical at the destination, recorded only
  int64_t deleted = 0;
  int64_t checksum_retries = 0;
  int64_t changed_during_copy = 0;
  std::vector<std::string> alarms;  // what an operator must look at
};

struct Backlog {
  int64_t objects = 0;  // new or changed objects not yet replicated
  int64_t bytes = 0;
  int64_t deletes = 0;  // deletions not yet replicated
  // Age of the oldest change not yet replicated (zero when there is none).
  Duration lag{};
  std::optional<WallTime> oldest_change;
};

class BucketReplicator {
 public:
  static Result<std::unique_ptr<BucketReplicator>> Open(ReplicatorOptions options,
                                                        const Clock& clock);

  // One scan of the source and everything it finds to do.
  Result<PassStats> RunPass(const std::atomic<bool>* stop = nullptr);
  // Passes every `interval` until `stop`; alarms and errors are logged.
  void Run(const std::atomic<bool>& stop, Duration interval);

  const ReplicatorOptions& options() const { return options_; }

 private:
  BucketReplicator(ReplicatorOptions options, const Clock& clock,
                   std::unique_ptr<Checkpoint> checkpoint)
      : options_(std::move(options)), clock_(clock), checkpoint_(std::move(checkpoint)) {}

  ReplicatorOptions options_;
  const Clock& clock_;
  std::unique_ptr<Checkpoint> checkpoint_;
  bool swept_orphans_ = false;
  uint64_t tmp_counter_ = 0;
};

// Where a replicator with `state_dir` keeps its checkpoint.
std::string CheckpointPath(const std::string& state_dir);

// The backlog of a source bucket against a replicator's checkpoint, at `now`.
Result<Backlog> ReadBacklog(const std::string& source_dir, const std::string& state_dir,
                            WallTime now);

}  // namespace pilotlight::objects
