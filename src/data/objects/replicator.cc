#include "data/objects/replicator.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
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

int64_t MtimeNs(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

// The same file, unchanged: what a copy read is still what the name holds.
bool SameVersion(const struct stat& a, const struct stat& b) {
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino && a.st_size == b.st_size &&
         a.st_mtim.tv_sec == b.st_mtim.tv_sec && a.st_mtim.tv_nsec == b.st_mtim.tv_nsec;
}

// Closes a descriptor when it goes out of scope.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { Close(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  bool ok() const { return fd_ >= 0; }
  int Close() {
    const int rc = fd_ >= 0 ? close(fd_) : 0;
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

bool WriteAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) errno = EIO;
      return false;
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

// SHA-256 of everything `fd` holds, read from its start with pread into `buf`.
Result<std::string> HashFd(int fd, std::string& buf) {
  Sha256 hash;
  off_t offset = 0;
  for (;;) {
    const ssize_t n = pread(fd, buf.data(), buf.size(), offset);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::IOError("cannot read back: " + Errno());
    if (n == 0) return hash.Final();
    hash.Update(std::string_view(buf.data(), static_cast<size_t>(n)));
    offset += n;
  }
}

Status WriteSmallFile(const std::string& path, const std::string& content) {
  Fd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666));
  if (!fd.ok()) return Status::IOError("cannot create " + path + ": " + Errno());
  if (!WriteAll(fd.get(), content.data(), content.size()) || fd.Close() != 0) {
    const std::string err = Errno();
    unlink(path.c_str());
    return Status::IOError("cannot write " + path + ": " + err);
  }
  return Status::OK();
}

// rename(2), creating the destination's directories when they are missing (the
// common case, a directory that exists, costs no more than the rename).
Status RenameIntoPlace(const std::string& from, const std::string& to) {
  if (rename(from.c_str(), to.c_str()) == 0) return Status::OK();
  if (errno == ENOENT) {
    std::error_code ec;
    fs::create_directories(fs::path(to).parent_path(), ec);
    if (rename(from.c_str(), to.c_str()) == 0) return Status::OK();
  }
  return Status::IOError("cannot move " + from + " to " + to + ": " + Errno());
}

std::string Sidecar(const std::string& key, const ObjectVersion& v, const std::string& origin,
                    WallTime now) {
  return "key=" + key + "\nsha256=" + v.sha256 + "\nsize=" + std::to_string(v.size) +
         "\nsource_mtime_ns=" + std::to_string(v.mtime_ns) + "\norigin=" + origin +
         "\nreplicated_at=" + FormatTime(now) + "\n";
}

Result<ReplicaMetadata> ParseSidecar(const std::string& text, const std::string& path) {
  std::map<std::string, std::string> f;
  size_t at = 0;
  while (at < text.size()) {
    size_t end = text.find('\n', at);
    if (end == std::string::npos) end = text.size();
    const std::string_view line(text.data() + at, end - at);
    const size_t eq = line.find('=');
    if (eq != std::string_view::npos) f[std::string(line.substr(0, eq))] = line.substr(eq + 1);
    at = end + 1;
  }
  ReplicaMetadata m;
  m.from_sidecar = true;
  m.sha256 = f["sha256"];
  m.origin = f["origin"];
  m.replicated_at = f["replicated_at"];
  try {
    m.size = std::stoll(f["size"]);
    m.source_mtime_ns = std::stoll(f["source_mtime_ns"]);
  } catch (const std::exception&) {
    return Status::InvalidArgument("the metadata sidecar " + path + " is damaged");
  }
  return m;
}

// The attribute's value: format byte 1, the SHA-256 (32 bytes), the source's
// modification time (ns, 8 bytes little-endian), the time of replication (ms,
// 6 bytes little-endian), the size (LEB128), then the origin's name.
constexpr char kXattrFormat = 1;
constexpr size_t kXattrFixed = 1 + 32 + 8 + 6;

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

std::string EncodeXattr(const ObjectVersion& v, const std::string& origin, WallTime now) {
  std::string out;
  out.reserve(kXattrFixed + 10 + origin.size());
  out += kXattrFormat;
  for (size_t i = 0; i + 1 < v.sha256.size() && i < 64; i += 2) {
    out += static_cast<char>(HexDigit(v.sha256[i]) << 4 | HexDigit(v.sha256[i + 1]));
  }
  auto put_le = [&](uint64_t x, int bytes) {
    for (int i = 0; i < bytes; ++i) out += static_cast<char>(x >> (8 * i) & 0xff);
  };
  put_le(static_cast<uint64_t>(v.mtime_ns), 8);
  const int64_t ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  put_le(static_cast<uint64_t>(ms), 6);
  for (uint64_t x = static_cast<uint64_t>(v.size);; x >>= 7) {
    out += static_cast<char>((x & 0x7f) | (x >= 0x80 ? 0x80 : 0));
    if (x < 0x80) break;
  }
  return out + origin;
}

