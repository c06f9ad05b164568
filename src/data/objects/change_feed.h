// ChangeFeed: which object keys of a bucket directory may have changed, from
// Linux inotify, so that the bucket replicator stats only those instead of
// rescanning the whole bucket on every pass (its cost then follows the rate of
// change, not the size of the bucket).
//
// It watches every directory under the bucket except pilotlight's own
// `.pilotlight` (kInternalDir), adds a watch for each directory created or moved
// in later and reports the files that directory already holds (they can land
// before its watch exists), and reports as changed every key named by a
// close-after-write, rename in or out, delete, attribute change or create.
// A directory deleted or moved away is reported as a subtree: every key under it
// may be gone.
//
// The feed is an accelerator, never the source of truth: whenever it may have
// missed something (the kernel's event queue overflowed, a watch could not be
// added because fs.inotify.max_user_watches is reached, the bucket directory
// itself was moved or deleted, a read error) it says `rescan_needed`, and the
// caller must scan the whole bucket. Before saying so it rebuilds its watches, so
// a full scan made after Take() returns plus the feed's later reports together
// miss nothing. While a watch cannot be added it is degraded: it keeps asking
// for a rescan on every Take(), retries its watches every kDegradedRetryTakes
// Takes, and a caller should pace its full scans by its own interval rather than
// by the feed's events.
//
// Thread-safety: a ChangeFeed is used by one thread (Open, Wait, Take); it is not
// safe for concurrent use.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>

#include "core/clock.h"
#include "core/status.h"

namespace pilotlight::objects {

struct ChangeFeedOptions {
  // Test seam: no more than this many watches are added (0: only the kernel's
  // limit); the next fails as if fs.inotify.max_user_watches were reached.
  size_t watch_limit = 0;
  // Test seam: an event about `key` (a file or a directory, relative to the
  // bucket) is dropped when this returns true, as if inotify never delivered it.
  std::function<bool(const std::string& key)> drop_event;
};

struct Changes {
  // Keys (paths relative to the bucket) that may have been created, changed or
  // deleted. Names that are not valid object keys are reported too.
  std::set<std::string> keys;
  // Directories (relative) deleted or moved away: every key under them may be gone.
  std::set<std::string> subtrees;
  // The feed may have missed changes: scan the whole bucket.
  bool rescan_needed = false;
  std::string rescan_reason;  // why, for an operator (empty unless rescan_needed)

  bool empty() const { return keys.empty() && subtrees.empty() && !rescan_needed; }
};

class ChangeFeed {
 public:
  ~ChangeFeed();
  ChangeFeed(const ChangeFeed&) = delete;
  ChangeFeed& operator=(const ChangeFeed&) = delete;

  // Starts watching the directory tree under `root` (which must exist). Fails
  // only when inotify cannot be used at all (no instance, root not watchable);
  // a subdirectory that cannot be watched makes the first Take() ask for a rescan.
  static Result<std::unique_ptr<ChangeFeed>> Open(std::string root, ChangeFeedOptions options = {});

  // Waits up to `timeout` for an event to be pending; true when one is (or when
  // changes or a rebuild are already owed). Does not consume anything.
  bool Wait(Duration timeout);

  // Everything seen since the last Take(), and clears it.
  Changes Take();

  // Some directory could not be watched: every Take() asks for a rescan.
  bool degraded() const { return degraded_; }
  size_t watch_count() const { return dirs_.size(); }

  // While degraded, the watches are retried on every this many Take() calls (a
  // rebuild walks every directory).
  static constexpr int kDegradedRetryTakes = 25;
  const std::string& root() const { return root_; }

 private:
  ChangeFeed(std::string root, ChangeFeedOptions options, int fd)
      : root_(std::move(root)), options_(std::move(options)), fd_(fd) {}

  void ReadEvents();
  void Handle(int wd, uint32_t mask, const std::string& name);
  // Watches `rel` and every directory under it; reports the files found when
  // `report_files` (a directory that appeared after the feed started).
  void AddTree(const std::string& rel, bool report_files);
  void RemoveTree(const std::string& rel);
  void NeedRescan(const std::string& reason, bool rebuild);
  // A new inotify instance and every watch again (after events may have been lost).
  void Rebuild();
  std::string Path(const std::string& rel) const { return rel.empty() ? root_ : root_ + "/" + rel; }

  std::string root_;
  ChangeFeedOptions options_;
  int fd_;
  std::unordered_map<int, std::string> dirs_;  // watch descriptor -> directory (relative)
  std::map<std::string, int> watches_;         // directory (relative) -> watch descriptor
  Changes pending_;
  bool rebuild_ = false;   // the watches must be rebuilt before the next Take() returns
  bool degraded_ = false;  // some directory is not watched: every Take() asks for a rescan
  std::string degraded_reason_;
  int takes_since_rebuild_ = 0;
};

}  // namespace pilotlight::objects
