#include "data/objects/replicator.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "core/duration.h"
#include "core/log.h"
#include "data/objects/digest.h"

namespace pilotlight::objects {
namespace fs = std::filesystem;
namespace {

constexpr size_t kChunk = 1 << 16;

struct SourceEntry {
  int64_t size = 0;
  int64_t mtime_ns = 0;
};
using SourceMap = std::map<std::string, SourceEntry>;

std::string Errno() { return std::strerror(errno); }

std::optional<SourceEntry> StatFile(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  return SourceEntry{static_cast<int64_t>(st.st_size),
                     static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec};
}

// Every regular file under `dir` except pilotlight's own directory; `invalid`
// collects names that cannot be object keys. Symbolic links count as what they
// point to when that is a regular file; linked directories are not followed.
// Walks with directory descriptors (readdir + fstatat): one path component to
// resolve per stat, and no path objects per entry.
class BucketScanner {
 public:
  BucketScanner(std::string root, std::vector<std::string>* invalid)
      : root_(std::move(root)), invalid_(invalid) {}

  Result<SourceMap> Scan() {
    const int fd = open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return Status::IOError("cannot list bucket " + root_ + ": " + Errno());
    PL_RETURN_IF_ERROR(ScanDir(fd, ""));
    return std::move(out_);
  }

 private:
  // Takes ownership of `fd`.
  Status ScanDir(int fd, const std::string& rel) {
    DIR* d = fdopendir(fd);
    if (d == nullptr) {
      close(fd);
      return Status::IOError("cannot list bucket " + root_ + ": " + rel + ": " + Errno());
    }
    std::vector<std::string> subdirs;
    int read_error = 0;
    for (;;) {
      errno = 0;
      const dirent* e = readdir(d);
      if (e == nullptr) {
        read_error = errno;
        break;
      }
      const char* name = e->d_name;
      if (std::strcmp(name, ".") == 0 || std::strcmp(name, "..") == 0) continue;
      if (rel.empty() && std::strcmp(name, kInternalDir) == 0) continue;
      unsigned char type = e->d_type;
      struct stat st {};
      if (type == DT_UNKNOWN) {
        if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;  // gone
        type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISLNK(st.st_mode) ? DT_LNK : DT_REG;
      }
      const std::string key = rel.empty() ? std::string(name) : rel + "/" + name;
      if (type == DT_DIR) {
        subdirs.push_back(name);
        continue;
      }
      if (type != DT_REG && type != DT_LNK) continue;
      if (fstatat(dirfd(d), name, &st, 0) != 0 || !S_ISREG(st.st_mode)) continue;
      if (!ValidObjectKey(key)) {
        if (invalid_) invalid_->push_back(key);
        continue;
      }
      out_[key] =
          SourceEntry{static_cast<int64_t>(st.st_size),
                      static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec};
    }
    Status status = Status::OK();
    if (read_error != 0) {
      status = Status::IOError("cannot list bucket " + root_ + ": " + rel + ": " +
                               std::strerror(read_error));
    }
    for (size_t i = 0; status.ok() && i < subdirs.size(); ++i) {
      const int sub =
          openat(dirfd(d), subdirs[i].c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      const std::string sub_rel = rel.empty() ? subdirs[i] : rel + "/" + subdirs[i];
      if (sub < 0) {
        if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP) continue;  // gone meanwhile
        status = Status::IOError("cannot list bucket " + root_ + ": " + sub_rel + ": " + Errno());
        break;
      }
      status = ScanDir(sub, sub_rel);
    }
    closedir(d);
    return status;
  }