std::optional<ReplicaMetadata> DecodeXattr(std::string_view v) {
  if (v.size() < kXattrFixed + 1 || v[0] != kXattrFormat) return std::nullopt;
  auto byte = [&](size_t i) { return static_cast<uint64_t>(static_cast<unsigned char>(v[i])); };
  auto get_le = [&](size_t at, int bytes) {
    uint64_t x = 0;
    for (int i = 0; i < bytes; ++i) x |= byte(at + i) << (8 * i);
    return x;
  };
  ReplicaMetadata m;
  static constexpr char kHex[] = "0123456789abcdef";
  for (size_t i = 1; i <= 32; ++i) {
    m.sha256 += kHex[byte(i) >> 4];
    m.sha256 += kHex[byte(i) & 0xf];
  }
  m.source_mtime_ns = static_cast<int64_t>(get_le(33, 8));
  m.replicated_at =
      FormatTime(WallTime(std::chrono::milliseconds(static_cast<int64_t>(get_le(41, 6)))));
  size_t at = kXattrFixed;
  uint64_t size = 0;
  for (int shift = 0;; shift += 7) {
    if (at >= v.size() || shift > 63) return std::nullopt;
    const uint64_t b = byte(at++);
    size |= (b & 0x7f) << shift;
    if (!(b & 0x80)) break;
  }
  m.size = static_cast<int64_t>(size);
  m.origin = std::string(v.substr(at));
  return m;
}

// ReadReplicaMetadata; skips looking for a sidecar unless `sidecars`.
Result<std::optional<ReplicaMetadata>> ReadMetadata(const std::string& dest_dir,
                                                    const std::string& key, bool sidecars) {
  if (sidecars) {
    const std::string path = dest_dir + "/" + kInternalDir + "/meta/" + key;
    Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.ok()) {
      std::string text;
      char buf[4096];
      for (;;) {
        const ssize_t n = read(fd.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return Status::IOError("cannot read " + path + ": " + Errno());
        if (n == 0) break;
        text.append(buf, static_cast<size_t>(n));
      }
      Result<ReplicaMetadata> m = ParseSidecar(text, path);
      if (!m.ok()) return m.status();
      return std::optional<ReplicaMetadata>(std::move(*m));
    }
    if (errno != ENOENT && errno != ENOTDIR) {
      return Status::IOError("cannot open " + path + ": " + Errno());
    }
  }
  const std::string path = dest_dir + "/" + key;
  char buf[4096];
  const ssize_t n = lgetxattr(path.c_str(), kMetadataXattr, buf, sizeof buf);
  if (n < 0) {
    if (errno == ENODATA || errno == ENOTSUP || errno == ENOENT || errno == ENOTDIR) {
      return std::optional<ReplicaMetadata>();
    }
    return Status::IOError("cannot read the metadata attribute of " + path + ": " + Errno());
  }
  std::optional<ReplicaMetadata> m = DecodeXattr(std::string_view(buf, static_cast<size_t>(n)));
  if (!m) {
    return Status::InvalidArgument("the metadata attribute " + std::string(kMetadataXattr) +
                                   " of " + path + " is damaged or of a later release");
  }
  return m;
}

// Any regular file under `dir` (a sidecar).
bool HoldsAFile(const std::string& dir) {
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file(ec)) return true;
  }
  return false;
}

}  // namespace

