// TSIG: the request record's layout, and responses signed by an independent
// implementation of RFC 8945 written out below with OpenSSL (standing in for a server).
#include "dns/update/tsig.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "dns/update/publisher.h"
#include "dns/wire/message.h"

namespace pilotlight::dns {
namespace {

using Bytes = std::vector<uint8_t>;

const char kSecret[] =
    "c2VjcmV0LWtleS1mb3ItcGlsb3RsaWdodC10ZXN0cyE=";  // "secret-key-for-pilotlight-tests!"

TsigKey Key() { return TsigKey::FromBase64("pilotlight-key.", kSecret).value(); }

std::string Hmac256(const std::string& key, const std::string& data) {
  unsigned char out[32];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string Be(uint64_t v, int bytes) {
  std::string s;
  for (int i = bytes - 1; i >= 0; --i) s.push_back(static_cast<char>(v >> (8 * i)));
  return s;
}

const std::string kKeyWire("\016pilotlight-key\0", 16);
const std::string kAlgWire("\013hmac-sha256\0", 13);

// What a server does: sign `response` (its id already set) covering the request MAC.
Bytes ServerSign(Bytes response, const std::string& request_mac, uint64_t time, uint16_t error = 0,
                 const std::string& secret = "secret-key-for-pilotlight-tests!") {
  const std::string msg(response.begin(), response.end());
  const std::string vars = kKeyWire + Be(255, 2) + Be(0, 4) + kAlgWire + Be(time, 6) + Be(300, 2) +
                           Be(error, 2) + Be(0, 2);
  const std::string mac =
      error == 0 ? Hmac256(secret, Be(request_mac.size(), 2) + request_mac + msg + vars) : "";
  const std::string rdata = kAlgWire + Be(time, 6) + Be(300, 2) + Be(mac.size(), 2) + mac +
                            msg.substr(0, 2) + Be(error, 2) + Be(0, 2);
  const std::string rr =
      kKeyWire + Be(250, 2) + Be(255, 2) + Be(0, 4) + Be(rdata.size(), 2) + rdata;
  response.insert(response.end(), rr.begin(), rr.end());
  response[11]++;
  return response;
}

TEST(TsigTest, Base64) {
  EXPECT_EQ(*DecodeBase64(kSecret), "secret-key-for-pilotlight-tests!");
  EXPECT_EQ(*DecodeBase64("YQ=="), "a");
  EXPECT_EQ(*DecodeBase64("YWI="), "ab");
  EXPECT_EQ(EncodeBase64("ab"), "YWI=");
  EXPECT_FALSE(DecodeBase64("abc").ok());
  EXPECT_FALSE(DecodeBase64("a*c=").ok());
  EXPECT_FALSE(TsigKey::FromBase64("k.", kSecret, "hmac-md5").ok());
}

TEST(TsigTest, SignedRequestMatchesRfc8945) {
  Message m;
  m.header.id = 0x4242;
  m.header.opcode = Opcode::kUpdate;
  m.questions.push_back({*Name::FromString("pilotlight.test."), rrtype::kSoa, rrclass::kIn});
  Bytes wire = BuildMessage(m);
  const Bytes unsigned_wire = wire;
  const WallTime now{std::chrono::seconds(1'700'000'000)};
  Result<std::string> mac = SignMessage(wire, Key(), now);
  ASSERT_TRUE(mac.ok());
  // The MAC, computed independently over message + variables.
  const std::string vars = kKeyWire + Be(255, 2) + Be(0, 4) + kAlgWire + Be(1'700'000'000, 6) +
                           Be(300, 2) + Be(0, 2) + Be(0, 2);
  EXPECT_EQ(*mac, Hmac256("secret-key-for-pilotlight-tests!",
                          std::string(unsigned_wire.begin(), unsigned_wire.end()) + vars));
  // The record appended, byte for byte.
  const std::string rdata = kAlgWire + Be(1'700'000'000, 6) + Be(300, 2) + Be(32, 2) + *mac +
                            Be(0x4242, 2) + Be(0, 2) + Be(0, 2);
  const std::string rr =
      kKeyWire + Be(250, 2) + Be(255, 2) + Be(0, 4) + Be(rdata.size(), 2) + rdata;
  Bytes expected = unsigned_wire;
  expected[11] = 1;
  expected.insert(expected.end(), rr.begin(), rr.end());
  EXPECT_EQ(wire, expected);
  EXPECT_TRUE(ParseMessage(wire).ok());
}

class TsigResponseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Message r;
    r.header.id = 0x4242;
    r.header.qr = true;
    r.header.opcode = Opcode::kUpdate;
    r.questions.push_back({*Name::FromString("pilotlight.test."), rrtype::kSoa, rrclass::kIn});
    response_ = BuildMessage(r);
  }
  const WallTime now_{std::chrono::seconds(1'700'000'000)};
  const std::string request_mac_ = std::string(32, '\x5a');
  Bytes response_;
};

TEST_F(TsigResponseTest, AcceptsAProperlySignedResponse) {
  Bytes signed_response = ServerSign(response_, request_mac_, 1'700'000'010);
  EXPECT_TRUE(VerifyResponse(signed_response, Key(), request_mac_, now_).ok());
}

TEST_F(TsigResponseTest, RejectsWhatShouldNotVerify) {
  const Bytes good = ServerSign(response_, request_mac_, 1'700'000'000);
  Bytes tampered = good;
  tampered[3] ^= 0x01;  // flip a header bit after signing
  EXPECT_FALSE(VerifyResponse(tampered, Key(), request_mac_, now_).ok());
  EXPECT_FALSE(VerifyResponse(good, Key(), std::string(32, 'x'), now_).ok());  // other request
  EXPECT_FALSE(VerifyResponse(ServerSign(response_, request_mac_, 1'700'000'000, 0, "other"), Key(),
                              request_mac_, now_)
                   .ok());
  EXPECT_FALSE(
      VerifyResponse(ServerSign(response_, request_mac_, 1'699'999'000), Key(), request_mac_, now_)
          .ok());  // outside the 300 s fudge
  EXPECT_FALSE(VerifyResponse(response_, Key(), request_mac_, now_).ok());  // unsigned
  Status badsig = VerifyResponse(ServerSign(response_, request_mac_, 1'700'000'000, 16), Key(),
                                 request_mac_, now_);
  EXPECT_NE(badsig.message().find("BADSIG"), std::string::npos) << badsig.ToString();
  Status badkey = VerifyResponse(ServerSign(response_, request_mac_, 1'700'000'000, 17), Key(),
                                 request_mac_, now_);
  EXPECT_NE(badkey.message().find("BADKEY"), std::string::npos) << badkey.ToString();
}

TEST(UpdateMessageTest, DeletesThenAddsTheRecordSet) {
  RecordSetChange change{"api.pilotlight.test.", rrtype::kA, 30, {"127.0.2.10", "127.0.2.11"}};
  Result<Bytes> wire =
      Rfc2136Publisher::BuildUpdate(*Name::FromString("pilotlight.test."), change, 7);
  ASSERT_TRUE(wire.ok()) << wire.status().ToString();
  const Bytes expected =
      {
          0x00, 0x07, 0x28, 0x00, 0,   1,   0,   0,   0,   3,    0,   0,  // opcode UPDATE, ZO 1, UP
                                                                          // 3
          10,   'p',  'i',  'l',  'o', 't', 'l', 'i', 'g', 'h',  't', 4, 't', 'e', 's', 't',
          0,    0,    6,    0,    1,   3,   'a', 'p', 'i', 0xC0, 12,  0, 1,   0,   255, 0,
          0,    0,    0,    0,    0,  // delete RRset: class ANY
          0xC0, 33,   0,    1,    0,   1,   0,   0,   0,   30,   0,   4, 127, 0,   2,   10,  // add
          0xC0, 33,   0,    1,    0,   1,   0,   0,   0,   30,   0,   4, 127, 0,   2,   11};
  EXPECT_EQ(*wire, expected);
  change.name = "api.example.org.";
  EXPECT_FALSE(
      Rfc2136Publisher::BuildUpdate(*Name::FromString("pilotlight.test."), change, 7).ok());
  change.name = "api.pilotlight.test.";
  change.values = {"not-an-ip"};
  EXPECT_FALSE(
      Rfc2136Publisher::BuildUpdate(*Name::FromString("pilotlight.test."), change, 7).ok());
}

}  // namespace
}  // namespace pilotlight::dns
