#include "testing/ports.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <stdexcept>

namespace pilotlight::testing {
namespace {

constexpr int kFirstPort = 20000;
constexpr int kBlockSize = 64;
constexpr int kBlocks = (32768 - kFirstPort) / kBlockSize;  // 199, all below the ephemeral range

[[noreturn]] void Fail(const std::string& why) {
  GTEST_MESSAGE_(why.c_str(), ::testing::TestPartResult::kFatalFailure);
  throw std::runtime_error(why);
}

sockaddr_in Address(const std::string& address, uint16_t port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  if (inet_pton(AF_INET, address.c_str(), &sa.sin_addr) != 1) {
    Fail("not an IPv4 address: \"" + address + "\" (give one such as 127.0.0.1)");
  }
  return sa;
}

// Whether a socket of `type` can bind `address`:`port` right now (with
// SO_REUSEADDR, as servers bind: a TIME_WAIT left by a past test does not count).
bool Bindable(int type, const sockaddr_in& sa) {
  const int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  const bool ok = bind(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) == 0;
  close(fd);
  return ok;
}

// The block this process holds: claimed on first use, for the process's life.
struct Block {
  std::mutex mu;
  pid_t owner = 0;  // the process that claimed it: a forked child claims its own
  int first = -1;   // first port of the block; -1 = not claimed yet
  int next = 0;    // offset of the next port to hand out
  int lock_fd = -1;
};

Block& TheBlock() {
  static Block block;
  return block;
}

void Claim(Block& b) {
  const char* tmpdir = std::getenv("TMPDIR");
  const std::filesystem::path dir = tmpdir != nullptr && *tmpdir != '\0' ? tmpdir : "/tmp";
  const int start = static_cast<int>(getpid()) % kBlocks;
  for (int i = 0; i < kBlocks; ++i) {
    const int block = (start + i) % kBlocks;
    const std::string lock =
        (dir / ("pilotlight-test-ports-" + std::to_string(block) + ".lock")).string();
    const int fd = open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) continue;
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
      b.lock_fd = fd;  // held until the process exits
      b.owner = getpid();
      b.next = 0;
      b.first = kFirstPort + block * kBlockSize;
      return;
    }
    close(fd);
  }
  Fail("no test port block free: all " + std::to_string(kBlocks) + " lock files " +
       (dir / "pilotlight-test-ports-*.lock").string() + " are held by running processes");
}

}  // namespace

ClosedPort::ClosedPort(const std::string& address) {
  sockaddr_in sa = Address(address, 0);
  fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    const std::string why = "ClosedPort: bind " + address + ":0: " + std::strerror(errno);
    if (fd_ >= 0) close(fd_);
    Fail(why);
  }
  socklen_t len = sizeof sa;
  getsockname(fd_, reinterpret_cast<sockaddr*>(&sa), &len);
  port_ = ntohs(sa.sin_port);
}

ClosedPort::~ClosedPort() {
  if (fd_ >= 0) close(fd_);
}

uint16_t PickPort(const std::string& address) {
  Block& b = TheBlock();
  std::lock_guard<std::mutex> lock(b.mu);
  if (b.first < 0 || b.owner != getpid()) Claim(b);
  for (int tried = 0; tried < kBlockSize; ++tried) {
    const uint16_t port = static_cast<uint16_t>(b.first + b.next);
    b.next = (b.next + 1) % kBlockSize;
    const sockaddr_in sa = Address(address, port);
    if (Bindable(SOCK_STREAM, sa) && Bindable(SOCK_DGRAM, sa)) return port;
  }
  Fail("PickPort: every port of this process's block " + std::to_string(b.first) + "-" +
       std::to_string(b.first + kBlockSize - 1) + " is in use on " + address);
}

}  // namespace pilotlight::testing
