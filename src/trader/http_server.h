// The trading service's HTTP/1.1 server: sockets, keep-alive, limits and drain.
//
// Listens on address:port with SO_REUSEPORT, so every instance of a region shares
// the region's address and the kernel spreads connections among them. One thread
// per connection reads a request, hands it to Service::Handle and writes the
// answer. What one client may hold is bounded by `bounds` (http/client_bounds.h,
// the same rules as every pilotlight HTTP server): a whole request (headers and
// body) within request_deadline or the connection closes; headers over the limit
// 431, a body over kMaxBodyBytes 413 (from Content-Length, before reading it);
// at most max_connections at once and PerClientLimit of them per client address
// (beyond: 503 and close, at the accept, without a thread); idle keep-alive
// connections close after idle_timeout; out of descriptors, a reserve lets the
// accept take the waiting connection and refuse it instead of spinning. On
// SIGTERM or SIGINT it drains: stops accepting, answers /readyz with 503, lets
// requests in flight finish (closing their connections after the response),
// closes idle connections and returns once all are done or `drain_timeout` has
// passed.
//
// It counts the requests it served (every answered request except the probes
// /healthz and /readyz) in an atomic counter and hands the running total to
// `on_tick` about once a second: `pilotlight trader serve` publishes it beside
// its pid file (ServedCount below) for the controller's auto-scaler, which
// cannot scrape one instance over HTTP since all share one address.
//
// REQUIRES: called from the main thread, before any other thread is started
// (it blocks SIGTERM/SIGINT in every thread and waits for them itself).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "core/clock.h"
#include "core/status.h"
#include "http/client_bounds.h"
#include "trader/service.h"

namespace pilotlight::trader {

// The trader's defaults (ServerOptions::bounds).
http::ClientBounds DefaultBounds();

struct ServerOptions {
  std::string address;
  uint16_t port = 8080;
  Duration drain_timeout = std::chrono::seconds(10);
  // request_deadline 10 s, idle_timeout 60 s, 512 connections, 128 per client
  // address; max_body_bytes is kMaxBodyBytes.
  http::ClientBounds bounds = DefaultBounds();
  // Called on the main thread about once a second with the number of requests
  // served so far (probes excluded), and once more after the drain. May be empty.
  std::function<void(uint64_t served)> on_tick;
};

// The running total of requests one instance served, as it publishes it in
// "<lab>/<region>/<instance>.requests" (beside its pid file), rewritten
// atomically about once a second: one line "<total> <unix time in ms>\n". The
// total restarts from 0 when the instance restarts (readers treat a decrease as
// a reset). Format and Parse are pure; Parse rejects anything else.
struct ServedCount {
  uint64_t total = 0;
  WallTime at;
};
std::string FormatServedCount(const ServedCount& count);
Result<ServedCount> ParseServedCount(const std::string& text);

// Serves until SIGTERM/SIGINT, then drains. `on_listening` runs once the socket
// listens (e.g. to log or write a pid file).
Status RunHttpServer(const ServerOptions& options, Service& service, Clock& clock,
                     const std::function<void()>& on_listening);

}  // namespace pilotlight::trader
