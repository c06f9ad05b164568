// Bucket replication (S3 cross-region replication in the seed): copies new and
// changed objects from a source bucket directory to a destination bucket
// directory, replicates deletes, and reports its backlog as a live RPO.
//
// Every copy is checked and atomic: the object is streamed into a temporary file
// in <dest>/.pilotlight/tmp while its SHA-256 is computed, read back (through the
// same descriptor) and verified, given its metadata, made durable, and only then
// renamed into place, so the destination only ever holds whole, verified objects.
// A checksum mismatch is retried; after the last attempt it raises an alarm and
// the destination keeps the copy it had (a good copy is never replaced by a
// corrupt one). A source that changes while being copied (its size, modification
// time or inode at its name differ after the copy from what the open descriptor
// showed before it) is copied again. Progress is kept in a durable Checkpoint
// (checkpoint.h) written after each batch is in place; a replicator killed at any
// instant resumes without losing an object or copying one twice: objects found
// already in place with the right digest are recorded, not copied.
//
// Each replica's metadata (ReplicaMetadata: digest, size, source modification
// time, origin region, time of replication) tells the orphan sweep (the first
// full pass of each replicator: objects of the destination that neither the
// source nor the checkpoint knows, deleted when their metadata names this
// replicator's origin) which objects this origin put there. It is kept on the
// object itself, as the extended attribute `user.pilotlight` (kMetadataXattr)
// set on the temporary file before its rename, so it arrives atomically with the
// object and costs no inode of its own: a copy creates one inode, not two (inode
// creation is most of what a small object's copy costs; see
// bench/data/objects_copy.sh). The value is compact binary (see EncodeXattr in
// replicator.cc: 47 bytes, the size as a varint, then the origin's name) so that
// it fits inside an ext4 inode (60 bytes of value with 256-byte inodes) for an
// object under 16 KiB and an origin name of up to 11 characters; a longer one
// costs the file system an attribute block per object, still no inode. The
// previous release's layout, a sidecar file <dest>/.pilotlight/meta/<key> per
// object ("name=value" lines), is still read, and is still written: for an
// object found already in place (it may be the other direction's own source
// object, which this replicator leaves untouched), when the destination refuses
// extended attributes (ENOTSUP: the replicator falls back to sidecars for the
// rest of its life, with a warning), and when `sidecar_metadata` asks. A sidecar,
// when there is one, is the newer record: a copy with the attribute removes its
// key's older sidecar. The destination's directories are made when a rename
// finds one missing, not checked for every object.
//
// Only regular files are objects. An entry of the source that is not one (a
// symbolic link, a FIFO, a socket, a device) is never read and never replicated:
// the scan classifies entries without following links (a linked directory is not
// descended into), and a copy opens its object beneath the bucket without
// following a link anywhere on its path (openat2 RESOLVE_NO_SYMLINKS, else one
// O_NOFOLLOW component at a time), O_NONBLOCK, and checks what it opened with
// fstat, so an entry swapped for a link or a FIFO after the scan is refused too.
// A link planted in the primary bucket (to /etc/shadow, or ../../anything) thus
// never brings what it points to into the DR bucket. An object larger than
// `max_object_bytes` is not copied either. Each such entry is reported: counted
// in PassStats::skipped with its reason on every pass, logged once (when first
// found, or found again with another reason), and the objects among them
// (SkipReason::kTooLarge) raise an alarm once and are written to
// <state dir>/not-replicated, so that ReadBacklog (replication status) counts
// them as missing from DR. Sparse objects keep their holes: a copy reads the
// source's data extents (SEEK_DATA / SEEK_HOLE) and leaves the holes unwritten,
// so DR uses about the blocks the source does. Keys may hold any byte but NUL and
// '/' (a newline too: the checkpoint quotes such keys); every key that goes into
// a log line, an alarm or a message is escaped (EscapeKey, checkpoint.h).
//
// Run the reverse direction (DR back to primary, after a failover) as another
// BucketReplicator with its own state directory; objects already identical on
// the other side are recorded without a copy, so the two never ping-pong.
//
// Finding the work: a ChangeFeed (change_feed.h, inotify) reports which keys of
// the source changed, so a pass stats only those and a pass with nothing to do
// costs next to nothing, whatever the size of the bucket. The whole source is
// still scanned (as every pass did before the feed) on the first pass, whenever
// the feed says it may have missed something (event queue overflow, watch limit
// reached), and every `full_rescan_interval` as a safety net: inotify does not
// see every change (a write through a shared mapping or by a writer that keeps
// the file open, a file system that changes underneath, as over NFS or a bind
// mount from another namespace, or a bug of ours), and correctness must never
// depend on it, only speed. Without inotify every pass is a full scan.
// ReadBacklog() has no feed (it runs in other processes): it always scans.
//
// A BucketReplicator is used by one thread; Run() returns when `stop` is set.
// ReadBacklog() is thread-safe and may run in another process.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "data/objects/change_feed.h"
#include "data/objects/checkpoint.h"

