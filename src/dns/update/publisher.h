// DnsPublisher: how a failover decision reaches DNS, and its RFC 2136 implementation
// for an external authoritative server (BIND, Knot, PowerDNS).
//
// Publish() makes the server answer exactly `change` for its name and type: one
// DNS UPDATE, signed with TSIG (HMAC-SHA256), that deletes the record set and adds
// the new values atomically; the response code and signature are checked; transient
// failures (no answer, SERVFAIL) are retried with backoff; finally the server is
// queried and must serve the new values, or Publish() fails. Each call is
// independent: an Rfc2136Publisher may be shared by threads (it holds no mutable
// state beyond the clock it sleeps on).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "dns/update/transport.h"
#include "dns/update/tsig.h"
#include "dns/wire/message.h"

namespace pilotlight::dns {

struct RecordSetChange {
  std::string name;  // absolute: "api.pilotlight.test."
  uint16_t type = rrtype::kA;
  uint32_t ttl = 60;
  std::vector<std::string> values;  // presentation form; empty deletes the record set
};

class DnsPublisher {
 public:
  virtual ~DnsPublisher() = default;
  // OK only once the server is seen answering the change.
  virtual Status Publish(const RecordSetChange& change) = 0;
};

struct Rfc2136Options {
  ServerAddress server;
  std::string zone;  // "pilotlight.test."
  TsigKey key;
  Duration timeout = std::chrono::seconds(3);  // per exchange
  int attempts = 3;
  Duration backoff = std::chrono::milliseconds(500);  // doubled after each failed attempt
};

class Rfc2136Publisher final : public DnsPublisher {
 public:
  Rfc2136Publisher(Rfc2136Options options, Clock& clock);
  Status Publish(const RecordSetChange& change) override;

  // The unsigned UPDATE message for `change` (pure; exposed for tests).
  static Result<std::vector<uint8_t>> BuildUpdate(const Name& zone, const RecordSetChange& change,
                                                  uint16_t id);

 private:
  // One try. `retriable` says whether another try could help.
  Status Attempt(const Name& zone, const RecordSetChange& change, bool& retriable);
  // The record data the server serves now for name/type (sorted).
  Result<std::vector<std::string>> Served(const Name& name, uint16_t type, uint32_t* ttl);

  Rfc2136Options options_;
  Clock& clock_;
};

}  // namespace pilotlight::dns
