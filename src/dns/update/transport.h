// One DNS exchange with a server over TCP (RFC 7766 framing) or UDP, with a deadline.
// Blocking POSIX sockets; thread-compatible (each call uses its own socket).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/status.h"

namespace pilotlight::dns {

struct ServerAddress {
  std::string host;  // an IPv4 or IPv6 address
  uint16_t port = 53;
  std::string ToString() const;
};

Result<std::vector<uint8_t>> ExchangeTcp(const ServerAddress& server,
                                         const std::vector<uint8_t>& query, Duration timeout);
Result<std::vector<uint8_t>> ExchangeUdp(const ServerAddress& server,
                                         const std::vector<uint8_t>& query, Duration timeout);

}  // namespace pilotlight::dns
