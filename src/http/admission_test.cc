#include "http/admission.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace pilotlight::http {
namespace {

ClientBounds Bounds(size_t cap, size_t per_client) {
  ClientBounds b;
  b.max_connections = cap;
  b.max_connections_per_client = per_client;
  return b;
}

TEST(AdmissionTest, PerClientLimitIsTheGivenShareOrAQuarterOfTheCap) {
  struct Case {
    size_t cap, per_client, want;
  };
  for (const Case& c : std::vector<Case>{
           {512, 0, 128}, {64, 0, 16}, {3, 0, 1}, {1, 0, 1}, {0, 0, 1}, {64, 10, 10}, {8, 8, 8},
           {8, 20, 8}}) {
    EXPECT_EQ(PerClientLimit(Bounds(c.cap, c.per_client)), c.want)
        << "cap " << c.cap << " per client " << c.per_client;
  }
}

TEST(AdmissionTest, DecisionsByCounts) {
  struct Case {
    size_t open_total, open_by_client;
    Admission want;
  };
  const ClientBounds b = Bounds(8, 2);
  for (const Case& c : std::vector<Case>{
           {0, 0, Admission::kAdmitted},
           {7, 1, Admission::kAdmitted},
           {1, 2, Admission::kClientShareUsed},
           {8, 0, Admission::kServerFull},
           {9, 0, Admission::kServerFull},
           // Both: the share is named, so the server may make room among that
           // client's own connections rather than anyone's.
           {8, 2, Admission::kClientShareUsed},
       }) {
    EXPECT_EQ(DecideAdmission(c.open_total, c.open_by_client, b), c.want)
        << c.open_total << " open, " << c.open_by_client << " of the client";
  }
}

TEST(AdmissionTest, OneAddressCannotTakeTheWholeServer) {
  ConnectionLedger ledger(Bounds(8, 0));  // share: 2
  EXPECT_EQ(ledger.Admit("127.0.0.1"), Admission::kAdmitted);
  EXPECT_EQ(ledger.Admit("127.0.0.1"), Admission::kAdmitted);
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(ledger.Admit("127.0.0.1"), Admission::kClientShareUsed);
  }
  EXPECT_EQ(ledger.open(), 2u);  // refusals are not counted
  EXPECT_EQ(ledger.Admit("127.0.0.2"), Admission::kAdmitted);
  ledger.Release("127.0.0.1");
  EXPECT_EQ(ledger.open_by("127.0.0.1"), 1u);
  EXPECT_EQ(ledger.Admit("127.0.0.1"), Admission::kAdmitted);
}

TEST(AdmissionTest, ManyAddressesFillTheServerThenAreRefused) {
  ConnectionLedger ledger(Bounds(4, 0));  // share: 1
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(ledger.Admit("10.0.0." + std::to_string(i)), Admission::kAdmitted);
  }
  EXPECT_EQ(ledger.Admit("10.0.0.9"), Admission::kServerFull);
  ledger.Release("10.0.0.0");
  EXPECT_EQ(ledger.Admit("10.0.0.9"), Admission::kAdmitted);
  EXPECT_EQ(ledger.open_by("10.0.0.0"), 0u);
}

TEST(AdmissionTest, ReleaseOfAnUnknownClientChangesNothing) {
  ConnectionLedger ledger(Bounds(4, 0));
  EXPECT_EQ(ledger.Admit("a"), Admission::kAdmitted);
  ledger.Release("b");
  EXPECT_EQ(ledger.open(), 1u);
}

TEST(AdmissionTest, ConcurrentAdmissionsNeverExceedTheShare) {
  ConnectionLedger ledger(Bounds(64, 5));
  std::vector<std::thread> threads;
  std::atomic<int> admitted{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        if (ledger.Admit("x") == Admission::kAdmitted) {
          ++admitted;
          ledger.Release("x");
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ledger.open(), 0u);
  EXPECT_GT(admitted.load(), 0);
}

TEST(AdmissionTest, ValidateNamesTheField) {
  ClientBounds b = Bounds(0, 0);
  Status st = Validate(b, "trader serve");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("trader serve: max_connections"), std::string::npos)
      << st.message();
  b = Bounds(4, 5);
  st = Validate(b, "x");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("max_connections_per_client"), std::string::npos) << st.message();
  b = Bounds(4, 0);
  b.request_deadline = Duration::zero();
  st = Validate(b, "x");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("request_deadline"), std::string::npos) << st.message();
  EXPECT_TRUE(Validate(Bounds(4, 4), "x").ok());
}

}  // namespace
}  // namespace pilotlight::http
