// Packet in, packet out: every routing policy and every negative case, through the
// same function the server calls.
#include "dns/zone/responder.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "dns/zone/test_zone.h"

namespace pilotlight::dns {
namespace {

using Bytes = std::vector<uint8_t>;
using testing::TestZone;

Name N(const std::string& text) { return *Name::FromString(text); }

Bytes QueryPacket(const std::string& name, uint16_t type, bool edns = false,
                  uint16_t udp_size = 1232) {
  Message m;
  m.header.id = 0xBEEF;
  m.header.rd = true;
  m.questions.push_back({N(name), type, rrclass::kIn});
  if (edns) {
    m.edns = Edns{};
    m.edns->udp_size = udp_size;
  }
  return BuildMessage(m);
}

class ResponderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::unique_ptr<Catalog>> c = Catalog::Build({TestZone()}, FakeClock().Now());
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    catalog_ = std::move(c).value();
    Publish();
  }
  void Publish() { catalog_->Refresh(health_, overrides_, clock_.Now()); }

  Message Ask(const Bytes& packet, Transport t = Transport::kUdp, uint64_t random = 0) {
    Bytes out = Respond(packet, t, *catalog_->Snapshot(), random);
    Result<Message> m = ParseMessage(out);
    EXPECT_TRUE(m.ok()) << m.status().ToString();
    return m.ok() ? *m : Message{};
  }
  Message Ask(const std::string& name, uint16_t type) { return Ask(QueryPacket(name, type)); }

  static std::vector<std::string> Values(const std::vector<ResourceRecord>& rrs, uint16_t type) {
    std::vector<std::string> out;
    for (const ResourceRecord& rr : rrs) {
      if (rr.type == type) out.push_back(RdataToString(type, rr.rdata));
    }
    return out;
  }

  FakeClock clock_;
  StaticHealthView health_;
  Overrides overrides_;
  std::unique_ptr<Catalog> catalog_;
};

TEST_F(ResponderTest, FailoverFollowsHealth) {
  struct Case {
    std::optional<bool> primary, dr;
    const char* expect;
  };
  const Case cases[] = {
      {true, true, "127.0.1.10"},          {false, true, "127.0.2.10"},
      {false, false, "127.0.1.10"},  // both down: the primary answers
      {true, false, "127.0.1.10"},         {std::nullopt, true, "127.0.1.10"},  // unknown = healthy
      {false, std::nullopt, "127.0.2.10"},
  };
  for (const Case& c : cases) {
    health_ = StaticHealthView();
    if (c.primary) health_.Set("primary-api", *c.primary);
    if (c.dr) health_.Set("dr-api", *c.dr);
    Publish();
    Message m = Ask("api.pilotlight.test.", rrtype::kA);
    EXPECT_EQ(m.rcode(), Rcode::kNoError);
    EXPECT_TRUE(m.header.aa);
    EXPECT_TRUE(m.header.qr);
    EXPECT_EQ(m.header.id, 0xBEEF);
    EXPECT_EQ(Values(m.answers, rrtype::kA), std::vector<std::string>{c.expect})
        << "primary " << (c.primary ? *c.primary : -1) << " dr " << (c.dr ? *c.dr : -1);
    ASSERT_EQ(m.answers.size(), 1u);
    EXPECT_EQ(m.answers[0].ttl, 30u);  // the record set's own TTL
  }
}

TEST_F(ResponderTest, OperatorOverrideForcesARole) {
  overrides_["api.pilotlight.test."].force = FailoverRole::kSecondary;
  Publish();
  EXPECT_EQ(Values(Ask("api.pilotlight.test.", rrtype::kA).answers, rrtype::kA),
            std::vector<std::string>{"127.0.2.10"});
  health_.Set("primary-api", false);
  overrides_["api.pilotlight.test."].force = FailoverRole::kPrimary;
  Publish();
  EXPECT_EQ(Values(Ask("api.pilotlight.test.", rrtype::kA).answers, rrtype::kA),
            std::vector<std::string>{"127.0.1.10"});
}

// How many of `n` queries with random values 0..n-1 land on each address.
std::map<std::string, int> Spread(ResponderTest& t, Catalog& catalog, int n) {
  std::map<std::string, int> counts;
  for (int i = 0; i < n; ++i) {
    Bytes out = Respond(QueryPacket("trade.pilotlight.test.", rrtype::kA), Transport::kUdp,
                        *catalog.Snapshot(), static_cast<uint64_t>(i));
    Message m = *ParseMessage(out);
    for (const ResourceRecord& rr : m.answers) counts[RdataToString(rr.type, rr.rdata)]++;
  }
  return counts;
}

