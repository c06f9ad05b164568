// Byte-in / byte-out tests of the wire format: every expected packet is written out
// by hand from RFC 1035 / RFC 6891, not produced by the code under test.
#include "dns/wire/message.h"

#include <gtest/gtest.h>

namespace pilotlight::dns {
namespace {

using Bytes = std::vector<uint8_t>;

Name N(const char* text) { return *Name::FromString(text); }

std::string A(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  return std::string{static_cast<char>(a), static_cast<char>(b), static_cast<char>(c),
                     static_cast<char>(d)};
}

Message Query(const char* name, uint16_t type) {
  Message m;
  m.header.id = 0x1234;
  m.header.rd = true;
  m.questions.push_back({N(name), type, rrclass::kIn});
  return m;
}

const Bytes kQueryApiA = {
    0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // header, RD
    3,    'a',  'p',  'i',  7,    'e',  'x',  'a',  'm',  'p',  'l',  'e',
    3,    'c',  'o',  'm',  0,    0x00, 0x01, 0x00, 0x01};  // A, IN

TEST(MessageTest, BuildsAQuery) {
  EXPECT_EQ(BuildMessage(Query("api.example.com.", rrtype::kA)), kQueryApiA);
}

TEST(MessageTest, ParsesAQuery) {
  Result<Message> m = ParseMessage(kQueryApiA);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->header.id, 0x1234);
  EXPECT_TRUE(m->header.rd);
  EXPECT_FALSE(m->header.qr);
  EXPECT_EQ(m->header.opcode, Opcode::kQuery);
  ASSERT_EQ(m->questions.size(), 1u);
  EXPECT_EQ(m->questions[0].name, N("api.example.com."));
  EXPECT_EQ(m->questions[0].type, rrtype::kA);
  EXPECT_FALSE(m->edns.has_value());
}

TEST(MessageTest, CompressesOwnersAndRdataNames) {
  Message m = Query("api.example.com.", rrtype::kA);
  m.header.qr = true;
  m.header.aa = true;
  m.answers.push_back(
      {N("api.example.com."), rrtype::kCname, rrclass::kIn, 300, N("www.example.com.").wire()});
  m.answers.push_back({N("www.example.com."), rrtype::kA, rrclass::kIn, 60, A(192, 0, 2, 1)});
  const Bytes expected = {
      0x12, 0x34, 0x85, 0x00, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 3, 'a', 'p', 'i', 7,
      'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0, 0, 1, 0, 1,
      // answer 1: owner -> offset 12, CNAME, IN, TTL 300, rdata "www" + pointer to "example"
      0xC0, 0x0C, 0x00, 0x05, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2C, 0x00, 0x06, 3, 'w', 'w', 'w',
      0xC0, 0x10,
      // answer 2: owner -> offset 45 (the "www" label just written)
      0xC0, 0x2D, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3C, 0x00, 0x04, 192, 0, 2, 1};
  const Bytes built = BuildMessage(m);
  EXPECT_EQ(built, expected);
  // And back: names come out decompressed.
  Result<Message> parsed = ParseMessage(built);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  ASSERT_EQ(parsed->answers.size(), 2u);
  EXPECT_EQ(parsed->answers[0].rdata, N("www.example.com.").wire());
  EXPECT_EQ(parsed->answers[1].name, N("www.example.com."));
  EXPECT_EQ(RdataToString(rrtype::kA, parsed->answers[1].rdata), "192.0.2.1");
}

TEST(MessageTest, CompressionIgnoresCase) {
  Message m = Query("API.example.com.", rrtype::kA);
  m.answers.push_back({N("api.EXAMPLE.com."), rrtype::kA, rrclass::kIn, 1, A(1, 2, 3, 4)});
  const Bytes b = BuildMessage(m);
  ASSERT_EQ(b.size(), 33u + 16u);
  EXPECT_EQ(b[33], 0xC0);
  EXPECT_EQ(b[34], 0x0C);
}

TEST(MessageTest, SoaRdataNamesAreCompressedAndDecoded) {
  Message m = Query("example.com.", rrtype::kSoa);
  SoaData soa{N("ns1.example.com."), N("hostmaster.example.com."), 7, 3600, 600, 86400, 30};
  m.answers.push_back({N("example.com."), rrtype::kSoa, rrclass::kIn, 60, EncodeSoa(soa)});
  const Bytes b = BuildMessage(m);
  // question name at 12 ("example.com"): mname = "ns1" + ptr(12), rname = "hostmaster" + ptr(12)
  const Bytes rdata_start = {3, 'n', 's', '1', 0xC0, 0x0C, 10};
  const size_t at = 12 + 13 + 4 + 2 + 10;
  ASSERT_GT(b.size(), at + rdata_start.size());
  EXPECT_EQ(Bytes(b.begin() + at, b.begin() + at + rdata_start.size()), rdata_start);
  Result<Message> parsed = ParseMessage(b);
  ASSERT_TRUE(parsed.ok());
  Result<SoaData> back = DecodeSoa(parsed->answers[0].rdata);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->rname, soa.rname);
  EXPECT_EQ(back->serial, 7u);
  EXPECT_EQ(back->minimum, 30u);
}

