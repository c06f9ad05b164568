#include "dns/zone/responder.h"

#include <algorithm>

namespace pilotlight::dns {
namespace {

Message ResponseTo(const Header& query) {
  Message m;
  m.header.id = query.id;
  m.header.qr = true;
  m.header.opcode = query.opcode;
  m.header.rd = query.rd;
  m.header.cd = query.cd;
  return m;
}

// A header-only error answer, for queries we could not (fully) parse.
std::vector<uint8_t> ErrorOnly(const Header& query, Rcode rcode) {
  Message m = ResponseTo(query);
  m.set_rcode(rcode);
  return BuildMessage(m, kMaxUdpClassic);
}

}  // namespace

std::vector<uint8_t> Respond(std::span<const uint8_t> packet, Transport transport,
                             const CatalogSnapshot& catalog, uint64_t random,
                             const ResponderOptions& options) {
  Result<Header> header = ParseHeader(packet);
  if (!header.ok() || header->qr) return {};  // never answer a response: no loops
  if (header->opcode != Opcode::kQuery) return ErrorOnly(*header, Rcode::kNotImp);
  Result<Message> query = ParseMessage(packet);
  if (!query.ok() || query->questions.size() != 1 || !query->answers.empty() ||
      !query->authority.empty()) {
    return ErrorOnly(*header, Rcode::kFormErr);
  }
  Message response = ResponseTo(query->header);
  response.questions = query->questions;
  size_t max_size = transport == Transport::kTcp ? 65535 : kMaxUdpClassic;
  if (query->edns) {
    response.edns = Edns{};
    response.edns->udp_size = options.max_udp_payload;
    if (transport == Transport::kUdp) {
      max_size = std::clamp<size_t>(query->edns->udp_size, kMaxUdpClassic,
                                    std::max<size_t>(options.max_udp_payload, kMaxUdpClassic));
    }
    if (query->edns->version != 0) {
      response.set_rcode(Rcode::kBadVers);
      return BuildMessage(response, max_size);
    }
  }
  const Question& q = response.questions.front();
  const ZoneState* zone = catalog.FindZone(q.name);
  if (zone == nullptr || q.klass != rrclass::kIn || q.type == rrtype::kAxfr ||
      q.type == rrtype::kIxfr || q.type == rrtype::kOpt || q.type == rrtype::kTsig) {
    response.set_rcode(Rcode::kRefused);
    return BuildMessage(response, max_size);
  }
  AnswerQuestion(q, *zone, random, response);
  return BuildMessage(response, max_size);
}

}  // namespace pilotlight::dns
