#include "sys/whole_file.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace pilotlight::sys {

Result<std::string> EnsureSecretFile(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    const std::string parent = path.substr(0, slash);
    if (::mkdir(parent.c_str(), 0700) != 0 && errno != EEXIST) {
      return Status::IOError("cannot create " + parent + ": " + std::strerror(errno));
    }
  }
  unsigned char raw[32];
  size_t got = 0;
  while (got < sizeof raw) {
    const ssize_t n = ::getrandom(raw + got, sizeof raw - got, 0);
    if (n < 0 && errno != EINTR) return Status::Internal(std::string("getrandom: ") + std::strerror(errno));
    if (n > 0) got += static_cast<size_t>(n);
  }
  std::string text;
  static constexpr char kHex[] = "0123456789abcdef";
  for (unsigned char b : raw) {
    text += kHex[b >> 4];
    text += kHex[b & 15];
  }
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return ReadSecretFile(path, "the secret file");
    return Status::IOError("cannot create the secret file " + path + ": " + std::strerror(errno));
  }
  const std::string line = text + "\n";
  Status st = Status::OK();
  if (::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size()) || ::fsync(fd) != 0) {
    st = Status::IOError("cannot write the secret file " + path + ": " + std::strerror(errno));
  }
  ::close(fd);
  if (!st.ok()) {
    ::unlink(path.c_str());
    return st;
  }
  return text;
}

Result<std::string> ReadSecretFile(const std::string& file, const std::string& what) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    return Status::NotFound("cannot open " + what + " " + file + ": " + std::strerror(errno));
  }
  struct stat st {};
  std::string text;
  Status bad;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    bad = Status::InvalidArgument(what + " " + file + " is not a regular file");
  } else if ((st.st_mode & 077) != 0) {
    bad = Status::FailedPrecondition(what + " " + file +
                                     " is readable by its group or others; chmod 600 it");
  } else if (st.st_size > 1024) {
    bad = Status::InvalidArgument(what + " " + file + " is over 1 KiB: it should hold one secret");
  } else {
    char buf[1025];
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      bad = Status::IOError("cannot read " + what + " " + file + ": " + std::strerror(errno));
    } else {
      text.assign(buf, static_cast<size_t>(n));
    }
  }
  ::close(fd);
  if (!bad.ok()) return bad;
  const size_t end = text.find_first_of("\r\n");
  if (end != std::string::npos) text.resize(end);
  if (text.empty()) return Status::InvalidArgument(what + " " + file + " is empty");
  return text;
}

Result<std::string> ReadWholeFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::IOError(std::strerror(errno));
  std::string text;
  char buffer[16 * 1024];
  while (true) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n > 0) {
      text.append(buffer, static_cast<size_t>(n));
    } else if (n == 0) {
      break;
    } else if (errno != EINTR) {
      const int err = errno;
      ::close(fd);
      return Status::IOError(std::strerror(err));
    }
  }
  ::close(fd);
  return text;
}

namespace {
DurabilityHook g_durability_hook = nullptr;
void Record(const char* call, const std::string& path) {
  if (g_durability_hook != nullptr) g_durability_hook(call, path);
}
}  // namespace

void SetDurabilityHookForTesting(DurabilityHook hook) { g_durability_hook = hook; }

Status WriteFileAtomically(const std::string& path, const std::string& text, bool durable) {
  const std::string tmp = path + ".tmp." + std::to_string(getpid());
  auto fail = [&](const std::string& what, int err) {
    ::unlink(tmp.c_str());
    return Status::IOError(what + ": " + std::strerror(err));
  };
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IOError("cannot write " + tmp + ": " + std::strerror(errno));
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : EIO;
      ::close(fd);
      return fail("cannot write " + tmp, err);
    }
    done += static_cast<size_t>(n);
  }
  if (durable) {
    Record("fsync", tmp);
    if (::fsync(fd) != 0) {
      const int err = errno;
      ::close(fd);
      return fail("cannot fsync " + tmp, err);
    }
  }
  if (::close(fd) != 0) return fail("cannot write " + tmp, errno);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) return fail("cannot replace " + path, errno);
  if (!durable) return Status::OK();
  Record("rename", path);
  // The rename is a change of the directory: until the directory is synced, a
  // power loss may bring the old name (and content) back.
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "."
                          : slash == 0               ? "/"
                                                     : path.substr(0, slash);
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0)
    return Status::IOError("cannot open " + dir + " to sync it: " + std::strerror(errno));
  Record("fsync-dir", dir);
  const int rc = ::fsync(dfd);
  const int err = errno;
  ::close(dfd);
  if (rc != 0) return Status::IOError("cannot fsync " + dir + ": " + std::strerror(err));
  return Status::OK();
}

}  // namespace pilotlight::sys
