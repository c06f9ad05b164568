#include "http/descriptor_reserve.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace pilotlight::http {

DescriptorReserve::DescriptorReserve(size_t size) : size_(size) { Refill(); }

DescriptorReserve::~DescriptorReserve() { Release(); }

void DescriptorReserve::Refill() {
  while (fds_.size() < size_) {
    const int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    fds_.push_back(fd);
  }
}

bool DescriptorReserve::Release() {
  if (fds_.empty()) return false;
  for (int fd : fds_) close(fd);
  fds_.clear();
  return true;
}

bool IsOutOfDescriptors(int err) { return err == EMFILE || err == ENFILE; }

}  // namespace pilotlight::http