TEST(MessageTest, ParsesEdnsOpt) {
  Bytes q = kQueryApiA;
  q[11] = 1;  // ARCOUNT 1
  const Bytes opt = {0, 0x00, 0x29, 0x10, 0x00, 0x00, 0x00, 0x80, 0x00, 0x00, 0x00};
  q.insert(q.end(), opt.begin(), opt.end());
  Result<Message> m = ParseMessage(q);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  ASSERT_TRUE(m->edns.has_value());
  EXPECT_EQ(m->edns->udp_size, 4096);
  EXPECT_EQ(m->edns->version, 0);
  EXPECT_TRUE(m->edns->dnssec_ok);
  EXPECT_TRUE(m->additional.empty());
}

TEST(MessageTest, BuildsEdnsOptAndExtendedRcode) {
  Message m = Query("api.example.com.", rrtype::kA);
  m.header.qr = true;
  m.edns = Edns{};
  m.edns->udp_size = 1232;
  m.set_rcode(Rcode::kBadVers);  // 16: low 4 bits 0 in the header, 1 in the OPT
  Bytes expected = kQueryApiA;
  expected[2] = 0x81;
  expected[11] = 1;
  const Bytes opt = {0, 0x00, 0x29, 0x04, 0xD0, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00};
  expected.insert(expected.end(), opt.begin(), opt.end());
  const Bytes b = BuildMessage(m);
  EXPECT_EQ(b, expected);
  Result<Message> back = ParseMessage(b);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->rcode(), Rcode::kBadVers);
}

Message ManyAddresses(int n) {
  Message m = Query("api.example.com.", rrtype::kA);
  m.header.qr = true;
  for (int i = 0; i < n; ++i) {
    m.answers.push_back({N("api.example.com."), rrtype::kA, rrclass::kIn, 60,
                         A(10, 0, static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i))});
  }
  return m;
}

TEST(MessageTest, TruncatesToFiveHundredTwelveWithTc) {
  // Header+question 33 bytes, each compressed A record 16: 29 fit in 512, 40 do not.
  Message m = ManyAddresses(40);
  const Bytes b = BuildMessage(m, 512);
  EXPECT_EQ(b.size(), 33u);      // header and question only
  EXPECT_EQ(b[2] & 0x02, 0x02);  // TC
  EXPECT_EQ(b[7], 0);            // ANCOUNT 0
  const Bytes full = BuildMessage(m, 65535);
  EXPECT_EQ(full.size(), 33u + 40 * 16);
  EXPECT_EQ(full[2] & 0x02, 0);
  EXPECT_EQ(full[7], 40);
  const Bytes fits = BuildMessage(ManyAddresses(29), 512);
  EXPECT_EQ(fits.size(), 33u + 29 * 16);
  EXPECT_EQ(fits[2] & 0x02, 0);
}

TEST(MessageTest, TruncationKeepsTheOptRecord) {
  Message m = ManyAddresses(40);
  m.edns = Edns{};
  const Bytes b = BuildMessage(m, 512);
  EXPECT_EQ(b.size(), 33u + 11u);
  EXPECT_EQ(b[2] & 0x02, 0x02);
  EXPECT_EQ(b[11], 1);  // ARCOUNT: the OPT
  Result<Message> back = ParseMessage(b);
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(back->header.tc);
  EXPECT_TRUE(back->edns.has_value());
}

TEST(MessageTest, AdditionalThatDoesNotFitIsDroppedWithoutTc) {
  Message m = ManyAddresses(20);  // 353 bytes
  for (int i = 0; i < 20; ++i) {
    m.additional.push_back({N("ns.example.com."), rrtype::kA, rrclass::kIn, 60, A(1, 1, 1, i)});
  }
  const Bytes b = BuildMessage(m, 512);
  EXPECT_LE(b.size(), 512u);
  EXPECT_EQ(b[2] & 0x02, 0);
  Result<Message> back = ParseMessage(b);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->answers.size(), 20u);
  EXPECT_GT(back->additional.size(), 0u);
  EXPECT_LT(back->additional.size(), 20u);
}

