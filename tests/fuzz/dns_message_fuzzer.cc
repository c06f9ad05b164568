// libFuzzer target: the DNS wire parser and the responder, fed untrusted bytes.
//
// Invariants checked on every input (a violation aborts, and libFuzzer saves the input):
//  * ParseMessage never crashes, leaks or reads out of bounds (ASan, UBSan);
//  * whatever it accepts, BuildMessage re-encodes and ParseMessage accepts again, with
//    the same questions;
//  * Respond (the server's packet-in, packet-out path) never crashes, and what it
//    returns is a parseable response that fits the UDP limit.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>

#include "dns/wire/message.h"
#include "dns/zone/catalog.h"
#include "dns/zone/responder.h"

namespace {

using namespace pilotlight;
using namespace pilotlight::dns;

const Catalog& TestCatalog() {
  static const std::unique_ptr<Catalog> catalog = [] {
    ZoneSpec z;
    z.origin = "pilotlight.test.";
    z.nameservers = {"ns1"};
    z.soa.serial = 1;
    auto simple = [](std::string name, std::string type, std::vector<std::string> values) {
      return RrsetSpec{std::move(name),
                       std::move(type),
                       std::nullopt,
                       RoutingPolicy::kSimple,
                       {RecordSetSpec{"", FailoverRole::kNone, 1, "", std::move(values)}}};
    };
    z.rrsets.push_back(simple("ns1", "A", {"127.0.3.1"}));
    z.rrsets.push_back(
        RrsetSpec{"api",
                  "A",
                  30,
                  RoutingPolicy::kFailover,
                  {RecordSetSpec{"primary", FailoverRole::kPrimary, 1, "p", {"127.0.1.10"}},
                   RecordSetSpec{"secondary", FailoverRole::kSecondary, 1, "s", {"127.0.2.10"}}}});
    z.rrsets.push_back(
        RrsetSpec{"trade",
                  "A",
                  30,
                  RoutingPolicy::kWeighted,
                  {RecordSetSpec{"primary", FailoverRole::kNone, 3, "p", {"127.0.1.20"}},
                   RecordSetSpec{"dr", FailoverRole::kNone, 1, "s", {"127.0.2.20"}}}});
    z.rrsets.push_back(simple("www", "CNAME", {"api"}));
    z.rrsets.push_back(simple("loop", "CNAME", {"loop"}));
    z.rrsets.push_back(simple("txt", "TXT", {"\"a\" \"b\""}));
    z.rrsets.push_back(simple("mx", "MX", {"10 mail"}));
    std::vector<std::string> many;
    for (int i = 0; i < 60; ++i) many.push_back("10.0.0." + std::to_string(i));
    z.rrsets.push_back(simple("many", "A", many));
    Result<std::unique_ptr<Catalog>> c = Catalog::Build({z}, WallTime(std::chrono::seconds(1)));
    if (!c.ok()) abort();
    return std::move(c).value();
  }();
  return *catalog;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> packet(data, size);
  Result<Message> m = ParseMessage(packet);
  if (m.ok()) {
    const std::vector<uint8_t> rebuilt = BuildMessage(*m);
    Result<Message> again = ParseMessage(rebuilt);
    if (!again.ok()) abort();
    if (!again->header.tc) {
      if (again->questions.size() != m->questions.size()) abort();
      for (size_t i = 0; i < m->questions.size(); ++i) {
        if (!(again->questions[i].name == m->questions[i].name)) abort();
      }
    }
  }
  const auto snapshot = TestCatalog().Snapshot();
  for (Transport t : {Transport::kUdp, Transport::kTcp}) {
    const std::vector<uint8_t> response = Respond(packet, t, *snapshot, size);
    if (response.empty()) continue;
    Result<Message> r = ParseMessage(response);
    if (!r.ok() || !r->header.qr) abort();
    if (t == Transport::kUdp && response.size() > 1232) abort();
  }
  return 0;
}
