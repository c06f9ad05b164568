// Sessions as a two-region global table on the lab's real Redis servers: writes
// on either side replicate with their TTLs, concurrent writers on both sides of a
// partition converge to the same last writer once it heals, and nothing loops.
#include <gtest/gtest.h>

#include <thread>

#include "data/sessions/global_table.h"
#include "data/sessions/hlc.h"
#include "lab_fixture.h"

namespace pilotlight {
namespace {

using namespace std::chrono_literals;
using sessions::SessionEndpoint;
using sessions::SessionReplicator;
using sessions::SessionStore;
using testing::WaitFor;

constexpr int kKeys = 200;

class SessionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    lab_ = testing::MakeTestLab();
    testing::CommandResult up = testing::RunPilotlight(lab_.Args({"up", "--no-replicators"}));
    ASSERT_EQ(up.exit_code, 0) << up.err;
    primary_ = {"primary", lab_.Redis(true)};
    dr_ = {"dr", lab_.Redis(false)};
  }
  void TearDown() override { lab_.Destroy(); }

  std::unique_ptr<SessionStore> Store(const SessionEndpoint& e) {
    auto s = SessionStore::Open(e.redis, e.region);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(*s) : nullptr;
  }
  // Runs both directions until neither has anything pending.
  void ReplicateUntilIdle(SessionReplicator& to_dr, SessionReplicator& to_primary) {
    ASSERT_TRUE(WaitFor(60s, [&] {
      Result<sessions::ApplyStats> a = to_dr.RunOnce();
      Result<sessions::ApplyStats> b = to_primary.RunOnce();
      EXPECT_TRUE(a.ok()) << a.status().ToString();
      EXPECT_TRUE(b.ok()) << b.status().ToString();
      return a.ok() && b.ok() && a->consumed == 0 && b->consumed == 0;
    }));
  }
  int64_t StreamLength(const SessionEndpoint& e) {
    auto c = sessions::RedisClient::Connect(e.redis);
    if (!c.ok()) return -1;
    auto r = (*c)->Command({"XLEN", sessions::kChangeStream});
    return r.ok() ? r->integer : -1;
  }

  testing::TestLab lab_;
  SessionEndpoint primary_;
  SessionEndpoint dr_;
};

