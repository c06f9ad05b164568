#include "dns/update/publisher.h"

#include <algorithm>
#include <random>

#include "core/log.h"

namespace pilotlight::dns {
namespace {

uint16_t RandomId() {
  static thread_local std::mt19937 rng(std::random_device{}());
  return static_cast<uint16_t>(rng());
}

}  // namespace

Rfc2136Publisher::Rfc2136Publisher(Rfc2136Options options, Clock& clock)
    : options_(std::move(options)), clock_(clock) {}

Result<std::vector<uint8_t>> Rfc2136Publisher::BuildUpdate(const Name& zone,
                                                           const RecordSetChange& change,
                                                           uint16_t id) {
  Result<Name> name = Name::FromString(change.name);
  if (!name.ok()) return name.status();
  if (!name->IsSubdomainOf(zone)) {
    return Status::InvalidArgument(name->ToString() + " is not in zone " + zone.ToString());
  }
  Message m;
  m.header.id = id;
  m.header.opcode = Opcode::kUpdate;
  m.questions.push_back({zone, rrtype::kSoa, rrclass::kIn});  // the zone section
  // Update section: delete the whole record set, then add each value (RFC 2136 2.5).
  m.authority.push_back({*name, change.type, rrclass::kAny, 0, ""});
  for (const std::string& v : change.values) {
    Result<std::string> rdata = RdataFromString(change.type, v, zone);
    if (!rdata.ok()) return rdata.status();
    m.authority.push_back({*name, change.type, rrclass::kIn, change.ttl, *rdata});
  }
  std::vector<uint8_t> wire = BuildMessage(m);
  if (wire[2] & 0x02) return Status::InvalidArgument("update for " + change.name + " too large");
  return wire;
}

Result<ServedRecordSet> QueryRecordSet(const ServerAddress& server, const Name& name, uint16_t type,
                                       Duration timeout, QueryTransport transport) {
  Message q;
  q.header.id = RandomId();
  q.header.rd = false;
  q.questions.push_back({name, type, rrclass::kIn});
  const std::vector<uint8_t> query = BuildMessage(q);
  Result<std::vector<uint8_t>> wire = transport == QueryTransport::kUdp
                                          ? ExchangeUdp(server, query, timeout)
                                          : ExchangeTcp(server, query, timeout);
  if (!wire.ok()) return wire.status();
  Result<Message> r = ParseMessage(*wire);
  if (!r.ok())
    return r.status().Annotate("query for " + name.ToString() + " to " + server.ToString());
  if (r->header.id != q.header.id) {
    return Status::Corruption("answer from " + server.ToString() + " with another id");
  }
  if (r->header.tc && transport == QueryTransport::kUdp) {
    return QueryRecordSet(server, name, type, timeout, QueryTransport::kTcp);
  }
  if (r->rcode() != Rcode::kNoError && r->rcode() != Rcode::kNxDomain) {
    return Status::Unavailable("query for " + name.ToString() + " " + TypeName(type) + " to " +
                               server.ToString() + " got " + RcodeName(r->rcode()));
  }
  ServedRecordSet out;
  for (const ResourceRecord& rr : r->answers) {
    if (rr.type == type && rr.name == name) {
      out.rdatas.push_back(rr.rdata);
      out.ttl = rr.ttl;
    }
  }
  std::sort(out.rdatas.begin(), out.rdatas.end());
  return out;
}

Status CompareServed(const std::string& server, const RecordSetChange& change,
                     const ServedRecordSet& served, const Name& origin) {
  std::vector<std::string> expected;
  for (const std::string& v : change.values) {
    Result<std::string> rdata = RdataFromString(change.type, v, origin);
    if (!rdata.ok()) return rdata.status().Annotate(change.name + " " + TypeName(change.type));
    expected.push_back(*rdata);
  }
  std::sort(expected.begin(), expected.end());
  expected.erase(std::unique(expected.begin(), expected.end()), expected.end());
  if (served.rdatas == expected && (expected.empty() || served.ttl == change.ttl)) {
    return Status::OK();
  }
  auto text = [&](const std::vector<std::string>& rdatas) {
    std::string out;
    for (const std::string& r : rdatas)
      out += (out.empty() ? "" : " ") + RdataToString(change.type, r);
    return "[" + out + "]";
  };
  return Status::FailedPrecondition(server + " serves " + change.name + " " +
                                    TypeName(change.type) + " = " + text(served.rdatas) + " ttl " +
                                    std::to_string(served.ttl) + ", not " + text(expected) +
                                    " ttl " + std::to_string(change.ttl));
}

std::string Rfc2136Publisher::Describe() const {
  return "RFC 2136 server " + options_.server.ToString() + " (zone " + options_.zone + ")";
}

Result<Name> Rfc2136Publisher::Zone() const {
  std::string zone_text = options_.zone;
  if (zone_text.empty() || zone_text.back() != '.') zone_text += '.';
  Result<Name> zone = Name::FromString(zone_text);
  if (!zone.ok()) return zone.status().Annotate("zone");
  return zone;
}

Status Rfc2136Publisher::Serves(const RecordSetChange& change) {
  Result<Name> zone = Zone();
  if (!zone.ok()) return zone.status();
  Result<Name> name = Name::FromString(change.name);
  if (!name.ok()) return name.status();
  Result<ServedRecordSet> served =
      QueryRecordSet(options_.server, *name, change.type, options_.timeout);
  if (!served.ok()) return served.status();
  return CompareServed(options_.server.ToString(), change, *served, *zone);
}

Status Rfc2136Publisher::Attempt(const Name& zone, const RecordSetChange& change, bool& retriable) {
  retriable = false;
  const uint16_t id = RandomId();
  Result<std::vector<uint8_t>> update = BuildUpdate(zone, change, id);
  if (!update.ok()) return update.status();
  Result<std::string> mac = SignMessage(*update, options_.key, clock_.Now());
  if (!mac.ok()) return mac.status();
  Result<std::vector<uint8_t>> wire = ExchangeTcp(options_.server, *update, options_.timeout);
  if (!wire.ok()) {
    retriable = true;
    return wire.status();
  }
  Result<Message> response = ParseMessage(*wire);
  if (!response.ok()) {
    retriable = true;
    return response.status().Annotate("UPDATE response from " + options_.server.ToString());
  }
  if (response->header.id != id || !response->header.qr ||
      response->header.opcode != Opcode::kUpdate) {
    retriable = true;
    return Status::Corruption("UPDATE response from " + options_.server.ToString() +
                              " does not match the request");
  }
  const Rcode rcode = response->rcode();
  Status signature = VerifyResponse(*wire, options_.key, *mac, clock_.Now());
  // An unsigned error (e.g. NOTAUTH for a zone the server does not serve) is still a
  // failure worth reporting by its rcode; an unsigned or forged success is not trusted.
  const bool unsigned_error =
      signature.code() == Status::Code::kNotFound && rcode != Rcode::kNoError;
  if (!signature.ok() && !unsigned_error) {
    return signature.Annotate("UPDATE to " + options_.server.ToString());
  }
  if (rcode == Rcode::kServFail) {
    retriable = true;
    return Status::Unavailable("UPDATE to " + options_.server.ToString() + " failed: SERVFAIL");
  }
  if (rcode != Rcode::kNoError) {
    std::string hint;
    if (rcode == Rcode::kRefused || rcode == Rcode::kNotAuth) {
      hint = ": the server does not allow this key to update " + zone.ToString() +
             " (check its ACL / update-policy)";
    } else if (rcode == Rcode::kNotZone) {
      hint = ": " + change.name + " is not in the zone the server knows as " + zone.ToString();
    }
    return Status::FailedPrecondition("UPDATE of " + change.name + " " + TypeName(change.type) +
                                      " rejected by " + options_.server.ToString() + ": " +
                                      RcodeName(rcode) + hint +
                                      (unsigned_error ? " (unsigned response)" : ""));
  }
  // Verify: the server must now serve exactly the new values.
  Result<ServedRecordSet> served =
      QueryRecordSet(options_.server, *Name::FromString(change.name), change.type, options_.timeout,
                     QueryTransport::kTcp);
  if (!served.ok()) {
    retriable = true;
    return served.status().Annotate("verification query");
  }
  Status same =
      CompareServed(options_.server.ToString() + " accepted the UPDATE but", change, *served, zone);
  if (!same.ok()) retriable = true;
  return same;
}

Status Rfc2136Publisher::Publish(const RecordSetChange& change) {
  Result<Name> zone = Zone();
  if (!zone.ok()) return zone.status();
  Duration backoff = options_.backoff;
  Status last;
  const int attempts = std::max(1, options_.attempts);
  for (int i = 1; i <= attempts; ++i) {
    bool retriable = false;
    last = Attempt(*zone, change, retriable);
    if (last.ok()) return last;
    if (!retriable || i == attempts) break;
    LogWarn("dns update: attempt " + std::to_string(i) + " of " + std::to_string(attempts) +
            " failed: " + last.message() + "; retrying");
    clock_.SleepFor(backoff);
    backoff *= 2;
  }
  return last.Annotate("publishing " + change.name + " " + TypeName(change.type) + " to " +
                       options_.server.ToString());
}

}  // namespace pilotlight::dns
