#include "sys/whole_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace pilotlight::sys {

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
  const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return Status::IOError("cannot open " + dir + " to sync it: " + std::strerror(errno));
  Record("fsync-dir", dir);
  const int rc = ::fsync(dfd);
  const int err = errno;
  ::close(dfd);
  if (rc != 0) return Status::IOError("cannot fsync " + dir + ": " + std::strerror(err));
  return Status::OK();
}

}  // namespace pilotlight::sys