// Malformed packets: each must be rejected with an error, never accepted or crash.
TEST(MessageTest, RejectsMalformedPackets) {
  struct Case {
    const char* what;
    Bytes packet;
  };
  auto with_question = [](Bytes qname) {
    const Bytes header = {0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0};
    const Bytes type_class = {0, 1, 0, 1};
    Bytes p;
    p.reserve(header.size() + qname.size() + type_class.size());
    for (const Bytes* part : std::initializer_list<const Bytes*>{&header, &qname, &type_class}) {
      for (uint8_t b : *part) p.push_back(b);
    }
    return p;
  };
  Bytes too_long;
  for (int i = 0; i < 5; ++i) {
    too_long.push_back(63);
    too_long.insert(too_long.end(), 63, 'a');
  }
  too_long.push_back(0);
  Bytes trailing = kQueryApiA;
  trailing.push_back(0);
  Bytes missing_qtype(kQueryApiA.begin(), kQueryApiA.end() - 2);
  Bytes counts = kQueryApiA;
  counts[7] = 200;  // ANCOUNT 200 with no records
  Bytes two_opts = kQueryApiA;
  two_opts[11] = 2;
  for (int i = 0; i < 2; ++i) two_opts.insert(two_opts.end(), {0, 0, 41, 2, 0, 0, 0, 0, 0, 0, 0});
  Bytes bad_rdlen = kQueryApiA;
  bad_rdlen[7] = 1;
  bad_rdlen.insert(bad_rdlen.end(), {0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 1, 0, 5, 1, 2, 3, 4});
  const Case cases[] = {
      {"shorter than a header", {0, 1, 0}},
      {"self pointer", with_question({0xC0, 12})},
      {"forward pointer", with_question({1, 'a', 0xC0, 20, 0})},
      {"label type 01", with_question({0x40, 'a', 0})},
      {"label past end", with_question({9, 'a'})},
      {"name over 255 bytes", with_question(too_long)},
      {"trailing bytes", trailing},
      {"missing qtype", missing_qtype},
      {"counts beyond the packet", counts},
      {"two OPT records", two_opts},
      {"A rdata of 5 bytes", bad_rdlen},
  };
  for (const Case& c : cases) {
    EXPECT_FALSE(ParseMessage(c.packet).ok()) << c.what;
  }
}

TEST(MessageTest, PointerChainsBackwardsAreFollowed) {
  // Answer owner points to "b" + pointer to question ("a.example"): b.a.example.
  Bytes p = {0, 1,   0x80, 0,   0,   1,   0,   1,   0, 0, 0, 0, 1, 'a',
             7, 'e', 'x',  'a', 'm', 'p', 'l', 'e', 0, 0, 1, 0, 1};
  // record at offset 27: owner "b" + ptr(12)
  p.insert(p.end(), {1, 'b', 0xC0, 12, 0, 5, 0, 1, 0, 0, 0, 1, 0, 2, 0xC0, 27});
  Result<Message> m = ParseMessage(p);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->answers[0].name, N("b.a.example."));
  EXPECT_EQ(m->answers[0].rdata, N("b.a.example.").wire());  // CNAME rdata: ptr to the owner
}

TEST(MessageTest, RdataPresentationRoundTrips) {
  Name origin = N("example.com.");
  struct Case {
    uint16_t type;
    const char* in;
    const char* out;
  };
  const Case cases[] = {
      {rrtype::kA, "192.0.2.7", "192.0.2.7"},
      {rrtype::kAaaa, "2001:db8::1", "2001:db8::1"},
      {rrtype::kCname, "www", "www.example.com."},
      {rrtype::kNs, "ns1.other.net.", "ns1.other.net."},
      {rrtype::kMx, "10 mail", "10 mail.example.com."},
      {rrtype::kTxt, "\"v=spf1 -all\" \"two\"", "\"v=spf1 -all\" \"two\""},
      {rrtype::kTxt, "plain", "\"plain\""},
      {rrtype::kSoa, "ns1 hostmaster 1 2 3 4 5",
       "ns1.example.com. hostmaster.example.com. 1 2 3 4 5"},
  };
  for (const Case& c : cases) {
    Result<std::string> rdata = RdataFromString(c.type, c.in, origin);
    ASSERT_TRUE(rdata.ok()) << c.in << ": " << rdata.status().ToString();
    EXPECT_EQ(RdataToString(c.type, *rdata), c.out);
  }
  EXPECT_FALSE(RdataFromString(rrtype::kA, "300.1.1.1", origin).ok());
  EXPECT_FALSE(RdataFromString(rrtype::kAaaa, "192.0.2.1", origin).ok());
  EXPECT_FALSE(RdataFromString(rrtype::kTxt, "\"open", origin).ok());
  EXPECT_FALSE(RdataFromString(99, "x", origin).ok());
  EXPECT_EQ(RdataToString(99, std::string("\x01\xff", 2)), "\\# 2 01ff");
}

}  // namespace
}  // namespace pilotlight::dns