Result<std::optional<ReplicaMetadata>> ReadReplicaMetadata(const std::string& dest_dir,
                                                           const std::string& key) {
  if (!ValidObjectKey(key)) return Status::InvalidArgument("not an object key: " + key);
  return ReadMetadata(dest_dir, key, /*sidecars=*/true);
}

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
  const bool sidecars = HoldsAFile(options.dest_dir + "/" + kInternalDir + "/meta");
  std::unique_ptr<BucketReplicator> r(
      new BucketReplicator(std::move(options), clock, std::move(*cp), std::move(feed)));
  r->sidecars_present_ = sidecars;
  return r;
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
    std::string sidecar;  // temporary sidecar file ("" when the metadata is on the object)
    ObjectVersion version;
  };
  std::string buf(kChunk, '\0');
  std::string piece;  // a chunk handed to the on_chunk test seam
  for (size_t start = 0; start < todo.size() && !stopping(); start += options_.batch_size) {
    std::vector<Ready> batch;
    const size_t stop_at = std::min(todo.size(), start + options_.batch_size);
    for (size_t i = start; i < stop_at && !stopping(); ++i) {
      const std::string& key = todo[i].second;
      const std::string src = options_.source_dir + "/" + key;
      const std::string dst = options_.dest_dir + "/" + key;
      Ready r{key, "", "", {}};
      auto write_sidecar = [&]() -> Status {
        r.sidecar = internal + "/tmp/" + std::to_string(++tmp_counter_) + ".meta";
        sidecars_present_ = true;
        return WriteSmallFile(r.sidecar, Sidecar(key, r.version, options_.origin, clock_.Now()));
      };
      bool checksum_failed = false;
      bool done = false;
      for (int attempt = 1; attempt <= options_.verify_attempts && !done; ++attempt) {
        checksum_failed = false;
        // What is read is what the descriptor's fstat describes; a stat by name
        // after the copy says whether the name still holds that, unchanged.
        // O_NONBLOCK: a FIFO swapped in since the scan must not block the open
        // (it changes nothing for a regular file).
        Fd in(open(src.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
        struct stat before {};
        if (!in.ok() || fstat(in.get(), &before) != 0 || !S_ISREG(before.st_mode)) {
          break;  // deleted since the scan: a later pass's delete handles it
        }
        struct stat after {};

        // Already identical at the destination (a crash after the rename, or the
        // reverse direction's own copy): record it, do not copy it again. The
        // object may be another replicator's source: its metadata goes to a
        // sidecar, the object is left untouched.
        if (struct stat d{}; attempt == 1 && stat(dst.c_str(), &d) == 0 && S_ISREG(d.st_mode) &&
                             d.st_size == before.st_size) {
          Result<std::string> a = HashFd(in.get(), buf);
          Result<std::string> b = Sha256File(dst);
          if (a.ok() && b.ok() && *a == *b && stat(src.c_str(), &after) == 0 &&
              SameVersion(before, after)) {
            r.version = {*a, before.st_size, MtimeNs(before)};
            PL_RETURN_IF_ERROR(write_sidecar());
            batch.push_back(std::move(r));
            ++stats.already_in_place;
            done = true;
            break;
          }
        }

        const std::string tmp = internal + "/tmp/" + std::to_string(++tmp_counter_) + ".obj";
        Fd out(open(tmp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0666));
        if (!out.ok()) return Status::IOError("cannot create " + tmp + ": " + Errno());
        auto fail = [&](const std::string& what, const std::string& hint = "") {
          const Status s = Status::IOError(what + " " + tmp + ": " + Errno() + hint);
          unlink(tmp.c_str());
          return s;
        };
        Sha256 hash;
        int64_t total = 0;
        for (;;) {
          const ssize_t n = read(in.get(), buf.data(), buf.size());
          if (n < 0 && errno == EINTR) continue;
          if (n <= 0) break;  // a read error is a short copy: "changed" below
          const std::string_view chunk(buf.data(), static_cast<size_t>(n));
          hash.Update(chunk);
          total += n;
          bool written;
          if (options_.on_chunk) {
            piece.assign(chunk);
            options_.on_chunk(key, attempt, piece);
            written = WriteAll(out.get(), piece.data(), piece.size());
          } else {
            written = WriteAll(out.get(), chunk.data(), chunk.size());
          }
          if (!written) return fail("cannot write", " (disk full?)");
        }
        const std::string want = hash.Final();
        if (stat(src.c_str(), &after) != 0 || !SameVersion(before, after) ||
            total != before.st_size) {
          // Written to (or replaced) while we read it: copy it again.
          ++stats.changed_during_copy;
          unlink(tmp.c_str());
          continue;
        }
        Result<std::string> got = HashFd(out.get(), buf);
        if (!got.ok() || *got != want) {
          checksum_failed = true;
          ++stats.checksum_retries;
          LogWarn("object " + key + ": checksum mismatch on arrival (attempt " +
                  std::to_string(attempt) + " of " + std::to_string(options_.verify_attempts) +
                  ")");
          unlink(tmp.c_str());
          continue;
        }
        r.version = {want, before.st_size, MtimeNs(before)};
        if (xattrs_) {
          const std::string value = EncodeXattr(r.version, options_.origin, clock_.Now());
          int rc;
          if (options_.refuse_xattrs) {
            rc = -1;
            errno = ENOTSUP;
          } else {
            rc = fsetxattr(out.get(), kMetadataXattr, value.data(), value.size(), 0);
          }
          // Refused (no attributes on this file system, or none this large: an
          // origin name of kilobytes), not failed (ENOSPC, EIO...): sidecars.
          const bool refused = rc != 0 && (errno == ENOTSUP || errno == EOPNOTSUPP ||
                                           errno == E2BIG || errno == ERANGE || errno == EPERM);
          if (rc != 0 && !refused) return fail("cannot set the metadata attribute of");
          if (refused) {
            const std::string why = Errno();
            xattrs_ = false;
            LogWarn("objects " + options_.dest_dir + ": the file system refuses the attribute " +
                    kMetadataXattr + " (" + why + "); replicas' metadata goes to sidecar " +
                    "files in " + internal + "/meta from now on");
          }
        }
        if (out.Close() != 0) return fail("cannot write");
        if (!xattrs_) {
          if (Status s = write_sidecar(); !s.ok()) {
            unlink(tmp.c_str());
            return s;
          }
        }
        r.tmp = tmp;
        batch.push_back(std::move(r));
        done = true;
      }
      if (!done) {
        if (checksum_failed) {
          stats.alarms.push_back("object '" + key + "': checksum mismatch on arrival in " +
                                 options_.dest_dir + " after " +
                                 std::to_string(options_.verify_attempts) +
                                 " attempts; the DR copy was left as it was; check the disks "
                                 "and the network path");
        }
        // Vanished, or changed while copied on every attempt: looked at again on
        // the next pass.
        recheck_.insert(key);
      }
    }
    if (batch.empty()) continue;

    // Contents durable before any rename; renames durable before the checkpoint.
    PL_RETURN_IF_ERROR(SyncFilesystem(options_.dest_dir));
    for (const Ready& r : batch) {
      if (!r.tmp.empty()) {
        PL_RETURN_IF_ERROR(RenameIntoPlace(r.tmp, options_.dest_dir + "/" + r.key));
        ++stats.copied;
        stats.bytes_copied += r.version.size;
      }
      if (!r.sidecar.empty()) {
        Status s = RenameIntoPlace(r.sidecar, meta_path(r.key));
        if (!s.ok()) return s.Annotate("cannot write the sidecar of " + r.key);
      } else if (sidecars_present_ && unlink(meta_path(r.key).c_str()) != 0 && errno != ENOENT &&
                 errno != ENOTDIR) {
        return Status::IOError("cannot remove the stale sidecar " + meta_path(r.key) + ": " +
                               Errno());
      }
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
      // and whose source was deleted meanwhile: their metadata names our origin.
      // Candidates: the destination's objects and sidecars that neither the
      // source nor the checkpoint knows.
      // A destination that cannot be listed is swept on a later full scan.
      std::set<std::string> candidates;
      Result<SourceMap> held = ScanBucket(options_.dest_dir, nullptr);
      if (!held.ok()) LogWarn("objects: no orphan sweep yet: " + held.status().message());
      for (const auto& [key, e] : held.ok() ? *held : SourceMap{}) {
        if (!source->count(key) && !checkpoint_->entries().count(key)) candidates.insert(key);
      }
      if (sidecars_present_) {
        std::error_code ec;
        const std::string meta = internal + "/meta";
        for (auto it = fs::recursive_directory_iterator(meta, ec);
             !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
          if (!it->is_regular_file()) continue;
          const std::string key = it->path().lexically_relative(meta).string();
          if (source->count(key) || checkpoint_->entries().count(key)) continue;
          candidates.insert(key);
        }
      }
      for (const std::string& key : candidates) {
        Result<std::optional<ReplicaMetadata>> m =
            ReadMetadata(options_.dest_dir, key, sidecars_present_);
        if (!m.ok()) {
          LogWarn("objects: " + m.status().message() + "; " + key + " is not swept");
          continue;
        }
        if (*m && (*m)->origin == options_.origin) gone.push_back(key);
      }
      swept_orphans_ = held.ok();
    }
    for (const std::string& key : gone) {
      std::error_code ec;
      fs::remove(options_.dest_dir + "/" + key, ec);
      if (sidecars_present_) fs::remove(meta_path(key), ec);
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
