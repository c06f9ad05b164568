#include "data/objects/replicator.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>

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

// Why an entry of type `mode` is not an object; nullopt for a regular file.
std::optional<SkipReason> NotAnObject(mode_t mode) {
  if (S_ISREG(mode)) return std::nullopt;
  if (S_ISLNK(mode)) return SkipReason::kSymlink;
  if (S_ISFIFO(mode)) return SkipReason::kFifo;
  if (S_ISSOCK(mode)) return SkipReason::kSocket;
  if (S_ISCHR(mode) || S_ISBLK(mode)) return SkipReason::kDevice;
  return SkipReason::kOther;
}

std::optional<SkipReason> NotAnObjectType(unsigned char d_type) {
  switch (d_type) {
    case DT_LNK:
      return SkipReason::kSymlink;
    case DT_FIFO:
      return SkipReason::kFifo;
    case DT_SOCK:
      return SkipReason::kSocket;
    case DT_CHR:
    case DT_BLK:
      return SkipReason::kDevice;
    default:
      return SkipReason::kOther;
  }
}

SourceEntry EntryOf(const struct stat& st) {
  return SourceEntry{static_cast<int64_t>(st.st_size),
                     static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec};
}

// openat2(2) where the kernel has it (Linux 5.6), else -1 with errno ENOSYS.
int OpenAt2(int dirfd, const char* path, int flags, uint64_t resolve) {
#ifdef SYS_openat2
  struct open_how how {};
  how.flags = static_cast<uint64_t>(flags);
  how.resolve = resolve;
  return static_cast<int>(syscall(SYS_openat2, dirfd, path, &how, sizeof how));
#else
  errno = ENOSYS;
  return -1;
#endif
}

std::atomic<bool> g_no_openat2{false};