TEST_F(ResponderTest, WeightedSplitsByWeightAmongHealthySets) {
  struct Case {
    std::optional<bool> primary, dr;
    std::map<std::string, uint32_t> weights;
    int primary_share, dr_share;  // out of 100 queries
  };
  const Case cases[] = {
      {true, true, {}, 100, 0},    // 100 / 0
      {false, true, {}, 0, 100},   // unhealthy excluded: weight 0 takes all
      {false, false, {}, 100, 0},  // none healthy: all considered
      {true, true, {{"primary", 25}, {"dr", 75}}, 25, 75},  // gradual failback
      {true, true, {{"primary", 0}, {"dr", 0}}, 50, 50},    // all zero: equal shares
      {true, false, {{"primary", 10}, {"dr", 90}}, 100, 0},
  };
  for (const Case& c : cases) {
    health_ = StaticHealthView();
    if (c.primary) health_.Set("primary-api", *c.primary);
    if (c.dr) health_.Set("dr-api", *c.dr);
    overrides_.clear();
    if (!c.weights.empty()) overrides_["trade.pilotlight.test."].weights = c.weights;
    Publish();
    std::map<std::string, int> spread = Spread(*this, *catalog_, 100);
    EXPECT_EQ(spread["127.0.1.20"], c.primary_share);
    EXPECT_EQ(spread["127.0.2.20"], c.dr_share);
  }
}

TEST_F(ResponderTest, NxdomainCarriesTheSoa) {
  Message m = Ask("nonexistent.pilotlight.test.", rrtype::kA);
  EXPECT_EQ(m.rcode(), Rcode::kNxDomain);
  EXPECT_TRUE(m.header.aa);
  EXPECT_TRUE(m.answers.empty());
  ASSERT_EQ(m.authority.size(), 1u);
  EXPECT_EQ(m.authority[0].type, rrtype::kSoa);
  EXPECT_EQ(m.authority[0].name, N("pilotlight.test."));
  EXPECT_EQ(m.authority[0].ttl, 30u);  // min(SOA TTL 3600, minimum 30): RFC 2308
  EXPECT_EQ(DecodeSoa(m.authority[0].rdata)->serial, 100u);
}

TEST_F(ResponderTest, NodataCarriesTheSoa) {
  for (const char* name : {"api.pilotlight.test.", "deep.pilotlight.test.",
                           "b.deep.pilotlight.test.", "pilotlight.test."}) {
    Message m = Ask(name, rrtype::kAaaa);
    EXPECT_EQ(m.rcode(), Rcode::kNoError) << name;
    EXPECT_TRUE(m.answers.empty()) << name;
    ASSERT_EQ(m.authority.size(), 1u) << name;
    EXPECT_EQ(m.authority[0].type, rrtype::kSoa);
  }
}

TEST_F(ResponderTest, RefusesNamesOutsideItsZones) {
  for (const char* name : {"example.org.", "test.", ".", "pilotlight.test.evil."}) {
    Message m = Ask(name, rrtype::kA);
    EXPECT_EQ(m.rcode(), Rcode::kRefused) << name;
    EXPECT_FALSE(m.header.aa);
    EXPECT_FALSE(m.header.ra);  // never a resolver
    EXPECT_TRUE(m.answers.empty());
  }
  Message m;
  m.header.id = 9;
  m.questions.push_back({N("api.pilotlight.test."), rrtype::kA, 3 /* CH */});
  EXPECT_EQ(Ask(BuildMessage(m)).rcode(), Rcode::kRefused);
  EXPECT_EQ(Ask("pilotlight.test.", rrtype::kAxfr).rcode(), Rcode::kRefused);
}

TEST_F(ResponderTest, FormerrForMalformedQueries) {
  Bytes no_question = {0x12, 0x34, 0x01, 0x00, 0, 0, 0, 0, 0, 0, 0, 0};
  Bytes garbage = {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 0x0C, 0, 1, 0, 1};
  Bytes two = QueryPacket("api.pilotlight.test.", rrtype::kA);
  two[5] = 2;
  for (const Bytes& p : {no_question, garbage, two}) {
    Message m = Ask(p);
    EXPECT_EQ(m.rcode(), Rcode::kFormErr);
    EXPECT_EQ(m.header.id, p[0] << 8 | p[1]);  // the id is echoed
    EXPECT_TRUE(m.header.qr);
  }
}

TEST_F(ResponderTest, NotimpForOtherOpcodes) {
  for (uint8_t opcode : {1, 2, 4, 5, 15}) {
    Bytes p = QueryPacket("api.pilotlight.test.", rrtype::kA);
    p[2] = static_cast<uint8_t>((p[2] & 0x87) | (opcode << 3));
    Message m = Ask(p);
    EXPECT_EQ(m.rcode(), Rcode::kNotImp) << int(opcode);
    EXPECT_EQ(static_cast<int>(m.header.opcode), opcode);
  }
}

TEST_F(ResponderTest, DropsWhatMustNotBeAnswered) {
  const CatalogSnapshot& snap = *catalog_->Snapshot();
  EXPECT_TRUE(Respond(Bytes{1, 2, 3}, Transport::kUdp, snap, 0).empty());
  Bytes response = QueryPacket("api.pilotlight.test.", rrtype::kA);
  response[2] |= 0x80;  // QR: a response, never answered (no reflection loops)
  EXPECT_TRUE(Respond(response, Transport::kUdp, snap, 0).empty());
}

