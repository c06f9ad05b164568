// DnsServer: the embedded authoritative server's sockets. It owns the UDP and TCP
// I/O and nothing else: every packet goes through dns::Respond against the catalog's
// current snapshot.
//
// UDP runs one thread per worker, each with its own SO_REUSEPORT socket on the same
// address (so the kernel spreads clients over cores) and batched recvmmsg/sendmmsg;
// TCP (RFC 7766: length-prefixed, several queries per connection, idle timeout, a
// cap on connections) runs on one more thread. A packet that cannot be parsed is
// answered (FORMERR) or dropped, never fatal. Start() returns once every socket is
// bound; Stop() (or the destructor) joins the threads (UDP workers notice within
// 200 ms) and closes the sockets. Thread-safe: Stop() and the accessors may be
// called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "core/clock.h"
#include "core/status.h"
#include "dns/zone/catalog.h"
#include "dns/zone/responder.h"

namespace pilotlight::dns {

struct DnsServerOptions {
  std::string address = "127.0.0.1";
  uint16_t port = 53;   // 0: a free port, see DnsServer::port()
  int udp_workers = 0;  // 0: one per core
  size_t max_tcp_connections = 512;
  Duration tcp_idle_timeout = std::chrono::seconds(10);
  ResponderOptions responder;
};

struct DnsServerCounters {
  uint64_t udp_queries = 0;
  uint64_t tcp_queries = 0;
  uint64_t dropped = 0;  // packets not answered (too short, responses)
};

class DnsServer {
 public:
  // Binds UDP and TCP on options.address:port and starts serving `catalog`, which
  // must outlive the server.
  static Result<std::unique_ptr<DnsServer>> Start(const DnsServerOptions& options,
                                                  const Catalog& catalog);
  ~DnsServer();
  DnsServer(const DnsServer&) = delete;
  DnsServer& operator=(const DnsServer&) = delete;

  uint16_t port() const;
  DnsServerCounters counters() const;
  void Stop();

  struct Impl;

 private:
  explicit DnsServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace pilotlight::dns
