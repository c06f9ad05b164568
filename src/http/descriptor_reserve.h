// DescriptorReserve: a few descriptors held open (on /dev/null) for the moment
// the process has none left.
//
// When accept fails with EMFILE/ENFILE the connection stays at the head of the
// kernel's queue and every later accept fails the same way: a server that just
// retries spins, and one that waits never answers anyone again. With a reserve
// it closes the reserve (Release), accepts, answers or closes that connection,
// and refills (Refill) once a descriptor comes free.
//
// Not thread-safe: call from the accepting thread only.
#pragma once

#include <cstddef>
#include <vector>

namespace pilotlight::http {

class DescriptorReserve {
 public:
  explicit DescriptorReserve(size_t size);  // fills it
  ~DescriptorReserve();
  DescriptorReserve(const DescriptorReserve&) = delete;
  DescriptorReserve& operator=(const DescriptorReserve&) = delete;

  // Opens descriptors until the reserve holds its size again (as many as the
  // process can).
  void Refill();
  // Closes every descriptor held; false when it held none.
  bool Release();
  size_t held() const { return fds_.size(); }

 private:
  size_t size_;
  std::vector<int> fds_;
};

// errno (or an error_code's value) of an accept that failed for want of descriptors.
bool IsOutOfDescriptors(int err);

}  // namespace pilotlight::http
