// RFC 2136 + TSIG against a real Knot DNS: the publisher changes a record set, and dig
// reads the new answer back from Knot.
#include <gtest/gtest.h>

#include "dns/update/publisher.h"
#include "knot_fixture.h"

namespace pilotlight {
namespace {

using testing::Dig;
using testing::DigSection;
using testing::KnotServer;
using testing::LastFields;

constexpr const char* kZone =
    "$ORIGIN pilotlight.test.\n"
    "$TTL 60\n"
    "@   SOA ns1 hostmaster 1 3600 600 604800 30\n"
    "@   NS  ns1\n"
    "ns1 A   127.0.3.1\n"
    "api A   127.0.1.10\n";

class KnotUpdateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Status started = knot_.Start("pilotlight.test", kZone);
    ASSERT_TRUE(started.ok()) << started.ToString();
  }
  void TearDown() override {
    if (HasFailure()) std::cerr << "knotd log:\n" << knot_.Log();
    knot_.Stop();
  }

  dns::Rfc2136Options Options(const char* secret = KnotServer::kSecret,
                              const char* key = KnotServer::kKeyName) {
    dns::Rfc2136Options o;
    o.server = {"127.0.0.1", knot_.port()};
    o.zone = "pilotlight.test.";
    o.key = dns::TsigKey::FromBase64(key, secret).value();
    o.timeout = std::chrono::seconds(2);
    o.attempts = 3;
    return o;
  }
  std::vector<std::string> Answer(const std::string& name) {
    return LastFields(DigSection(Dig("127.0.0.1", knot_.port(), {name, "A"}), "ANSWER"));
  }
  uint32_t Serial() {
    const std::string out = Dig("127.0.0.1", knot_.port(), {"pilotlight.test.", "SOA", "+short"});
    std::istringstream in(out);
    std::string mname, rname;
    uint32_t serial = 0;
    in >> mname >> rname >> serial;
    return serial;
  }

  KnotServer knot_;
  // TSIG signs with the real time: Knot checks it against its own clock.
  Clock& clock_ = SystemClock::Instance();
};

TEST_F(KnotUpdateTest, PublishesAFailoverAndReadsItBack) {
  ASSERT_EQ(Answer("api.pilotlight.test."), std::vector<std::string>{"127.0.1.10"});
  const uint32_t serial = Serial();
  dns::Rfc2136Publisher publisher(Options(), clock_);
  Status s = publisher.Publish({"api.pilotlight.test.", dns::rrtype::kA, 30, {"127.0.2.10"}});
  ASSERT_TRUE(s.ok()) << s.ToString();
  // Read back independently with dig: the new address and TTL, and a higher serial.
  const std::string out = Dig("127.0.0.1", knot_.port(), {"api.pilotlight.test.", "A"});
  const std::vector<std::string> answer = DigSection(out, "ANSWER");
  ASSERT_EQ(answer.size(), 1u) << out;
  EXPECT_EQ(LastFields(answer), std::vector<std::string>{"127.0.2.10"});
  EXPECT_NE(answer[0].find("\t30\t"), std::string::npos) << answer[0];
  EXPECT_GT(Serial(), serial);

  // Several values, a new name, and back to the primary.
  ASSERT_TRUE(
      publisher
          .Publish({"trade.pilotlight.test.", dns::rrtype::kA, 30, {"127.0.2.20", "127.0.2.21"}})
          .ok());
  std::vector<std::string> trade = Answer("trade.pilotlight.test.");
  std::sort(trade.begin(), trade.end());
  EXPECT_EQ(trade, (std::vector<std::string>{"127.0.2.20", "127.0.2.21"}));
  ASSERT_TRUE(
      publisher.Publish({"api.pilotlight.test.", dns::rrtype::kA, 60, {"127.0.1.10"}}).ok());
  EXPECT_EQ(Answer("api.pilotlight.test."), std::vector<std::string>{"127.0.1.10"});
}

TEST_F(KnotUpdateTest, AWrongSecretIsRejectedAndChangesNothing) {
  dns::Rfc2136Publisher publisher(Options("d3Jvbmctc2VjcmV0LWZvci1waWxvdGxpZ2h0LXRlc3Q="), clock_);
  Status s = publisher.Publish({"api.pilotlight.test.", dns::rrtype::kA, 30, {"127.0.2.10"}});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("BADSIG"), std::string::npos) << s.ToString();
  EXPECT_EQ(Answer("api.pilotlight.test."), std::vector<std::string>{"127.0.1.10"});
}

TEST_F(KnotUpdateTest, AnUnknownKeyIsRejected) {
  dns::Rfc2136Publisher publisher(Options(KnotServer::kSecret, "someone-else"), clock_);
  Status s = publisher.Publish({"api.pilotlight.test.", dns::rrtype::kA, 30, {"127.0.2.10"}});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("BADKEY"), std::string::npos) << s.ToString();
  EXPECT_EQ(Answer("api.pilotlight.test."), std::vector<std::string>{"127.0.1.10"});
}

TEST_F(KnotUpdateTest, AZoneTheServerDoesNotServeIsRejectedWithoutRetries) {
  dns::Rfc2136Options o = Options();
  o.zone = "other.test.";
  FakeClock clock(SystemClock::Instance().Now());
  dns::Rfc2136Publisher counted(o, clock);
  const auto before = clock.Monotonic();
  Status s = counted.Publish({"api.other.test.", dns::rrtype::kA, 30, {"127.0.2.10"}});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("NOTAUTH"), std::string::npos) << s.ToString();
  EXPECT_EQ(clock.Monotonic(), before);  // no backoff: retrying cannot help
}

TEST_F(KnotUpdateTest, AClockOutsideTheFudgeIsReported) {
  FakeClock skewed(SystemClock::Instance().Now() - std::chrono::hours(1));
  dns::Rfc2136Publisher publisher(Options(), skewed);
  Status s = publisher.Publish({"api.pilotlight.test.", dns::rrtype::kA, 30, {"127.0.2.10"}});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("BADTIME"), std::string::npos) << s.ToString();
  EXPECT_EQ(Answer("api.pilotlight.test."), std::vector<std::string>{"127.0.1.10"});
}

TEST(KnotUnreachableTest, RetriesWithBackoffThenReportsTheServer) {
  FakeClock clock;
  dns::Rfc2136Options o;
  const testing::ClosedPort closed;  // nothing listens there
  o.server = {"127.0.0.1", closed.port()};
  o.zone = "pilotlight.test.";
  o.key = dns::TsigKey::FromBase64(KnotServer::kKeyName, KnotServer::kSecret).value();
  o.attempts = 3;
  o.backoff = std::chrono::milliseconds(500);
  dns::Rfc2136Publisher publisher(o, clock);
  const auto before = clock.Monotonic();
  Status s = publisher.Publish({"api.pilotlight.test.", dns::rrtype::kA, 30, {"127.0.2.10"}});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(o.server.ToString()), std::string::npos) << s.ToString();
  EXPECT_EQ(clock.Monotonic() - before, std::chrono::milliseconds(500 + 1000));  // 2 backoffs
}

}  // namespace
}  // namespace pilotlight
