// Ports for tests.
//
// A server a test runs in its own process binds port 0 and reports the port it
// got (see health/test_servers.h, dns::DnsServer::port(), the lease server):
// nothing here is needed for it. This file is for the two cases that cannot:
//
// * ClosedPort: a port where nothing listens, for checks that must be refused.
//   It holds a bound TCP socket that does not listen (a SYN to it is answered
//   with a reset), so nobody else can take the port while the test runs; a
//   port that was bound and closed again could be taken by the next test.
//
// * PickPort: a port to write into the config of a server that needs its port
//   up front (PostgreSQL, Redis, etcd, Knot, the pilotlight binary's listeners).
//   Each test process claims a block of 64 ports of its own below the kernel's
//   ephemeral range (20000-32767): the block is derived from the pid and held
//   with flock(2) on a lock file, so two test processes running at once never
//   draw from the same block (a process that dies drops its claim), and no
//   client's ephemeral port ever lands on one. Within the block, ports are
//   handed out in turn, skipping any that something already holds (TCP or UDP
//   on `address`), e.g. a server left over from a killed test.
//
// Thread-safe.
#pragma once

#include <cstdint>
#include <string>

namespace pilotlight::testing {

class ClosedPort {
 public:
  // REQUIRES: `address` is an IPv4 address of this host (127.x.y.z works).
  explicit ClosedPort(const std::string& address = "127.0.0.1");
  ~ClosedPort();
  ClosedPort(const ClosedPort&) = delete;
  ClosedPort& operator=(const ClosedPort&) = delete;

  uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

// A port of this process's block that nothing holds on `address` right now.
// Records a fatal gtest failure and throws if no port is left (more than 64 in
// use at once by one test process, or every block claimed).
uint16_t PickPort(const std::string& address = "127.0.0.1");

}  // namespace pilotlight::testing
