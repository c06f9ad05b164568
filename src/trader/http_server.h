// The trading service's HTTP/1.1 server: sockets, keep-alive, limits and drain.
//
// Listens on address:port with SO_REUSEPORT, so every instance of a region shares
// the region's address and the kernel spreads connections among them. One thread
// per connection reads a request (headers <= 8 KiB, body <= kMaxBodyBytes, else a
// 400), hands it to Service::Handle and writes the answer. On SIGTERM or SIGINT it
// drains: stops accepting, answers /readyz with 503, lets requests in flight
// finish (closing their connections after the response), closes idle connections
// and returns once all are done or `drain_timeout` has passed. Connections idle
// longer than `idle_timeout` are closed. Boost.Beast stays
// inside http_server.cc.
//
// REQUIRES: called from the main thread, before any other thread is started
// (it blocks SIGTERM/SIGINT in every thread and waits for them itself).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "core/clock.h"
#include "core/status.h"
#include "trader/service.h"

namespace pilotlight::trader {

struct ServerOptions {
  std::string address;
  uint16_t port = 8080;
  Duration drain_timeout = std::chrono::seconds(10);
  Duration idle_timeout = std::chrono::seconds(60);
  int max_connections = 512;
};

// Serves until SIGTERM/SIGINT, then drains. `on_listening` runs once the socket
// listens (e.g. to log or write a pid file).
Status RunHttpServer(const ServerOptions& options, Service& service, const Clock& clock,
                     const std::function<void()>& on_listening);

}  // namespace pilotlight::trader
