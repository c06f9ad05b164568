// Responder: a DNS packet in, a DNS packet out (or nothing), for an authoritative
// server. No sockets, no clock: the server calls it with the bytes it received.
//
// It answers only for the catalog's zones (REFUSED elsewhere: never an open
// resolver), FORMERR for a malformed query, NOTIMP for opcodes other than QUERY,
// BADVERS for EDNS versions above 0, and drops packets it must not answer (shorter
// than a header, or responses). UDP answers are limited to 512 bytes, or to the
// client's EDNS payload size capped by `max_udp_payload`, with TC set when the answer
// does not fit, so the client retries over TCP. Pure and thread-safe.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "dns/zone/catalog.h"

namespace pilotlight::dns {

enum class Transport { kUdp, kTcp };

struct ResponderOptions {
  uint16_t max_udp_payload = 1232;  // the DNS flag day 2020 default
};

// Returns the response, or an empty vector when the packet is to be dropped.
std::vector<uint8_t> Respond(std::span<const uint8_t> packet, Transport transport,
                             const CatalogSnapshot& catalog, uint64_t random,
                             const ResponderOptions& options = {});

}  // namespace pilotlight::dns
