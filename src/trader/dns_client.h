// A minimal DNS stub resolver for the load client: one A query over UDP to a
// given server, with the answer's TTL, so clients follow a DNS failover the way
// real ones do. (The embedded DNS server lives in src/dns; this is deliberately
// independent of it.)
//
// BuildAQuery and ParseAResponse are pure (bytes in, bytes out) and unit-tested;
// ResolveA does the I/O. All thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/status.h"

namespace pilotlight::trader {

struct ARecords {
  std::vector<std::string> addresses;  // dotted quads, in answer order
  uint32_t ttl_seconds = 0;            // the smallest TTL among them
};

// A query for `name` (e.g. "trade.lab.example.") with recursion desired.
// InvalidArgument for names with empty or over-long labels.
Result<std::vector<uint8_t>> BuildAQuery(const std::string& name, uint16_t id);

// Parses the response to a query with `id`: the A records of the answer section
// (following CNAMEs within it). NotFound for NXDOMAIN or no A record, Unavailable
// for SERVFAIL/REFUSED, Corruption for malformed packets (never reads out of bounds).
Result<ARecords> ParseAResponse(const std::vector<uint8_t>& packet, uint16_t id);

// Asks `server` ("127.0.3.1:53") for the A records of `name`, retrying once on a
// timeout.
Result<ARecords> ResolveA(const std::string& server, const std::string& name, Duration timeout);

}  // namespace pilotlight::trader
