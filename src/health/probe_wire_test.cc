// Byte-in / verdict-out tests of the HTTP and DNS wire parts of the probes,
// including garbage.
#include "health/probe_wire.h"

#include <gtest/gtest.h>

namespace pilotlight::health {
namespace {

TEST(HttpHeadTest, Table) {
  struct Case {
    std::string data;
    bool ok;
    bool complete;
    int status;
    bool chunked;
  };
  const Case cases[] = {
      {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", true, true, 200, false},
      {"HTTP/1.0 503\r\n\r\n", true, true, 503, false},
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n", true, true, 200, true},
      {"HTTP/1.1 200 OK\r\nContent-Le", true, false, 0, false},  // need more
      {"HTT", true, false, 0, false},
      {"SSH-2.0-OpenSSH_9.2\r\n", false, false, 0, false},
      {std::string("\x16\x03\x01\x00\x05", 5), false, false, 0, false},  // TLS record
      {"HTTP/1.1 20x OK\r\n\r\n", false, false, 0, false},
      {"HTTP/1.1 200OK\r\n\r\n", false, false, 0, false},
      {"HTTP/2 200\r\n\r\n", false, false, 0, false},
      {"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", false, false, 0, false},
      {"HTTP/1.1 200 OK\r\nX: " + std::string(20000, 'a'), false, false, 0, false},
      {"HTTP/1.1 200 OK\r\nX: " + std::string(20000, 'a') + "\r\n\r\n", false, false, 0, false},
  };
  for (const Case& c : cases) {
    auto r = ParseHttpHead(c.data);
    EXPECT_EQ(r.ok(), c.ok) << Printable(c.data) << ": " << r.status().ToString();
    if (!r.ok() || !c.ok) continue;
    EXPECT_EQ(r->complete, c.complete) << Printable(c.data);
    EXPECT_EQ(r->status, c.status) << Printable(c.data);
    EXPECT_EQ(r->chunked, c.chunked) << Printable(c.data);
  }
  auto r = ParseHttpHead("HTTP/1.1 200 OK\r\nA: b\r\n\r\nbody");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->header_bytes, 25u);  // 17 + 6 + 2
  EXPECT_NE(ParseHttpHead(std::string("\x16\x03\x01", 3)).status().message().find("\\x16"),
            std::string::npos);
}

TEST(ChunkedTest, DecodesCompleteAndPartialChunks) {
  EXPECT_EQ(DecodeChunkedPrefix("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"), "hello world");
  EXPECT_EQ(DecodeChunkedPrefix("5\r\nhello\r\n6\r\n wo"), "hello wo");
  EXPECT_EQ(DecodeChunkedPrefix("zz\r\nhello"), "");
  EXPECT_EQ(DecodeChunkedPrefix("ffffffffffffffffffff\r\nx"), "");
  EXPECT_EQ(DecodeChunkedPrefix(""), "");
}

TEST(DnsWireTest, BuildsAQuery) {
  auto q = BuildDnsQuery("trade.example.", 0xabcd);
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(*q, std::string("\xab\xcd\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
                            "\x05trade\x07" "example\x00\x00\x01\x00\x01",
                            12 + 15 + 4));
  EXPECT_FALSE(BuildDnsQuery("a..b", 1).ok());
  EXPECT_FALSE(BuildDnsQuery(std::string(64, 'a') + ".com", 1).ok());
  EXPECT_FALSE(BuildDnsQuery("", 1).ok());
  std::string long_name;
  for (int i = 0; i < 50; ++i) long_name += "abcde.";
  EXPECT_FALSE(BuildDnsQuery(long_name, 1).ok());
}

std::string Response(const std::string& query, uint8_t flags2, uint8_t flags3, int ancount,
                     const std::string& answers) {
  std::string r = query;
  r[2] = static_cast<char>(flags2);
  r[3] = static_cast<char>(flags3);
  r[6] = static_cast<char>(ancount >> 8);
  r[7] = static_cast<char>(ancount & 0xff);
  return r + answers;
}

TEST(DnsWireTest, ChecksResponses) {
  const std::string q = *BuildDnsQuery("trade.example", 0x1234);
  const std::string a("\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\x7f\x00\x00\x01", 16);
  auto ok = CheckDnsResponse(q, Response(q, 0x81, 0x80, 1, a));
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(*ok, "NOERROR, 1 answer");

  struct Bad {
    std::string response;
    Status::Code code;
    const char* says;
  };
  std::string other_id = Response(q, 0x81, 0x80, 1, a);
  other_id[0] = 0x55;
  std::string upper = Response(q, 0x81, 0x80, 1, a);
  upper[13] = 'T';  // 0x20 case randomisation still answers the question
  EXPECT_TRUE(CheckDnsResponse(q, upper).ok());
  std::string other_name = Response(q, 0x81, 0x80, 1, a);
  other_name[14] = 'x';
  const Bad bad[] = {
      {"", Status::Code::kCorruption, "shorter than a header"},
      {"\x12\x34garbage", Status::Code::kCorruption, "shorter than a header"},
      {other_id, Status::Code::kNotFound, "another id"},
      {q, Status::Code::kNotFound, "not a response"},
      {Response(q, 0x81, 0x83, 0, ""), Status::Code::kUnavailable, "NXDOMAIN"},
      {Response(q, 0x81, 0x82, 0, ""), Status::Code::kUnavailable, "SERVFAIL"},
      {Response(q, 0x81, 0x80, 0, ""), Status::Code::kUnavailable, "no answer"},
      {Response(q, 0x83, 0x80, 0, ""), Status::Code::kUnavailable, "truncated"},
      {Response(q, 0x81, 0x80, 3, ""), Status::Code::kCorruption, "carries none"},
      {other_name, Status::Code::kCorruption, "echo the question"},
      {q.substr(0, 12) + std::string(5, '\xff'), Status::Code::kNotFound, "not a response"},
  };
  for (const Bad& b : bad) {
    auto r = CheckDnsResponse(q, b.response);
    ASSERT_FALSE(r.ok()) << Printable(b.response);
    EXPECT_EQ(r.status().code(), b.code) << r.status().ToString();
    EXPECT_NE(r.status().message().find(b.says), std::string::npos) << r.status().ToString();
  }
}

}  // namespace
}  // namespace pilotlight::health
