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

Result<std::vector<std::string>> Rfc2136Publisher::Served(const Name& name, uint16_t type,
                                                          uint32_t* ttl) {
  Message q;
  q.header.id = RandomId();
  q.questions.push_back({name, type, rrclass::kIn});
  Result<std::vector<uint8_t>> wire =
      ExchangeTcp(options_.server, BuildMessage(q), options_.timeout);
  if (!wire.ok()) return wire.status();
  Result<Message> r = ParseMessage(*wire);
  if (!r.ok()) return r.status().Annotate("verification query");
  if (r->header.id != q.header.id) return Status::Corruption("verification answer with another id");
  if (r->rcode() != Rcode::kNoError && r->rcode() != Rcode::kNxDomain) {
    return Status::Unavailable("verification query for " + name.ToString() + " got " +
                               RcodeName(r->rcode()));
  }
  std::vector<std::string> out;
  for (const ResourceRecord& rr : r->answers) {
    if (rr.type == type && rr.name == name) {
      out.push_back(rr.rdata);
      *ttl = rr.ttl;
    }
  }
  std::sort(out.begin(), out.end());
  return out;
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
  std::vector<std::string> expected;
  for (const std::string& v : change.values)
    expected.push_back(*RdataFromString(change.type, v, zone));
  std::sort(expected.begin(), expected.end());
  expected.erase(std::unique(expected.begin(), expected.end()), expected.end());
  uint32_t ttl = 0;
  Result<std::vector<std::string>> served =
      Served(*Name::FromString(change.name), change.type, &ttl);
  if (!served.ok()) {
    retriable = true;
    return served.status();
  }
  if (*served != expected || (!expected.empty() && ttl != change.ttl)) {
    retriable = true;
    std::string got;
    for (const std::string& r : *served)
      got += (got.empty() ? "" : " ") + RdataToString(change.type, r);
    return Status::FailedPrecondition(
        options_.server.ToString() + " accepted the UPDATE but serves " + change.name + " " +
        TypeName(change.type) + " = [" + got + "] ttl " + std::to_string(ttl));
  }
  return Status::OK();
}

Status Rfc2136Publisher::Publish(const RecordSetChange& change) {
  std::string zone_text = options_.zone;
  if (zone_text.empty() || zone_text.back() != '.') zone_text += '.';
  Result<Name> zone = Name::FromString(zone_text);
  if (!zone.ok()) return zone.status().Annotate("zone");
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
