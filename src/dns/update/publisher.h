// DnsPublisher: how a failover decision reaches DNS, and its RFC 2136 implementation
// for an external authoritative server (BIND, Knot, PowerDNS). The controller's DNS
// steps publish to a set of them (controller/dns_publishers.h) and count a step done
// only once every one Serves() the change.
//
// Publish() makes the server answer exactly `change` for its name and type: one
// DNS UPDATE, signed with TSIG (HMAC-SHA256), that deletes the record set and adds
// the new values atomically; the response code and signature are checked; transient
// failures (no answer, SERVFAIL) are retried with backoff; finally the server is
// queried and must serve the new values, or Publish() fails. Each call is
// independent: an Rfc2136Publisher may be shared by threads (it holds no mutable
// state beyond the clock it sleeps on). Serves() is one look: a query over UDP
// (TCP when the answer is truncated) comparing what the server answers with the
// change.
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
  // For a server that routes by itself (the embedded one, through its override
  // file): the routing that gives these values ("secondary", "weights:a=25,b=75",
  // as `pilotlight dns set --to`). Servers holding plain records ignore it.
  std::string routing;
};

class DnsPublisher {
 public:
  virtual ~DnsPublisher() = default;
  // Names the server for logs, errors and the journal: "RFC 2136 server 10.0.0.53:53".
  virtual std::string Describe() const = 0;
  // Makes the server answer `change`; OK once the server accepted it.
  virtual Status Publish(const RecordSetChange& change) = 0;
  // One look at the server: OK when it answers exactly `change` now; otherwise
  // what it answers instead (FailedPrecondition) or why it could not be asked.
  virtual Status Serves(const RecordSetChange& change) = 0;
};

// What a server answers for name/type: the record data (wire form, sorted) and
// the TTL of the last one.
struct ServedRecordSet {
  std::vector<std::string> rdatas;
  uint32_t ttl = 0;
};
enum class QueryTransport { kUdp, kTcp };
// One query for name/type to `server`. Over UDP, a truncated answer is asked
// again over TCP. An answer with an error rcode other than NXDOMAIN is an error.
Result<ServedRecordSet> QueryRecordSet(const ServerAddress& server, const Name& name, uint16_t type,
                                       Duration timeout,
                                       QueryTransport transport = QueryTransport::kUdp);
// OK when `served` is exactly `change` (values and, unless deleted, TTL);
// otherwise FailedPrecondition "<server> serves NAME TYPE = [..] ttl N, not [..]".
Status CompareServed(const std::string& server, const RecordSetChange& change,
                     const ServedRecordSet& served, const Name& origin);

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
  std::string Describe() const override;
  Status Publish(const RecordSetChange& change) override;
  Status Serves(const RecordSetChange& change) override;

  // The unsigned UPDATE message for `change` (pure; exposed for tests).
  static Result<std::vector<uint8_t>> BuildUpdate(const Name& zone, const RecordSetChange& change,
                                                  uint16_t id);

 private:
  // One try. `retriable` says whether another try could help.
  Status Attempt(const Name& zone, const RecordSetChange& change, bool& retriable);
  Result<Name> Zone() const;

  Rfc2136Options options_;
  Clock& clock_;
};

}  // namespace pilotlight::dns