  std::string root_;
  std::vector<std::string>* invalid_;
  SourceMap out_;
};

Result<SourceMap> ScanBucket(const std::string& dir, std::vector<std::string>* invalid) {
  return BucketScanner(dir, invalid).Scan();
}

bool Pending(const SourceEntry& s, const VersionMap& done, const std::string& key) {
  auto it = done.find(key);
  return it == done.end() || it->second.size != s.size || it->second.mtime_ns != s.mtime_ns;
}

Status SyncFilesystem(const std::string& dir) {
  int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::IOError("cannot open " + dir + ": " + Errno());
  int rc = syncfs(fd);
  close(fd);
  if (rc != 0) return Status::IOError("cannot sync the filesystem of " + dir + ": " + Errno());
  return Status::OK();
}

Status WriteFileRaw(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  out.flush();
  if (!out) return Status::IOError("cannot write " + path);
  return Status::OK();
}

std::string Sidecar(const std::string& key, const ObjectVersion& v, const std::string& origin,
                    WallTime now) {
  return "key=" + key + "\nsha256=" + v.sha256 + "\nsize=" + std::to_string(v.size) +
         "\nsource_mtime_ns=" + std::to_string(v.mtime_ns) + "\norigin=" + origin +
         "\nreplicated_at=" + FormatTime(now) + "\n";
}

std::map<std::string, std::string> ParseSidecar(const std::string& path) {
  std::map<std::string, std::string> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    const size_t eq = line.find('=');
    if (eq != std::string::npos) out[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return out;
}

}  // namespace

std::string CheckpointPath(const std::string& state_dir) { return state_dir + "/checkpoint.log"; }

Result<std::unique_ptr<BucketReplicator>> BucketReplicator::Open(ReplicatorOptions options,
                                                                 const Clock& clock) {
  if (options.source_dir.empty() || options.dest_dir.empty() || options.state_dir.empty()) {
    return Status::InvalidArgument(
        "a bucket replicator needs a source, a destination and a state "
        "directory");
  }
  if (options.verify_attempts < 1) options.verify_attempts = 1;
  if (options.batch_size < 1) options.batch_size = 1;
  std::error_code ec;
  if (fs::equivalent(options.source_dir, options.dest_dir, ec)) {
    return Status::InvalidArgument("source and destination are the same directory: " +
                                   options.source_dir);
  }
  for (const std::string& d :
       {options.source_dir, options.dest_dir + "/" + kInternalDir + "/tmp",
        options.dest_dir + "/" + kInternalDir + "/meta", options.state_dir}) {
    fs::create_directories(d, ec);
    if (ec) return Status::IOError("cannot create " + d + ": " + ec.message());
  }
  // Temporary files of a replicator that died mid-copy: never renamed, so never
  // visible; remove them so nothing is left twice.
  const std::string tmp = options.dest_dir + "/" + kInternalDir + "/tmp";
  for (const auto& e : fs::directory_iterator(tmp, ec)) fs::remove_all(e.path(), ec);
  Result<std::unique_ptr<Checkpoint>> cp = Checkpoint::Open(CheckpointPath(options.state_dir));
  if (!cp.ok()) return cp.status();
  // Watching starts before the first (full) scan, so nothing falls between them.
  std::unique_ptr<ChangeFeed> feed;
  if (!options.full_rescan_every_pass) {
    ChangeFeedOptions fo;
    fo.drop_event = options.drop_change_event;
    Result<std::unique_ptr<ChangeFeed>> f = ChangeFeed::Open(options.source_dir, std::move(fo));
    if (f.ok()) {
      feed = std::move(*f);
    } else {
      LogWarn("objects " + options.source_dir + ": no change feed (" + f.status().message() +
              "); every pass scans the whole bucket");
    }
  }
  return std::unique_ptr<BucketReplicator>(
      new BucketReplicator(std::move(options), clock, std::move(*cp), std::move(feed)));
}

Result<PassStats> BucketReplicator::RunPass(const std::atomic<bool>* stop) {
  PassStats stats;
  std::vector<std::string> invalid;
  // What to look at: the whole source, or only what changed.
  Changes changes;
  if (feed_) {
    changes = feed_->Take();
    if (changes.rescan_needed && changes.rescan_reason != last_rescan_reason_) {
      LogWarn("objects " + options_.source_dir + ": full rescan: " + changes.rescan_reason);
    }
    last_rescan_reason_ = changes.rescan_reason;
    feed_asked_rescan_ = changes.rescan_needed;
  }
  const MonoTime now = clock_.Monotonic();
  stats.full_scan = !feed_ || need_full_scan_ || changes.rescan_needed ||
                    now - last_full_scan_ >= options_.full_rescan_interval;
  // Until this pass completes, the next one must be a full scan: the changes
  // taken from the feed are only in this pass's hands.
  need_full_scan_ = true;
  Result<SourceMap> source = SourceMap{};
  std::set<std::string> checked;  // keys stat'ed on an incremental pass
  if (stats.full_scan) {
    last_full_scan_ = now;
    recheck_.clear();
    source = ScanBucket(options_.source_dir, &invalid);
    if (!source.ok()) return source.status();
    stats.scanned = static_cast<int64_t>(source->size());
  } else {
    checked = std::move(recheck_);
    recheck_.clear();
    checked.insert(changes.keys.begin(), changes.keys.end());
    for (const std::string& dir : changes.subtrees) {
      const std::string prefix = dir + "/";
      for (auto it = checkpoint_->entries().lower_bound(prefix);
           it != checkpoint_->entries().end() && it->first.compare(0, prefix.size(), prefix) == 0;
           ++it) {
        checked.insert(it->first);
      }
    }
    for (const std::string& key : checked) {
      if (!ValidObjectKey(key)) {
        invalid.push_back(key);
        continue;
      }
      ++stats.scanned;
      if (std::optional<SourceEntry> e = StatFile(options_.source_dir + "/" + key)) {
        (*source)[key] = *e;
      }
    }
  }
  for (const std::string& key : invalid) {
    stats.alarms.push_back("object '" + key + "' in " + options_.source_dir +
                           " has a name that cannot be replicated; rename it");
  }
  const std::string internal = options_.dest_dir + "/" + kInternalDir;
  auto meta_path = [&](const std::string& key) { return internal + "/meta/" + key; };
  auto stopping = [&] { return stop != nullptr && stop->load(); };

  // Objects to copy, oldest change first: the lag falls fastest that way.
  std::vector<std::pair<int64_t, std::string>> todo;
  for (const auto& [key, e] : *source) {
    if (Pending(e, checkpoint_->entries(), key)) todo.emplace_back(e.mtime_ns, key);
  }
  std::sort(todo.begin(), todo.end());

  struct Ready {
    std::string key;
    std::string tmp;      // "" when the object was already in place
    std::string sidecar;  // temporary sidecar file
    ObjectVersion version;
  };
  for (size_t start = 0; start < todo.size() && !stopping(); start += options_.batch_size) {
    std::vector<Ready> batch;
    const size_t stop_at = std::min(todo.size(), start + options_.batch_size);
    for (size_t i = start; i < stop_at && !stopping(); ++i) {
      const std::string& key = todo[i].second;
      const std::string src = options_.source_dir + "/" + key;
      const std::string dst = options_.dest_dir + "/" + key;
      std::optional<SourceEntry> before = StatFile(src);
      if (!before) {  // deleted since the scan: a later pass's delete handles it
        recheck_.insert(key);
        continue;
      }
      Ready r{key, "", internal + "/tmp/" + std::to_string(++tmp_counter_) + ".meta", {}};

      // Already identical at the destination (a crash after the rename, or the
      // reverse direction's own copy): record it, do not copy it again.
      if (std::optional<SourceEntry> d = StatFile(dst); d && d->size == before->size) {
        Result<std::string> a = Sha256File(src);
        Result<std::string> b = Sha256File(dst);
        std::optional<SourceEntry> after = StatFile(src);
        if (a.ok() && b.ok() && *a == *b && after && after->mtime_ns == before->mtime_ns &&
            after->size == before->size) {
          r.version = {*a, before->size, before->mtime_ns};
          PL_RETURN_IF_ERROR(
              WriteFileRaw(r.sidecar, Sidecar(key, r.version, options_.origin, clock_.Now())));
          batch.push_back(std::move(r));
          ++stats.already_in_place;
          continue;
        }
      }

      bool checksum_failed = false;
      bool changed = false;
      for (int attempt = 1; attempt <= options_.verify_attempts; ++attempt) {
        checksum_failed = changed = false;
        const std::string tmp = internal + "/tmp/" + std::to_string(++tmp_counter_) + ".obj";
        std::ifstream in(src, std::ios::binary);
        if (!in) break;  // vanished
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        if (!out) return Status::IOError("cannot create " + tmp + ": " + Errno());
        Sha256 hash;
        std::string chunk(kChunk, '\0');
        int64_t total = 0;
        while (in.read(chunk.data(), kChunk) || in.gcount() > 0) {
          std::string piece = chunk.substr(0, static_cast<size_t>(in.gcount()));
          hash.Update(piece);
          total += static_cast<int64_t>(piece.size());
          if (options_.on_chunk) options_.on_chunk(key, attempt, piece);
          out.write(piece.data(), static_cast<std::streamsize>(piece.size()));
        }
        out.flush();
        if (!out) return Status::IOError("cannot write " + tmp + " (disk full?)");
        out.close();
        const std::string want = hash.Final();
        std::optional<SourceEntry> after = StatFile(src);
        std::error_code ec;
        if (!after || after->size != before->size || after->mtime_ns != before->mtime_ns ||
            total != before->size) {
          changed = true;  // written to while we read it: copy it again
          ++stats.changed_during_copy;
          fs::remove(tmp, ec);
          if (!after) break;
          before = after;
          continue;
        }
        Result<std::string> got = Sha256File(tmp);
        if (!got.ok() || *got != want) {
          checksum_failed = true;
          ++stats.checksum_retries;
          LogWarn("object " + key + ": checksum mismatch on arrival (attempt " +
                  std::to_string(attempt) + " of " + std::to_string(options_.verify_attempts) +
                  ")");
          fs::remove(tmp, ec);
          continue;
        }
        r.tmp = tmp;
        r.version = {want, before->size, before->mtime_ns};
        break;
      }
      if (r.tmp.empty()) {
        if (checksum_failed) {
          stats.alarms.push_back("object '" + key + "': checksum mismatch on arrival in " +
                                 options_.dest_dir + " after " +
                                 std::to_string(options_.verify_attempts) +
                                 " attempts; the DR copy was left as it was; check the disks "
                                 "and the network path");
        }
        (void)changed;  // copied again on the next pass
        recheck_.insert(key);
        continue;
      }
      PL_RETURN_IF_ERROR(
          WriteFileRaw(r.sidecar, Sidecar(key, r.version, options_.origin, clock_.Now())));
      batch.push_back(std::move(r));
    }
    if (batch.empty()) continue;

    // Contents durable before any rename; renames durable before the checkpoint.
    PL_RETURN_IF_ERROR(SyncFilesystem(options_.dest_dir));
    for (const Ready& r : batch) {
      std::error_code ec;
      const fs::path dst = options_.dest_dir + "/" + r.key;
      fs::create_directories(dst.parent_path(), ec);
      fs::create_directories(fs::path(meta_path(r.key)).parent_path(), ec);
      if (!r.tmp.empty()) {
        fs::rename(r.tmp, dst, ec);
        if (ec)
          return Status::IOError("cannot move " + r.tmp + " to " + dst.string() + ": " +
                                 ec.message());
        ++stats.copied;
        stats.bytes_copied += r.version.size;
      }
      fs::rename(r.sidecar, meta_path(r.key), ec);
      if (ec) return Status::IOError("cannot write the sidecar of " + r.key + ": " + ec.message());
    }
    PL_RETURN_IF_ERROR(SyncFilesystem(options_.dest_dir));
    for (const Ready& r : batch) checkpoint_->RecordPut(r.key, r.version);
    PL_RETURN_IF_ERROR(checkpoint_->Commit());
  }

  if (options_.replicate_deletes && !stopping()) {
    std::vector<std::string> gone;
    if (stats.full_scan) {
      for (const auto& [key, v] : checkpoint_->entries()) {
        if (!source->count(key)) gone.push_back(key);
      }
    } else {
      // A reported key whose stat failed and that the checkpoint holds.
      for (const std::string& key : checked) {
        if (!source->count(key) && checkpoint_->entries().count(key)) gone.push_back(key);
      }
    }
    if (!swept_orphans_ && stats.full_scan) {
      // Objects this replicator put in place whose checkpoint record a crash lost,
      // and whose source was deleted meanwhile: their sidecar names our origin.
      std::error_code ec;
      const std::string meta = internal + "/meta";
      for (auto it = fs::recursive_directory_iterator(meta, ec);
           !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (!it->is_regular_file()) continue;
        const std::string key = it->path().lexically_relative(meta).string();
        if (source->count(key) || checkpoint_->entries().count(key)) continue;
        if (ParseSidecar(it->path().string())["origin"] == options_.origin) gone.push_back(key);
      }
      swept_orphans_ = true;
    }
    for (const std::string& key : gone) {
      std::error_code ec;
      fs::remove(options_.dest_dir + "/" + key, ec);
      fs::remove(meta_path(key), ec);
      checkpoint_->RecordDelete(key);
      ++stats.deleted;
    }
    if (!gone.empty()) {
      PL_RETURN_IF_ERROR(SyncFilesystem(options_.dest_dir));
      PL_RETURN_IF_ERROR(checkpoint_->Commit());
    }
  }
  // Interrupted: what it did not get to is only known to a full scan.
  if (!stopping()) need_full_scan_ = false;
  return stats;
}

void BucketReplicator::Run(const std::atomic<bool>& stop, Duration interval) {
  std::string last_error;
  while (!stop.load()) {
    const MonoTime started = clock_.Monotonic();
    Result<PassStats> pass = RunPass(&stop);
    if (!pass.ok()) {
      if (pass.status().message() != last_error) LogError("objects: " + pass.status().ToString());
      last_error = pass.status().message();
    } else {
      last_error.clear();
      for (const std::string& a : pass->alarms) LogError("objects ALARM: " + a);
      if (pass->copied || pass->deleted || pass->already_in_place || pass->changed_during_copy) {
        LogInfo("objects " + options_.source_dir + " -> " + options_.dest_dir + ": copied " +
                std::to_string(pass->copied) + " (" + std::to_string(pass->bytes_copied) +
                " B), already in place " + std::to_string(pass->already_in_place) + ", deleted " +
                std::to_string(pass->deleted) + ", changed during copy " +
                std::to_string(pass->changed_during_copy) + ", checksum retries " +
                std::to_string(pass->checksum_retries));
      }
    }
    // Until the interval is over, or sooner when the feed reports a change. The
    // wait is sliced so that `stop` is seen within 50 ms.
    constexpr Duration kSlice = std::chrono::milliseconds(50);
    while (!stop.load()) {
      const Duration left = interval - (clock_.Monotonic() - started);
      if (left <= Duration(0)) break;
      // A failed pass, or a full scan the feed asked for, waits out the interval.
      if (!feed_ || feed_->degraded() || feed_asked_rescan_ || !pass.ok()) {
        std::this_thread::sleep_for(std::min<Duration>(left, std::chrono::milliseconds(20)));
        continue;
      }
      if (feed_->Wait(std::min(left, kSlice))) {
        const Duration settle =
            std::min(options_.change_settle, interval - (clock_.Monotonic() - started));
        if (settle > Duration(0)) std::this_thread::sleep_for(settle);
        break;
      }
    }
  }
}

Result<Backlog> ReadBacklog(const std::string& source_dir, const std::string& state_dir,
                            WallTime now) {
  Result<SourceMap> source = ScanBucket(source_dir, nullptr);
  if (!source.ok()) return source.status();
  Result<VersionMap> done = Checkpoint::Load(CheckpointPath(state_dir));
  if (!done.ok()) return done.status();
  Backlog b;
  for (const auto& [key, e] : *source) {
    if (!Pending(e, *done, key)) continue;
    ++b.objects;
    b.bytes += e.size;
    const WallTime changed{std::chrono::nanoseconds(e.mtime_ns)};
    if (!b.oldest_change || changed < *b.oldest_change) b.oldest_change = changed;
  }
  for (const auto& [key, v] : *done) {
    if (!source->count(key)) ++b.deletes;
  }
  if (b.oldest_change && now > *b.oldest_change) b.lag = now - *b.oldest_change;
  return b;
}

}  // namespace pilotlight::objects
