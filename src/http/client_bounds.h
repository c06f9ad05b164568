// ClientBounds: how much of an HTTP server one client may hold, and for how long.
//
// Every HTTP server of pilotlight (the trader, the metrics endpoint, the lease
// server) takes one of these, so a client that connects and sends nothing, sends
// headers and never the body, or drips a chunked body forever, holds a slot for
// at most `request_deadline`, and no client address holds more than its share of
// the slots (DESIGN.md rule 6). A plain value; copy it freely.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

#include "core/clock.h"
#include "core/status.h"

namespace pilotlight::http {

struct ClientBounds {
  // From a request's first byte (or the accept, for the first request) to its
  // last body byte: headers and body together. Past it the connection closes.
  Duration request_deadline = std::chrono::seconds(10);
  // Keep-alive: how long a connection may wait for the next request's first byte.
  Duration idle_timeout = std::chrono::seconds(60);
  // Writing one answer (a client that does not read cannot hold a slot forever).
  Duration answer_deadline = std::chrono::seconds(10);
  // Connections open at once, server-wide.
  size_t max_connections = 512;
  // Connections one client address may hold at once; 0: max_connections / 4.
  size_t max_connections_per_client = 0;
  size_t max_header_bytes = 8192;  // request line and headers: beyond, 431
  size_t max_body_bytes = 8192;    // from Content-Length before reading it, or as read: 413
  // Descriptors kept open for the moment the process has none left
  // (descriptor_reserve.h).
  size_t descriptor_reserve = 4;
};

// The per-client share in effect: max_connections_per_client, or a quarter of
// max_connections when 0; never 0 and never above max_connections.
size_t PerClientLimit(const ClientBounds& bounds);

// InvalidArgument naming the field (prefixed by `who`, e.g. "trader serve") for
// a zero cap or deadline, or a share above the cap.
[[nodiscard]] Status Validate(const ClientBounds& bounds, const std::string& who);

}  // namespace pilotlight::http