namespace pilotlight::objects {

// The directory inside a bucket that holds pilotlight's own files; never replicated.
inline constexpr char kInternalDir[] = ".pilotlight";

// The default of ReplicatorOptions::max_object_bytes: 16 GiB, far above any
// object of the trading platform (confirmations, reports, release bundles), far
// below what would fill a DR volume by itself.
inline constexpr int64_t kDefaultMaxObjectBytes = int64_t{16} << 30;

struct ReplicatorOptions {
  std::string source_dir;
  std::string dest_dir;
  std::string state_dir;  // the checkpoint lives here
  std::string origin;     // the source region's name, recorded in each replica's metadata
  int verify_attempts = 3;
  size_t batch_size = 256;  // objects made durable together (one sync per batch)
  bool replicate_deletes = true;
  // Objects larger than this (their size, holes included) are not copied; each is
  // reported (SkipReason::kTooLarge). 0: no limit.
  int64_t max_object_bytes = kDefaultMaxObjectBytes;
  // A whole-bucket scan at least this often even when the change feed reports
  // nothing (see above for why).
  Duration full_rescan_interval = std::chrono::seconds(60);
  // Scan the whole bucket on every pass, without a change feed (the behaviour
  // before the feed; for benchmarks and for file systems without inotify).
  bool full_rescan_every_pass = false;
  // After a change wakes Run(), wait this long for its neighbours (a writer's
  // temporary file is renamed a few milliseconds after it is closed) so that one
  // pass takes them all; never beyond the pass interval.
  Duration change_settle = std::chrono::milliseconds(20);
  // Keep replicas' metadata in sidecar files (the previous release's layout)
  // rather than in an extended attribute on each object (see above).
  bool sidecar_metadata = false;
  // Test seam: objects are opened one path component at a time (O_NOFOLLOW each),
  // as on a kernel without openat2, instead of by openat2 RESOLVE_NO_SYMLINKS.
  bool open_by_components = false;
  // Test seam: the destination behaves as a file system without extended
  // attributes (setting one fails with ENOTSUP).
  bool refuse_xattrs = false;
  // Test seam: may alter a chunk on its way to the destination (a bit flip in
  // transit), or touch the source mid-copy. Called for every chunk written.
  std::function<void(const std::string& key, int attempt, std::string& chunk)> on_chunk;
  // Test seam: the change feed drops its events about `key` when this returns
  // true (a change inotify never reported); see ChangeFeedOptions::drop_event.
  std::function<bool(const std::string& key)> drop_change_event;
};

// Why an entry of a source bucket is not replicated.
enum class SkipReason {
  kSymlink,  // a symbolic link (or a link on its path): never followed
  kFifo,
  kSocket,
  kDevice,    // a character or block device
  kOther,     // any other file type that is not a regular file
  kTooLarge,  // an object over ReplicatorOptions::max_object_bytes
};
// "symbolic link" | "FIFO" | "socket" | "device" | "not a regular file" | "too large".
const char* SkipReasonName(SkipReason reason);
// True when the entry is an object (data) that DR lacks because of it; false for
// an entry that is not an object at all (not a regular file).
bool LeavesObjectMissing(SkipReason reason);

struct SkippedEntry {
  std::string key;  // raw; print it with EscapeKey
  SkipReason reason = SkipReason::kOther;
  int64_t size = 0;  // for kTooLarge
  bool operator==(const SkippedEntry&) const = default;
};

struct PassStats {
  int64_t copied = 0;  // objects written to the destination
  int64_t bytes_copied = 0;
  int64_t already_in_place = 0;  // found identical at the destination, recorded only
  int64_t deleted = 0;
  int64_t checksum_retries = 0;
  int64_t changed_during_copy = 0;
  bool full_scan = false;           // the whole source was scanned (else only reported changes)
  int64_t scanned = 0;              // source objects stat'ed to find the pass's work
  // Every entry of the source known not to be replicated (see above), as of this
  // pass: all of them after a full scan; an incremental pass updates the keys it
  // looked at. Sorted by key.
  std::vector<SkippedEntry> skipped;
  std::vector<std::string> alarms;  // what an operator must look at
};

struct Backlog {
  int64_t objects = 0;  // new or changed objects not yet replicated (not_replicated included)
  int64_t bytes = 0;
  int64_t deletes = 0;  // deletions not yet replicated
  // Of `objects`, those the replicator refused (over its size limit: see
  // <state dir>/not-replicated) and their bytes: they stay missing from DR until
  // an operator acts, however young they are.
  int64_t not_replicated = 0;
  int64_t not_replicated_bytes = 0;
  // Entries of the source that are not objects (not regular files), by reason;
  // never replicated, not counted in `objects`.
  std::map<SkipReason, int64_t> skipped;
  // Age of the oldest change not yet replicated (zero when there is none).
  Duration lag{};
  std::optional<WallTime> oldest_change;
};

class BucketReplicator {
 public:
  // Run's waits go through `clock` (SleepFor), which must outlive this.
  static Result<std::unique_ptr<BucketReplicator>> Open(ReplicatorOptions options,
                                                        Clock& clock);