TEST_F(ResponderTest, FollowsCnamesInsideTheZone) {
  Message m = Ask("www.pilotlight.test.", rrtype::kA);
  EXPECT_EQ(m.rcode(), Rcode::kNoError);
  ASSERT_EQ(m.answers.size(), 2u);
  EXPECT_EQ(m.answers[0].type, rrtype::kCname);
  EXPECT_EQ(m.answers[1].name, N("api.pilotlight.test."));
  EXPECT_EQ(RdataToString(rrtype::kA, m.answers[1].rdata), "127.0.1.10");

  Message ext = Ask("ext.pilotlight.test.", rrtype::kA);
  EXPECT_EQ(ext.rcode(), Rcode::kNoError);
  EXPECT_EQ(Values(ext.answers, rrtype::kCname), std::vector<std::string>{"target.example.org."});

  Message dangling = Ask("dangling.pilotlight.test.", rrtype::kA);
  EXPECT_EQ(dangling.rcode(), Rcode::kNxDomain);  // RFC 6604: the rcode of the last name
  EXPECT_EQ(dangling.answers.size(), 1u);
  EXPECT_EQ(dangling.authority.size(), 1u);

  Message cname = Ask("www.pilotlight.test.", rrtype::kCname);
  EXPECT_EQ(cname.answers.size(), 1u);
}

TEST_F(ResponderTest, ApexSoaNsAndGlue) {
  Message soa = Ask("pilotlight.test.", rrtype::kSoa);
  ASSERT_EQ(soa.answers.size(), 1u);
  EXPECT_EQ(soa.answers[0].ttl, 3600u);
  EXPECT_EQ(RdataToString(rrtype::kSoa, soa.answers[0].rdata),
            "ns1.pilotlight.test. hostmaster.pilotlight.test. 100 3600 600 604800 30");
  Message ns = Ask("pilotlight.test.", rrtype::kNs);
  EXPECT_EQ(Values(ns.answers, rrtype::kNs), std::vector<std::string>{"ns1.pilotlight.test."});
  EXPECT_EQ(Values(ns.additional, rrtype::kA), std::vector<std::string>{"127.0.3.1"});
}

TEST_F(ResponderTest, OtherTypes) {
  EXPECT_EQ(Values(Ask("txt.pilotlight.test.", rrtype::kTxt).answers, rrtype::kTxt),
            std::vector<std::string>{"\"hello world\""});
  EXPECT_EQ(Values(Ask("v6.pilotlight.test.", rrtype::kAaaa).answers, rrtype::kAaaa),
            std::vector<std::string>{"2001:db8::1"});
  EXPECT_EQ(Ask("v6.pilotlight.test.", rrtype::kAny).answers.size(), 1u);
}

TEST_F(ResponderTest, KeepsTheClientsCase) {
  Message m = Ask("ApI.PilotLight.TEST.", rrtype::kA);
  EXPECT_EQ(m.questions[0].name.ToString(), "ApI.PilotLight.TEST.");
  EXPECT_EQ(m.answers[0].name.ToString(), "ApI.PilotLight.TEST.");
}

TEST_F(ResponderTest, EdnsIsEchoedAndBadversReported) {
  Message m = Ask(QueryPacket("api.pilotlight.test.", rrtype::kA, /*edns=*/true, 4096));
  ASSERT_TRUE(m.edns.has_value());
  EXPECT_EQ(m.edns->udp_size, 1232);
  Message no_edns = Ask("api.pilotlight.test.", rrtype::kA);
  EXPECT_FALSE(no_edns.edns.has_value());

  Message q = *ParseMessage(QueryPacket("api.pilotlight.test.", rrtype::kA, true));
  q.edns->version = 1;
  Message bad = Ask(BuildMessage(q));
  EXPECT_EQ(bad.rcode(), Rcode::kBadVers);
  EXPECT_TRUE(bad.answers.empty());
}

TEST_F(ResponderTest, TruncatesOverUdpAndNotOverTcp) {
  // 40 A records: 33 + 40 * 16 = 673 bytes.
  Message udp = Ask(QueryPacket("big.pilotlight.test.", rrtype::kA));
  EXPECT_TRUE(udp.header.tc);
  EXPECT_TRUE(udp.answers.empty());
  Message edns = Ask(QueryPacket("big.pilotlight.test.", rrtype::kA, true, 1232));
  EXPECT_FALSE(edns.header.tc);
  EXPECT_EQ(edns.answers.size(), 40u);
  Message small_edns = Ask(QueryPacket("big.pilotlight.test.", rrtype::kA, true, 600));
  EXPECT_TRUE(small_edns.header.tc);
  Message tcp = Ask(QueryPacket("big.pilotlight.test.", rrtype::kA), Transport::kTcp);
  EXPECT_FALSE(tcp.header.tc);
  EXPECT_EQ(tcp.answers.size(), 40u);
}

}  // namespace
}  // namespace pilotlight::dns
