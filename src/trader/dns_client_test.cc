#include "trader/dns_client.h"

#include <gtest/gtest.h>

namespace pilotlight::trader {
namespace {

using Bytes = std::vector<uint8_t>;

TEST(BuildAQueryTest, WireBytes) {
  Result<Bytes> q = BuildAQuery("Trade.Lab", 0xBEEF);
  ASSERT_TRUE(q.ok());
  const Bytes want = {0xBE, 0xEF, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,  // header, RD, 1 question
                      5, 't', 'r', 'a', 'd', 'e', 3, 'l', 'a', 'b', 0,   // trade.lab.
                      0, 1, 0, 1};                                        // A, IN
  EXPECT_EQ(*q, want);
  EXPECT_FALSE(BuildAQuery("a..b", 1).ok());
  EXPECT_FALSE(BuildAQuery(std::string(64, 'x') + ".lab", 1).ok());
}

// A response to BuildAQuery("trade.lab", 7) with the given flags and answers.
Bytes Response(uint8_t flags_lo, uint16_t answers, const Bytes& answer_bytes, uint16_t id = 7) {
  Bytes p = *BuildAQuery("trade.lab", id);
  p[2] = 0x81;  // QR, RD
  p[3] = flags_lo;
  p[7] = static_cast<uint8_t>(answers);
  p.insert(p.end(), answer_bytes.begin(), answer_bytes.end());
  return p;
}

// An answer owned by the question name (pointer to offset 12).
Bytes A(uint32_t ttl, uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  return {0xC0, 12, 0, 1, 0, 1, static_cast<uint8_t>(ttl >> 24), static_cast<uint8_t>(ttl >> 16),
          static_cast<uint8_t>(ttl >> 8), static_cast<uint8_t>(ttl), 0, 4, a, b, c, d};
}

TEST(ParseAResponseTest, Table) {
  struct Case {
    std::string name;
    Bytes packet;
    Status::Code want_code;
    std::vector<std::string> want_addresses;
    uint32_t want_ttl;
  };
  Bytes two = A(30, 127, 0, 1, 1);
  Bytes second = A(5, 127, 0, 2, 1);
  two.insert(two.end(), second.begin(), second.end());
  // trade.lab CNAME web.lab (name at offset 12+... written in full), web.lab A 10.0.0.9
  Bytes cname = {0xC0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 9, 3, 'w', 'e', 'b', 3, 'l', 'a', 'b', 0};
  const uint8_t web_offset = 12 + 15 + 12;  // question (15 bytes) + CNAME header (12 bytes)
  Bytes web_a = {0xC0, web_offset, 0, 1, 0, 1, 0, 0, 0, 20, 0, 4, 10, 0, 0, 9};
  cname.insert(cname.end(), web_a.begin(), web_a.end());
  Bytes loop = {0xC0, 27, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4};  // pointer to itself
  Bytes past_end = A(30, 1, 2, 3, 4);
  past_end[11] = 40;  // rdlength beyond the packet
  Bytes aaaa = A(30, 1, 2, 3, 4);
  aaaa[3] = 28;
  Bytes bad_len = A(30, 1, 2, 3, 4);
  bad_len[11] = 3;
  bad_len.pop_back();

  const std::vector<Case> cases = {
      {"OneA", Response(0, 1, A(300, 127, 0, 1, 1)), Status::Code::kOk, {"127.0.1.1"}, 300},
      {"TwoAMinTtl", Response(0, 2, two), Status::Code::kOk, {"127.0.1.1", "127.0.2.1"}, 5},
      {"FollowsCname", Response(0, 2, cname), Status::Code::kOk, {"10.0.0.9"}, 20},
      {"NxDomain", Response(3, 0, {}), Status::Code::kNotFound, {}, 0},
      {"ServFail", Response(2, 0, {}), Status::Code::kUnavailable, {}, 0},
      {"NoAnswer", Response(0, 0, {}), Status::Code::kNotFound, {}, 0},
      {"OnlyAaaa", Response(0, 1, aaaa), Status::Code::kNotFound, {}, 0},
      {"WrongId", Response(0, 1, A(1, 1, 1, 1, 1), 8), Status::Code::kCorruption, {}, 0},
      {"PointerLoop", Response(0, 1, loop), Status::Code::kCorruption, {}, 0},
      {"RdataPastEnd", Response(0, 1, past_end), Status::Code::kCorruption, {}, 0},
      {"ABadLength", Response(0, 1, bad_len), Status::Code::kCorruption, {}, 0},
      {"AnswerCountLies", Response(0, 3, A(1, 1, 1, 1, 1)), Status::Code::kCorruption, {}, 0},
      {"Short", Bytes{0, 7, 0x81}, Status::Code::kCorruption, {}, 0},
  };
  for (const Case& c : cases) {
    Result<ARecords> r = ParseAResponse(c.packet, 7);
    EXPECT_EQ(r.status().code(), c.want_code) << c.name << ": " << r.status().ToString();
    if (r.ok()) {
      EXPECT_EQ(r->addresses, c.want_addresses) << c.name;
      EXPECT_EQ(r->ttl_seconds, c.want_ttl) << c.name;
    }
  }
}

TEST(ParseAResponseTest, EveryTruncationIsRejectedNotCrashed) {
  Bytes full = Response(0, 2, [] {
    Bytes b = A(30, 127, 0, 1, 1);
    Bytes c = A(5, 127, 0, 2, 1);
    b.insert(b.end(), c.begin(), c.end());
    return b;
  }());
  ASSERT_TRUE(ParseAResponse(full, 7).ok());
  for (size_t n = 0; n < full.size(); ++n) {
    Bytes cut(full.begin(), full.begin() + n);
    EXPECT_FALSE(ParseAResponse(cut, 7).ok()) << n;
  }
}

}  // namespace
}  // namespace pilotlight::trader