  // One look at the source (a full scan, or the keys the change feed reported)
  // and everything it finds to do.
  Result<PassStats> RunPass(const std::atomic<bool>* stop = nullptr);
  // Passes until `stop`: at the latest `interval` after the last one began, and
  // sooner (after `change_settle`) when the change feed reports a change; alarms
  // and errors are logged.
  void Run(const std::atomic<bool>& stop, Duration interval);

  const ReplicatorOptions& options() const { return options_; }
  // False when every pass scans the whole source (no inotify, or asked to).
  bool has_change_feed() const { return feed_ != nullptr; }
  // False when replicas' metadata goes to sidecar files (asked, or the
  // destination refused an extended attribute).
  bool metadata_in_xattrs() const { return xattrs_; }

 private:
  BucketReplicator(ReplicatorOptions options, Clock& clock,
                   std::unique_ptr<Checkpoint> checkpoint, std::unique_ptr<ChangeFeed> feed)
      : options_(std::move(options)),
        clock_(clock),
        checkpoint_(std::move(checkpoint)),
        feed_(std::move(feed)),
        xattrs_(!options_.sidecar_metadata) {}

  ReplicatorOptions options_;
  Clock& clock_;
  std::unique_ptr<Checkpoint> checkpoint_;
  std::unique_ptr<ChangeFeed> feed_;  // null: every pass is a full scan
  bool swept_orphans_ = false;
  bool xattrs_;  // metadata in an extended attribute (else in sidecar files)
  // Some sidecar file may exist in <dest>/.pilotlight/meta (the previous
  // release's, an already-in-place record, the fallback): a copy must then remove
  // its key's stale one. Found out on Open, set when one is written.
  bool sidecars_present_ = false;
  uint64_t tmp_counter_ = 0;
  bool need_full_scan_ = true;  // first pass, after an error or an interrupted pass
  MonoTime last_full_scan_{};
  std::string last_rescan_reason_;  // logged once per distinct reason
  // The last pass scanned everything because the feed asked (overflow, watch
  // limit): Run() then waits out its interval, so a burst that overflows the
  // queue again and again does not make full scans back to back.
  bool feed_asked_rescan_ = false;
  // Keys the last pass found pending but did not complete (checksum failures,
  // changed while copied, vanished): looked at again on the next pass, as a full
  // scan would.
  std::set<std::string> recheck_;
  // Entries known not to be replicated (see above), by key: what was logged, so
  // that each is logged once, and what <state dir>/not-replicated holds.
  std::map<std::string, SkippedEntry> skipped_;

  // Records what a pass found about `key`: skipped (`entry`), or (nullopt)
  // replicated normally; logs or alarms what is new.
  void NoteSkipped(const std::string& key, std::optional<SkippedEntry> entry, PassStats& stats);
  // Writes <state dir>/not-replicated when the objects among skipped_ changed.
  Status SaveNotReplicated();
  std::string saved_not_replicated_;  // the file's content as last written
  // Skipped entries logged, and refused objects alarmed, by this pass: beyond
  // kSkipLogsPerPass of each, one summary line (a bucket of a million planted
  // links is not a million log lines).
  int logged_this_pass_ = 0;
  int alarmed_this_pass_ = 0;
  static constexpr int kSkipLogsPerPass = 20;
};

// The extended attribute that holds a replica's metadata.
inline constexpr char kMetadataXattr[] = "user.pilotlight";

// What the destination knows about one replica (see above).
struct ReplicaMetadata {
  std::string sha256;  // hex
  int64_t size = 0;
  int64_t source_mtime_ns = 0;
  std::string origin;
  std::string replicated_at;  // RFC 3339 UTC, milliseconds (FormatTime)
  bool from_sidecar = false;  // read from a sidecar file, not the attribute
};

// The metadata of `key` in the destination bucket `dest_dir`: its sidecar file
// when there is one, else the object's attribute; nullopt when it has neither
// (an object not put there by a replicator). An error when either cannot be read
// or does not parse.
Result<std::optional<ReplicaMetadata>> ReadReplicaMetadata(const std::string& dest_dir,
                                                           const std::string& key);

// Where a replicator with `state_dir` keeps its checkpoint.
std::string CheckpointPath(const std::string& state_dir);

// The backlog of a source bucket against a replicator's checkpoint, at `now`:
// what is pending, what of it the replicator refused (as it last listed in
// <state dir>/not-replicated), and the entries that are not objects.
Result<Backlog> ReadBacklog(const std::string& source_dir, const std::string& state_dir,
                            WallTime now);

}  // namespace pilotlight::objects