TEST_F(SessionsTest, WritesAndDeletesReplicateBothWaysWithTheirTtls) {
  auto p = Store(primary_);
  auto d = Store(dr_);
  ASSERT_TRUE(p && d);
  SessionReplicator to_dr(primary_, dr_);
  SessionReplicator to_primary(dr_, primary_);

  ASSERT_TRUE(p->Put("alice", "token-a", 60s).ok());
  ASSERT_TRUE(p->Put("forever", "no expiry", std::nullopt).ok());
  ASSERT_TRUE(d->Put("bob", "token-b", 30s).ok());  // DR writes too
  ReplicateUntilIdle(to_dr, to_primary);

  auto alice = d->Get("alice");
  ASSERT_TRUE(alice.ok() && alice->has_value());
  EXPECT_EQ((*alice)->value, "token-a");
  EXPECT_EQ((*alice)->origin, "primary");
  ASSERT_TRUE((*alice)->ttl_ms.has_value()) << "the TTL was lost in replication";
  auto alice_src = p->Get("alice");
  ASSERT_TRUE(alice_src.ok() && alice_src->has_value());
  EXPECT_NEAR(static_cast<double>(*(*alice)->ttl_ms), static_cast<double>(*(*alice_src)->ttl_ms),
              2000.0);
  EXPECT_GT(*(*alice)->ttl_ms, 50'000);
  auto forever = d->Get("forever");
  ASSERT_TRUE(forever.ok() && forever->has_value());
  EXPECT_FALSE((*forever)->ttl_ms.has_value());
  auto bob = p->Get("bob");
  ASSERT_TRUE(bob.ok() && bob->has_value());
  EXPECT_EQ((*bob)->value, "token-b");
  EXPECT_LE(*(*bob)->ttl_ms, 30'000);

  // A short TTL expires on both sides; a delete replicates as a tombstone.
  ASSERT_TRUE(p->Put("brief", "gone soon", 1500ms).ok());
  ASSERT_TRUE(d->Delete("alice").ok());
  ReplicateUntilIdle(to_dr, to_primary);
  auto deleted = p->Get("alice");
  ASSERT_TRUE(deleted.ok());
  EXPECT_FALSE(deleted->has_value()) << "the delete made on DR did not reach the primary";
  EXPECT_TRUE(WaitFor(5s, [&] {
    auto a = p->Get("brief");
    auto b = d->Get("brief");
    return a.ok() && b.ok() && !a->has_value() && !b->has_value();
  })) << "a replicated session outlived its TTL";

  // Nothing loops: applied changes are not published again.
  const int64_t p_len = StreamLength(primary_);
  const int64_t d_len = StreamLength(dr_);
  for (int i = 0; i < 3; ++i) {
    auto a = to_dr.RunOnce();
    auto b = to_primary.RunOnce();
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(a->consumed + b->consumed, 0);
  }
  EXPECT_EQ(StreamLength(primary_), p_len);
  EXPECT_EQ(StreamLength(dr_), d_len);
}

TEST_F(SessionsTest, ConcurrentWritersOnBothSidesOfAPartitionConverge) {
  // The partition: no replication while both regions take writes to the same keys.
  std::vector<std::string> last_primary(kKeys), last_dr(kKeys);
  auto writer = [&](const SessionEndpoint& e, std::vector<std::string>& last, const char* tag) {
    auto store = SessionStore::Open(e.redis, e.region);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    for (int round = 0; round < 5; ++round) {
      for (int k = 0; k < kKeys; ++k) {
        const std::string id = "user-" + std::to_string(k);
        Result<std::string> stamp =
            (k + round) % 7 == 0 ? (*store)->Delete(id)
                                 : (*store)->Put(id, std::string(tag) + "-" + std::to_string(round), 120s);
        ASSERT_TRUE(stamp.ok()) << stamp.status().ToString();
        last[k] = *stamp;
      }
    }
  };
  std::thread a([&] { writer(primary_, last_primary, "P"); });
  std::thread b([&] { writer(dr_, last_dr, "D"); });
  a.join();
  b.join();

  // Both sides have pending changes: the lag of each direction is known and counted.
  sessions::SessionLag lag = sessions::ReadSessionLag(primary_, dr_);
  EXPECT_TRUE(lag.known) << lag.problem;
  EXPECT_EQ(lag.pending, 5 * kKeys);

  // The partition heals: replicate while both sides keep writing a little.
  SessionReplicator to_dr(primary_, dr_);
  SessionReplicator to_primary(dr_, primary_);
  std::thread more([&] {
    auto store = SessionStore::Open(primary_.redis, primary_.region);
    ASSERT_TRUE(store.ok());
    for (int k = 0; k < 20; ++k) {
      auto stamp = (*store)->Put("user-" + std::to_string(k), "P-late", 120s);
      ASSERT_TRUE(stamp.ok());
      last_primary[k] = *stamp;
    }
  });
  auto r1 = to_dr.RunOnce(300);
  auto r2 = to_primary.RunOnce(300);
  ASSERT_TRUE(r1.ok() && r2.ok());
  more.join();
  ReplicateUntilIdle(to_dr, to_primary);

  auto p = Store(primary_);
  auto d = Store(dr_);
  int differing = 0;
  for (int k = 0; k < kKeys; ++k) {
    const std::string id = "user-" + std::to_string(k);
    auto x = p->GetRecord(id);
    auto y = d->GetRecord(id);
    ASSERT_TRUE(x.ok() && y.ok());
    ASSERT_TRUE(x->has_value() && y->has_value()) << id;
    const std::string want = std::max(last_primary[k], last_dr[k]);  // last writer by HLC
    if ((*x)->hlc != (*y)->hlc || (*x)->value != (*y)->value || (*x)->deleted != (*y)->deleted) {
      ++differing;
    }
    EXPECT_EQ((*x)->hlc, want) << id;
    EXPECT_EQ((*y)->hlc, want) << id;
    ASSERT_TRUE(sessions::Hlc::Parse((*x)->hlc).has_value());
    EXPECT_EQ((*x)->origin, sessions::Hlc::Parse(want)->origin) << id;
  }
  EXPECT_EQ(differing, 0);

  sessions::SessionLag healed = sessions::ReadSessionLag(primary_, dr_);
  EXPECT_TRUE(healed.known);
  EXPECT_EQ(healed.pending, 0);
  EXPECT_EQ(healed.lag, Duration(0));
}

TEST_F(SessionsTest, LagIsTheAgeOfTheOldestUnreplicatedChangePerDirection) {
  auto p = Store(primary_);
  ASSERT_TRUE(p->Put("carol", "token-c", 60s).ok());
  sessions::SessionLag forward;
  ASSERT_TRUE(WaitFor(10s, [&] {
    forward = sessions::ReadSessionLag(primary_, dr_);
    return forward.known && forward.lag >= 1s;
  })) << forward.problem;
  EXPECT_EQ(forward.pending, 1);
  sessions::SessionLag back = sessions::ReadSessionLag(dr_, primary_);
  EXPECT_TRUE(back.known) << back.problem;
  EXPECT_EQ(back.lag, Duration(0));

  SessionReplicator to_dr(primary_, dr_);
  ASSERT_TRUE(to_dr.RunOnce().ok());
  forward = sessions::ReadSessionLag(primary_, dr_);
  EXPECT_EQ(forward.lag, Duration(0));
  EXPECT_EQ(forward.pending, 0);

  // An unreachable destination makes the lag unknown, with the reason.
  testing::CommandResult kill = testing::RunPilotlight(lab_.Args({"kill-region", "dr"}));
  ASSERT_EQ(kill.exit_code, 0) << kill.err;
  sessions::SessionLag cut = sessions::ReadSessionLag(primary_, dr_);
  EXPECT_FALSE(cut.known);
  EXPECT_NE(cut.problem.find("Redis"), std::string::npos) << cut.problem;
}

}  // namespace
}  // namespace pilotlight