// Opens `key` beneath the directory `root` without following a symbolic link
// anywhere on its path (the last component included: ELOOP), so that what is
// opened is inside the bucket. `flags` are open(2)'s; O_NOFOLLOW is added.
int OpenBeneath(int root, const std::string& key, int flags, bool by_components) {
  flags |= O_NOFOLLOW | O_CLOEXEC;
  if (!by_components && !g_no_openat2.load(std::memory_order_relaxed)) {
    const int fd = OpenAt2(root, key.c_str(), flags, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS);
    // ENOSYS: an older kernel; EPERM: a seccomp filter that does not know it.
    if (fd >= 0 || (errno != ENOSYS && errno != EPERM)) return fd;
    g_no_openat2.store(true, std::memory_order_relaxed);
  }
  // One component at a time, each without following a link.
  int dir = root;
  size_t at = 0;
  for (;;) {
    const size_t slash = key.find('/', at);
    if (slash == std::string::npos) break;
    const std::string part = key.substr(at, slash - at);
    const int next = openat(dir, part.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    const int saved = errno;
    if (dir != root) close(dir);
    if (next < 0) {
      // A link where a directory should be: O_DIRECTORY | O_NOFOLLOW says ENOTDIR.
      struct stat st {};
      const std::string prefix = key.substr(0, slash);
      const bool link = saved == ENOTDIR &&
                        fstatat(root, prefix.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                        S_ISLNK(st.st_mode);
      errno = link ? ELOOP : saved;
      return -1;
    }
    dir = next;
    at = slash + 1;
  }
  const int fd = openat(dir, key.c_str() + at, flags);
  const int saved = errno;
  if (dir != root) close(dir);
  errno = saved;
  return fd;
}

// What `key` of the bucket open at `root` is, not following links: a regular
// file (its entry), an entry that is not an object (its reason), or neither
// (gone; a link on its path makes it not inside the bucket, so gone too).
struct KeyState {
  std::optional<SourceEntry> object;
  std::optional<SkipReason> skipped;
};
KeyState StatKey(int root, const std::string& key, bool by_components) {
  const int fd = OpenBeneath(root, key, O_PATH, by_components);
  if (fd < 0) return {};
  struct stat st {};
  const int rc = fstat(fd, &st);
  close(fd);
  if (rc != 0) return {};
  if (std::optional<SkipReason> why = NotAnObject(st.st_mode)) return {std::nullopt, why};
  return {EntryOf(st), std::nullopt};
}

// Every regular file under `dir` except pilotlight's own directory; `skipped`
// collects the entries that are not (symbolic links, FIFOs, sockets, devices:
// never followed, never opened) and `invalid` names that cannot be object keys.
// Linked directories are not descended into (they are skipped links). Walks
// with directory descriptors (readdir + fstatat): one path component to resolve
// per stat, and no path objects per entry.
class BucketScanner {
 public:
  BucketScanner(std::string root, std::vector<SkippedEntry>* skipped,
                std::vector<std::string>* invalid)
      : root_(std::move(root)), skipped_(skipped), invalid_(invalid) {}

  Result<SourceMap> Scan() {
    const int fd = open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return Status::IOError("cannot list bucket " + root_ + ": " + Errno());
    PL_RETURN_IF_ERROR(ScanDir(fd, ""));
    return std::move(out_);
  }

 private:
  void Skip(const std::string& key, SkipReason reason) {
    if (skipped_) skipped_->push_back({key, reason, 0});
  }

  // Takes ownership of `fd`.
  Status ScanDir(int fd, const std::string& rel) {
    DIR* d = fdopendir(fd);
    if (d == nullptr) {
      close(fd);
      return Status::IOError("cannot list bucket " + root_ + ": " + EscapeKey(rel) + ": " +
                             Errno());
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
      const std::string key = rel.empty() ? std::string(name) : rel + "/" + name;
      if (e->d_type == DT_DIR) {
        subdirs.push_back(name);
        continue;
      }
      if (e->d_type != DT_REG && e->d_type != DT_UNKNOWN) {
        Skip(key, *NotAnObjectType(e->d_type));
        continue;
      }
      struct stat st {};
      if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;  // gone
      if (S_ISDIR(st.st_mode)) {
        subdirs.push_back(name);
        continue;
      }
      if (std::optional<SkipReason> why = NotAnObject(st.st_mode)) {
        Skip(key, *why);
        continue;
      }
      if (!ValidObjectKey(key)) {
        if (invalid_) invalid_->push_back(key);
        continue;
      }
      out_[key] = EntryOf(st);
    }
    Status status = Status::OK();
    if (read_error != 0) {
      status = Status::IOError("cannot list bucket " + root_ + ": " + EscapeKey(rel) + ": " +
                               std::strerror(read_error));
    }
    for (size_t i = 0; status.ok() && i < subdirs.size(); ++i) {
      const int sub =
          openat(dirfd(d), subdirs[i].c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      const std::string sub_rel = rel.empty() ? subdirs[i] : rel + "/" + subdirs[i];
      if (sub < 0) {
        if (errno == ELOOP || errno == ENOTDIR) {
          // Replaced since it was listed: a link is skipped, a file is seen next scan.
          struct stat st {};
          if (fstatat(dirfd(d), subdirs[i].c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
            if (std::optional<SkipReason> why = NotAnObject(st.st_mode)) Skip(sub_rel, *why);
          }
          continue;
        }
        if (errno == ENOENT) continue;  // gone meanwhile
        status = Status::IOError("cannot list bucket " + root_ + ": " + EscapeKey(sub_rel) + ": " +
                                 Errno());
        break;
      }
      status = ScanDir(sub, sub_rel);
    }
    closedir(d);
    return status;
  }

  std::string root_;
  std::vector<SkippedEntry>* skipped_;
  std::vector<std::string>* invalid_;
  SourceMap out_;
};

Result<SourceMap> ScanBucket(const std::string& dir, std::vector<SkippedEntry>* skipped,
                             std::vector<std::string>* invalid) {
  return BucketScanner(dir, skipped, invalid).Scan();
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

bool PwriteAll(int fd, const char* data, size_t size, int64_t offset) {
  while (size > 0) {
    const ssize_t n = pwrite(fd, data, size, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) errno = EIO;
      return false;
    }
    data += n;
    size -= static_cast<size_t>(n);
    offset += n;
  }
  return true;
}

// kChunk zero bytes: what a hole reads as.
const char* ZeroChunk() {
  static const std::string zeros(kChunk, '\0');
  return zeros.data();
}

// The content of a small file; "" when it cannot be read.
std::string ReadSmallFile(const std::string& path) {
  Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  std::string text;
  char buf[4096];
  while (fd.ok()) {
    const ssize_t n = read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  return text;
}

// Where a replicator lists the objects it refuses (see replicator.h): one line
// per object, "<reason> <size> <escaped key>".
std::string NotReplicatedPath(const std::string& state_dir) {
  return state_dir + "/not-replicated";
}

// SHA-256 of everything `fd` holds, read from its start with pread into `buf`.
// The holes of a sparse file are hashed as the zeros they read as, not read.
Result<std::string> HashFd(int fd, std::string& buf) {
  Sha256 hash;
  off_t offset = 0;
  struct stat st {};
  const bool sparse = fstat(fd, &st) == 0 && static_cast<int64_t>(st.st_blocks) * 512 < st.st_size;
  for (;;) {
    if (sparse && offset < st.st_size) {
      off_t data = lseek(fd, offset, SEEK_DATA);
      if (data < 0) data = errno == ENXIO ? st.st_size : offset;  // ENXIO: a hole to the end
      for (data = std::min<off_t>(data, st.st_size); offset < data;) {
        const size_t n = static_cast<size_t>(std::min<off_t>(data - offset, kChunk));
        hash.Update(std::string_view(ZeroChunk(), n));
        offset += static_cast<off_t>(n);
      }
    }
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
  return Status::IOError("cannot move " + from + " to " + EscapeKey(to) + ": " + Errno());
}

std::string Sidecar(const std::string& key, const ObjectVersion& v, const std::string& origin,
                    WallTime now) {
  return "key=" + EscapeKey(key) + "\nsha256=" + v.sha256 + "\nsize=" + std::to_string(v.size) +
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

const char* SkipReasonName(SkipReason reason) {
  switch (reason) {
    case SkipReason::kSymlink:
      return "symbolic link";
    case SkipReason::kFifo:
      return "FIFO";
    case SkipReason::kSocket:
      return "socket";
    case SkipReason::kDevice:
      return "device";
    case SkipReason::kOther:
      return "not a regular file";
    case SkipReason::kTooLarge:
      return "too large";
  }
  return "not a regular file";
}

bool LeavesObjectMissing(SkipReason reason) { return reason == SkipReason::kTooLarge; }

Result<std::optional<ReplicaMetadata>> ReadReplicaMetadata(const std::string& dest_dir,
                                                           const std::string& key) {
  if (!ValidObjectKey(key)) {
    return Status::InvalidArgument("not an object key: " + EscapeKey(key));
  }
  return ReadMetadata(dest_dir, key, /*sidecars=*/true);
}

std::string CheckpointPath(const std::string& state_dir) { return state_dir + "/checkpoint.log"; }

Result<std::unique_ptr<BucketReplicator>> BucketReplicator::Open(ReplicatorOptions options,
                                                                 Clock& clock) {
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
  r->saved_not_replicated_ = ReadSmallFile(NotReplicatedPath(r->options_.state_dir));
  return r;
}

void BucketReplicator::NoteSkipped(const std::string& key, std::optional<SkippedEntry> entry,
                                   PassStats& stats) {
  auto it = skipped_.find(key);
  if (!entry) {
    if (it != skipped_.end()) skipped_.erase(it);
    return;
  }
  if (it != skipped_.end() && it->second.reason == entry->reason) {
    it->second = std::move(*entry);
    return;
  }
  // New, or skipped for another reason than before: said once, here.
  const std::string what = "'" + EscapeKey(key) + "' in " + options_.source_dir;
  if (entry->reason == SkipReason::kTooLarge) {
    if (++alarmed_this_pass_ > kSkipLogsPerPass) {
      skipped_[key] = std::move(*entry);
      return;
    }
    stats.alarms.push_back("object " + what + " is not replicated: " + std::to_string(entry->size) +
                           " B is over the limit of " + std::to_string(options_.max_object_bytes) +
                           " B (max_object_bytes); DR lacks it until it is made smaller or the "
                           "limit is raised");
  } else if (++logged_this_pass_ <= kSkipLogsPerPass) {
    LogWarn("objects: " + what + " is not replicated: a " + SkipReasonName(entry->reason) +
            ", not a regular file (only regular files are objects)");
  }
  skipped_[key] = std::move(*entry);
}

Status BucketReplicator::SaveNotReplicated() {
  std::string text;
  for (const auto& [key, e] : skipped_) {
    if (!LeavesObjectMissing(e.reason)) continue;
    text += std::string(e.reason == SkipReason::kTooLarge ? "too-large" : "other") + " " +
            std::to_string(e.size) + " " + EscapeKey(key) + "\n";
  }
  if (text == saved_not_replicated_) return Status::OK();
  // Advisory (a crash loses nothing: the next full pass writes it again), so no sync.
  const std::string path = NotReplicatedPath(options_.state_dir);
  const std::string tmp = path + ".tmp";
  PL_RETURN_IF_ERROR(WriteSmallFile(tmp, text));
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    return Status::IOError("cannot move " + tmp + " to " + path + ": " + Errno());
  }
  saved_not_replicated_ = std::move(text);
  return Status::OK();
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
  logged_this_pass_ = 0;
  alarmed_this_pass_ = 0;
  // The source's root for this pass: every object is opened beneath it.
  Fd root(open(options_.source_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root.ok()) {
    return Status::IOError("cannot open bucket " + options_.source_dir + ": " + Errno());
  }
  // Over the size limit: an object, refused.
  auto too_large = [&](const std::string& key,
                       const SourceEntry& e) -> std::optional<SkippedEntry> {
    if (options_.max_object_bytes <= 0 || e.size <= options_.max_object_bytes) return std::nullopt;
    return SkippedEntry{key, SkipReason::kTooLarge, e.size};
  };
  if (stats.full_scan) {
    last_full_scan_ = now;
    recheck_.clear();
    std::vector<SkippedEntry> found;
    source = ScanBucket(options_.source_dir, &found, &invalid);
    if (!source.ok()) return source.status();
    stats.scanned = static_cast<int64_t>(source->size());
    for (const auto& [key, e] : *source) {
      if (std::optional<SkippedEntry> big = too_large(key, e)) found.push_back(std::move(*big));
    }
    std::set<std::string> now_skipped;
    for (SkippedEntry& f : found) {
      now_skipped.insert(f.key);
      const std::string key = f.key;
      NoteSkipped(key, std::move(f), stats);
    }
    for (auto it = skipped_.begin(); it != skipped_.end();) {
      it = now_skipped.count(it->first) ? std::next(it) : skipped_.erase(it);
    }
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
      for (auto it = skipped_.lower_bound(prefix);
           it != skipped_.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
        checked.insert(it->first);
      }
    }
    for (const std::string& key : checked) {
      if (!ValidObjectKey(key)) {
        invalid.push_back(key);
        continue;
      }
      ++stats.scanned;
      const KeyState k = StatKey(root.get(), key, options_.open_by_components);
      std::optional<SkippedEntry> skip;
      if (k.skipped) skip = SkippedEntry{key, *k.skipped, 0};
      if (k.object) {
        skip = too_large(key, *k.object);
        (*source)[key] = *k.object;
      }
      NoteSkipped(key, std::move(skip), stats);
    }
  }
  for (const std::string& key : invalid) {
    stats.alarms.push_back("object '" + EscapeKey(key) + "' in " + options_.source_dir +
                           " has a name that cannot be replicated; rename it");
  }
  const std::string internal = options_.dest_dir + "/" + kInternalDir;
  auto meta_path = [&](const std::string& key) { return internal + "/meta/" + key; };
  auto stopping = [&] { return stop != nullptr && stop->load(); };

  // Objects to copy, oldest change first: the lag falls fastest that way.
  std::vector<std::pair<int64_t, std::string>> todo;
  for (const auto& [key, e] : *source) {
    if (skipped_.count(key)) continue;  // over the size limit
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
        // Opened beneath the bucket without following a link (a link swapped in
        // since the scan is refused, never read through), O_NONBLOCK: a FIFO
        // swapped in must not block the open (it changes nothing for a regular
        // file); what was opened must be a regular file.
        Fd in(OpenBeneath(root.get(), key, O_RDONLY | O_NONBLOCK, options_.open_by_components));
        struct stat before {};
        if (!in.ok() && errno == ELOOP) {
          NoteSkipped(key, SkippedEntry{key, SkipReason::kSymlink, 0}, stats);
          break;
        }
        if (!in.ok() || fstat(in.get(), &before) != 0) {
          break;  // deleted since the scan: a later pass's delete handles it
        }
        if (std::optional<SkipReason> why = NotAnObject(before.st_mode)) {
          NoteSkipped(key, SkippedEntry{key, *why, 0}, stats);
          break;
        }
        if (std::optional<SkippedEntry> big = too_large(key, EntryOf(before))) {
          NoteSkipped(key, std::move(big), stats);  // grew over the limit since the scan
          break;
        }
        struct stat after {};
        // The name, not followed: a link swapped in is another file.
        auto still_there = [&] {
          return fstatat(root.get(), key.c_str(), &after, AT_SYMLINK_NOFOLLOW) == 0 &&
                 SameVersion(before, after);
        };

        // Already identical at the destination (a crash after the rename, or the
        // reverse direction's own copy): record it, do not copy it again. The
        // object may be another replicator's source: its metadata goes to a
        // sidecar, the object is left untouched.
        if (struct stat d{}; attempt == 1 && lstat(dst.c_str(), &d) == 0 && S_ISREG(d.st_mode) &&
                             d.st_size == before.st_size) {
          Result<std::string> a = HashFd(in.get(), buf);
          Result<std::string> b = Sha256File(dst);
          if (a.ok() && b.ok() && *a == *b && still_there()) {
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
        // The data extents only (SEEK_DATA / SEEK_HOLE): a hole is hashed as the
        // zeros it reads as and left a hole in the copy, so DR uses about the
        // blocks the source does. A file system without extent lookup reports the
        // whole file as one extent. A file with as many blocks as bytes has no
        // hole to look for (the common case: no lseek, no ftruncate).
        Sha256 hash;
        const int64_t size = before.st_size;
        const bool sparse = static_cast<int64_t>(before.st_blocks) * 512 < size;
        int64_t total = 0;  // bytes accounted for, holes included
        bool short_read = false;
        while (total < size && !short_read) {
          off_t data = sparse ? lseek(in.get(), total, SEEK_DATA) : total;
          if (data < 0) data = errno == ENXIO ? size : total;  // ENXIO: a hole to the end
          off_t hole = sparse && data < size ? lseek(in.get(), data, SEEK_HOLE) : size;
          if (hole < 0 || hole > size) hole = size;
          for (int64_t zeros = std::min<int64_t>(data, size) - total; zeros > 0;) {
            const size_t n = static_cast<size_t>(std::min<int64_t>(zeros, kChunk));
            hash.Update(std::string_view(ZeroChunk(), n));
            zeros -= static_cast<int64_t>(n);
            total += static_cast<int64_t>(n);
          }
          while (total < hole) {
            const size_t want_n = static_cast<size_t>(std::min<int64_t>(hole - total, kChunk));
            const ssize_t n = pread(in.get(), buf.data(), want_n, total);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {  // shrunk, or a read error: a short copy, "changed" below
              short_read = true;
              break;
            }
            const std::string_view chunk(buf.data(), static_cast<size_t>(n));
            hash.Update(chunk);
            bool written;
            if (options_.on_chunk) {
              piece.assign(chunk);
              options_.on_chunk(key, attempt, piece);
              written = PwriteAll(out.get(), piece.data(), piece.size(), total);
            } else {
              written = PwriteAll(out.get(), chunk.data(), chunk.size(), total);
            }
            if (!written) return fail("cannot write", " (disk full?)");
            total += n;
          }
        }
        // The trailing hole.
        if (sparse && ftruncate(out.get(), size) != 0) return fail("cannot size", " (disk full?)");
        const std::string want = hash.Final();
        if (short_read || total != size || !still_there()) {
          // Written to (or replaced) while we read it: copy it again.
          ++stats.changed_during_copy;
          unlink(tmp.c_str());
          continue;
        }
        Result<std::string> got = HashFd(out.get(), buf);
        if (!got.ok() || *got != want) {
          checksum_failed = true;
          ++stats.checksum_retries;
          LogWarn("object " + EscapeKey(key) + ": checksum mismatch on arrival (attempt " +
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
          stats.alarms.push_back("object '" + EscapeKey(key) +
                                 "': checksum mismatch on arrival in " + options_.dest_dir +
                                 " after " + std::to_string(options_.verify_attempts) +
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
        if (!s.ok()) return s.Annotate("cannot write the sidecar of " + EscapeKey(r.key));
      } else if (sidecars_present_ && unlink(meta_path(r.key).c_str()) != 0 && errno != ENOENT &&
                 errno != ENOTDIR) {
        return Status::IOError("cannot remove the stale sidecar " + EscapeKey(meta_path(r.key)) +
                               ": " + Errno());
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
      Result<SourceMap> held = ScanBucket(options_.dest_dir, nullptr, nullptr);
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
          LogWarn("objects: " + m.status().message() + "; " + EscapeKey(key) + " is not swept");
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
  if (alarmed_this_pass_ > kSkipLogsPerPass) {
    stats.alarms.push_back(std::to_string(alarmed_this_pass_ - kSkipLogsPerPass) +
                           " more objects of " + options_.source_dir +
                           " are not replicated: over the size limit (max_object_bytes); see " +
                           NotReplicatedPath(options_.state_dir));
  }
  if (logged_this_pass_ > kSkipLogsPerPass) {
    LogWarn("objects: " + std::to_string(logged_this_pass_ - kSkipLogsPerPass) +
            " more entries of " + options_.source_dir +
            " are not replicated (not regular files); `replication status` counts them");
  }
  stats.skipped.reserve(skipped_.size());
  for (const auto& [key, e] : skipped_) stats.skipped.push_back(e);
  PL_RETURN_IF_ERROR(SaveNotReplicated());
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
        clock_.SleepFor(std::min<Duration>(left, std::chrono::milliseconds(20)));
        continue;
      }
      if (feed_->Wait(std::min(left, kSlice))) {
        const Duration settle =
            std::min(options_.change_settle, interval - (clock_.Monotonic() - started));
        if (settle > Duration(0)) clock_.SleepFor(settle);
        break;
      }
    }
  }
}

Result<Backlog> ReadBacklog(const std::string& source_dir, const std::string& state_dir,
                            WallTime now) {
  std::vector<SkippedEntry> skipped;
  std::vector<std::string> invalid;
  Result<SourceMap> source = ScanBucket(source_dir, &skipped, &invalid);
  if (!source.ok()) return source.status();
  Result<VersionMap> done = Checkpoint::Load(CheckpointPath(state_dir));
  if (!done.ok()) return done.status();
  // The objects the replicator refused, as it last listed them.
  std::set<std::string> refused;
  const std::string listed = ReadSmallFile(NotReplicatedPath(state_dir));
  for (size_t at = 0; at < listed.size();) {
    size_t end = listed.find('\n', at);
    if (end == std::string::npos) end = listed.size();
    const std::string_view line(listed.data() + at, end - at);
    at = end + 1;
    const size_t a = line.find(' ');
    const size_t b = a == std::string_view::npos ? a : line.find(' ', a + 1);
    if (b == std::string_view::npos) continue;
    if (std::optional<std::string> key = UnescapeKey(line.substr(b + 1))) refused.insert(*key);
  }
  Backlog b;
  for (const auto& [key, e] : *source) {
    if (!Pending(e, *done, key)) continue;
    ++b.objects;
    b.bytes += e.size;
    if (refused.count(key)) {
      ++b.not_replicated;
      b.not_replicated_bytes += e.size;
    }
    const WallTime changed{std::chrono::nanoseconds(e.mtime_ns)};
    if (!b.oldest_change || changed < *b.oldest_change) b.oldest_change = changed;
  }
  // A name that cannot be a key (none that a directory listing can produce) is an
  // object DR lacks.
  b.objects += static_cast<int64_t>(invalid.size());
  b.not_replicated += static_cast<int64_t>(invalid.size());
  for (const SkippedEntry& s : skipped) ++b.skipped[s.reason];
  for (const auto& [key, v] : *done) {
    if (!source->count(key)) ++b.deletes;
  }
  if (b.oldest_change && now > *b.oldest_change) b.lag = now - *b.oldest_change;
  return b;
}

}  // namespace pilotlight::objects
