#include "data/objects/change_feed.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <vector>

#include "data/objects/replicator.h"  // kInternalDir

namespace pilotlight::objects {
namespace {

constexpr uint32_t kDirMask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_ATTRIB |
                              IN_CREATE | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;

std::string Join(const std::string& dir, const std::string& name) {
  return dir.empty() ? name : dir + "/" + name;
}

int NewInstance() { return inotify_init1(IN_NONBLOCK | IN_CLOEXEC); }

}  // namespace

ChangeFeed::~ChangeFeed() {
  if (fd_ >= 0) close(fd_);
}

Result<std::unique_ptr<ChangeFeed>> ChangeFeed::Open(std::string root, ChangeFeedOptions options) {
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  const int fd = NewInstance();
  if (fd < 0) {
    return Status::IOError(std::string("cannot initialise inotify: ") + std::strerror(errno) +
                           " (check fs.inotify.max_user_instances)");
  }
  std::unique_ptr<ChangeFeed> feed(new ChangeFeed(std::move(root), std::move(options), fd));
  feed->AddTree("", false);
  if (!feed->watches_.count("")) {
    return Status::IOError("cannot watch " + feed->root_ +
                           " for changes: " + feed->degraded_reason_);
  }
  return feed;
}

bool ChangeFeed::Wait(Duration timeout) {
  if (rebuild_ || !pending_.empty()) return true;
  pollfd p{fd_, POLLIN, 0};
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count();
  const int rc = poll(&p, 1, static_cast<int>(std::max<int64_t>(0, ms)));
  if (rc < 0 && errno != EINTR) return true;  // Take() will see the error and ask for a rescan
  return rc > 0;
}

Changes ChangeFeed::Take() {
  ReadEvents();
  ++takes_since_rebuild_;
  if (rebuild_ || (degraded_ && takes_since_rebuild_ >= kDegradedRetryTakes)) Rebuild();
  if (degraded_) {
    pending_.rescan_needed = true;
    if (pending_.rescan_reason.empty()) pending_.rescan_reason = degraded_reason_;
  }
  Changes out = std::move(pending_);
  pending_ = Changes{};
  return out;
}

void ChangeFeed::ReadEvents() {
  alignas(inotify_event) char buf[64 * 1024];
  while (true) {
    const ssize_t n = read(fd_, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) {
        NeedRescan(std::string("cannot read inotify events: ") + std::strerror(errno), true);
      }
      return;
    }
    if (n == 0) return;
    for (ssize_t off = 0; off < n;) {
      const auto* ev = reinterpret_cast<const inotify_event*>(buf + off);
      off += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
      // The name is NUL-padded to `len`.
      Handle(ev->wd, ev->mask, ev->len > 0 ? std::string(ev->name) : std::string());
    }
  }
}

void ChangeFeed::Handle(int wd, uint32_t mask, const std::string& name) {
  if (mask & IN_Q_OVERFLOW) {
    NeedRescan("the inotify event queue overflowed (fs.inotify.max_queued_events)", true);
    return;
  }
  auto it = dirs_.find(wd);
  if (it == dirs_.end()) return;  // a watch already removed
  const std::string dir = it->second;
  if (mask & IN_IGNORED) {
    // The kernel dropped the watch (directory deleted, moved out of its file
    // system, or unmounted). Below the root the parent's event covers it.
    if (dir.empty()) NeedRescan("the watch of the bucket directory " + root_ + " was lost", true);
    auto w = watches_.find(dir);
    if (w != watches_.end() && w->second == wd) watches_.erase(w);
    dirs_.erase(wd);
    return;
  }
  if (mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT)) {
    if (dir.empty()) {
      NeedRescan("the bucket directory " + root_ + " itself was deleted, moved or unmounted", true);
    } else if (mask & IN_UNMOUNT) {
      pending_.subtrees.insert(dir);
    }
    return;  // below the root, the parent's IN_DELETE / IN_MOVED_FROM covers it
  }
  if (name.empty()) return;
  if (dir.empty() && name == kInternalDir) return;
  const std::string key = Join(dir, name);
  if (options_.drop_event && options_.drop_event(key)) return;
  if (mask & IN_ISDIR) {
    if (mask & (IN_CREATE | IN_MOVED_TO)) {
      AddTree(key, true);
    } else if (mask & (IN_DELETE | IN_MOVED_FROM)) {
      pending_.subtrees.insert(key);
      RemoveTree(key);
    }
    return;  // a directory's own attributes or close are no object's change
  }
  pending_.keys.insert(key);
}

void ChangeFeed::AddTree(const std::string& rel, bool report_files) {
  const std::string path = Path(rel);
  if (options_.watch_limit != 0 && dirs_.size() >= options_.watch_limit && !watches_.count(rel)) {
    NeedRescan("cannot watch " + path + ": the inotify watch limit is reached (test limit " +
                   std::to_string(options_.watch_limit) + ")",
               false);
    return;
  }
  const int wd = inotify_add_watch(fd_, path.c_str(), kDirMask);
  if (wd < 0) {
    const int err = errno;
    // Gone (or replaced by a file) before we got to it: its parent reports that.
    if (!rel.empty() && (err == ENOENT || err == ENOTDIR)) return;
    std::string why = std::strerror(err);
    if (err == ENOSPC) why += " (raise fs.inotify.max_user_watches)";
    NeedRescan("cannot watch " + path + ": " + why, false);
    return;
  }
  // inotify gives the same descriptor for the same directory: keep one name for it.
  if (auto old = dirs_.find(wd); old != dirs_.end() && old->second != rel) {
    watches_.erase(old->second);
  }
  dirs_[wd] = rel;
  watches_[rel] = wd;

  // Listed only after the watch exists: anything created from here on is either
  // listed now or reported by the watch (or both).
  DIR* d = opendir(path.c_str());
  if (d == nullptr) {
    if (errno != ENOENT && errno != ENOTDIR) {
      NeedRescan("cannot list " + path + ": " + std::strerror(errno), false);
    }
    return;
  }
  std::vector<std::string> subdirs;
  while (dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    if (rel.empty() && name == kInternalDir) continue;
    unsigned char type = e->d_type;
    if (type == DT_UNKNOWN) {
      struct stat st {};
      if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
      type = S_ISDIR(st.st_mode) ? DT_DIR : DT_REG;
    }
    if (type == DT_DIR) {
      subdirs.push_back(Join(rel, name));
    } else if (report_files) {
      pending_.keys.insert(Join(rel, name));
    }
  }
  closedir(d);
  for (const std::string& s : subdirs) AddTree(s, report_files);
}

void ChangeFeed::RemoveTree(const std::string& rel) {
  const std::string prefix = rel + "/";
  for (auto it = watches_.lower_bound(rel); it != watches_.end();) {
    if (it->first != rel && it->first.compare(0, prefix.size(), prefix) != 0) break;
    inotify_rm_watch(fd_, it->second);  // its IN_IGNORED then finds no entry
    dirs_.erase(it->second);
    it = watches_.erase(it);
  }
}

void ChangeFeed::NeedRescan(const std::string& reason, bool rebuild) {
  pending_.rescan_needed = true;
  if (pending_.rescan_reason.empty()) pending_.rescan_reason = reason;
  if (rebuild) {
    rebuild_ = true;
  } else if (!degraded_) {
    degraded_ = true;
    degraded_reason_ = reason;
  }
}

void ChangeFeed::Rebuild() {
  // A fresh instance drops whatever the old one still queued: the full scan the
  // caller now owes covers it.
  const int fd = NewInstance();
  if (fd < 0) {
    degraded_ = true;
    degraded_reason_ = std::string("cannot initialise inotify: ") + std::strerror(errno);
    return;
  }
  close(fd_);
  fd_ = fd;
  takes_since_rebuild_ = 0;
  dirs_.clear();
  watches_.clear();
  rebuild_ = false;
  degraded_ = false;
  degraded_reason_.clear();
  AddTree("", false);
  if (!watches_.count("") && !degraded_) {
    degraded_ = true;
    degraded_reason_ = "cannot watch " + root_;
  }
}

}  // namespace pilotlight::objects
