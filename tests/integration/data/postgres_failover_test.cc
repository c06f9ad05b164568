// PostgreSQL failover and failback on a real lab: the lag gate, synchronous
// commits, fencing the old primary (and the fence holding across its restart),
// promoting the DR replica, and rejoining the old primary with pg_rewind (or a
// fresh pg_basebackup) as a standby that streams from the new primary.
#include <gtest/gtest.h>

#include "core/clock.h"
#include "data/postgres/failover.h"
#include "data/postgres/promotion_gate.h"
#include "data/postgres/rejoin.h"
#include "data/postgres/replication.h"
#include "data_lab.h"

namespace pilotlight {
namespace {

using namespace std::chrono_literals;
using testing::MustConnect;
using testing::QueryValue;
using testing::WaitFor;

class PostgresFailoverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    lab_ = testing::MakeTestLab(
        "replication:\n  heartbeat_interval: 200ms\n  max_lag_on_failover: 5s\n");
    testing::CommandResult up = testing::RunPilotlight(lab_.Args({"up"}));
    ASSERT_EQ(up.exit_code, 0) << up.err;
    config_ = testing::LoadLabConfig(lab_);
    old_primary_ = testing::RegionServer(lab_, config_, /*primary=*/true);
    // The admin role alone, as a server whose clients pilotlight cannot tell
    // apart: the read-only fence and its documented limit (the application
    // role's fence is application_fence_test's).
    primary_ = lab_.Pg(true);
    dr_ = lab_.Pg(false);
    for (pg::Endpoint* e : {&primary_, &dr_}) {
      e->application_user.clear();
      e->application_password_file.clear();
    }
  }
  void TearDown() override { lab_.Destroy(); }

  pg::ReplicationStatus Replication() { return pg::ReadReplicationStatus(primary_, dr_, "dr"); }

  // Waits until the DR replica has replayed everything the primary wrote.
  bool CaughtUp() {
    return WaitFor(20s, [&] {
      pg::ReplicationStatus st = Replication();
      return st.replay_lag_bytes && *st.replay_lag_bytes <= 0;
    });
  }

  pg::RejoinSpec OldPrimaryRejoin() {
    pg::RejoinSpec spec;
    spec.server = old_primary_;
    spec.new_primary = dr_;
    spec.application_name = "primary";
    spec.slot = "pilotlight_primary";
    spec.timeout = 3min;
    return spec;
  }

  testing::TestLab lab_;
  config::Config config_;
  pg::LocalServer old_primary_;
  pg::Endpoint primary_;
  pg::Endpoint dr_;
  SystemClock& clock_ = SystemClock::Instance();
};

TEST_F(PostgresFailoverTest, FencePromoteRestartAndRejoinWithRewind) {
  auto primary = MustConnect(primary_);
  ASSERT_NE(primary, nullptr);
  Status created = primary->Exec("CREATE TABLE failover_rows (id int PRIMARY KEY, note text);"
                                 "INSERT INTO failover_rows VALUES (1, 'before failover')");
  ASSERT_TRUE(created.ok()) << created.ToString();

  // Synchronous (remote_apply): every acknowledged commit is already visible on DR.
  ASSERT_TRUE(pg::SetSynchronousStandby(primary_, "dr").ok());
  ASSERT_TRUE(WaitFor(10s, [&] {
    return QueryValue(*primary, "SELECT sync_state FROM pg_stat_replication "
                                "WHERE application_name = 'dr'") == "sync";
  })) << QueryValue(*primary, "SELECT sync_state FROM pg_stat_replication");
  {
    auto primary_session = MustConnect(primary_);  // a new session sees remote_apply
    auto dr = MustConnect(dr_);
    ASSERT_NE(dr, nullptr);
    for (int i = 100; i < 120; ++i) {
      ASSERT_TRUE(primary_session->Exec("INSERT INTO failover_rows VALUES (" + std::to_string(i) +
                                        ", 'sync')").ok());
      EXPECT_EQ(QueryValue(*dr, "SELECT count(*) FROM failover_rows WHERE id = " + std::to_string(i)),
                "1")
          << "an acknowledged synchronous commit is not on DR";
    }
  }
  ASSERT_TRUE(pg::SetSynchronousStandby(primary_, "").ok());

  // The lag gate allows promotion of a replica that is streaming and close behind.
  pg::ReplicationStatus st;
  ASSERT_TRUE(WaitFor(10s, [&] {
    st = Replication();
    return st.streaming && st.replay_lag_seconds.has_value();
  })) << st.problem;
  pg::PromotionVerdict verdict =
      pg::CheckPromotionLag({st, config_.replication.max_lag_on_failover, false, {}});
  EXPECT_EQ(verdict.decision, pg::PromotionDecision::kAllowed) << verdict.reason;

  // A session opened before the fence that turned the fence's default off for itself.
  auto rogue = MustConnect(primary_);
  ASSERT_NE(rogue, nullptr);
  ASSERT_TRUE(rogue->Exec("SET default_transaction_read_only = off").ok());

  Result<pg::FenceOutcome> fence = pg::Fence(primary_, pg::FenceMode::kReadOnly, 30s, clock_);
  ASSERT_TRUE(fence.ok()) << fence.status().ToString();
  EXPECT_FALSE(fence->already_fenced);
  EXPECT_GE(fence->terminated_sessions, 1) << fence->ToString();
  Status rogue_write = rogue->Exec("INSERT INTO failover_rows VALUES (2, 'rogue')");
  EXPECT_FALSE(rogue_write.ok()) << "a session from before the fence still writes";
  {
    auto fresh = MustConnect(primary_);
    Status w = fresh->Exec("INSERT INTO failover_rows VALUES (2, 'after fence')");
    EXPECT_FALSE(w.ok());
    EXPECT_EQ(fresh->last_sqlstate(), pg::kSqlStateReadOnlyTransaction) << w.message();
  }
  Result<pg::FenceOutcome> again = pg::Fence(primary_, pg::FenceMode::kReadOnly, 30s, clock_);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_TRUE(again->already_fenced) << again->ToString();

  // Promote once the replica holds every write: a new timeline and writable.
  ASSERT_TRUE(CaughtUp());
  Result<pg::PromoteOutcome> promoted = pg::Promote(dr_, 60s, clock_);
  ASSERT_TRUE(promoted.ok()) << promoted.status().ToString();
  EXPECT_FALSE(promoted->already_primary);
  EXPECT_GT(promoted->timeline_after, promoted->timeline_before) << promoted->ToString();
  auto dr = MustConnect(dr_);
  ASSERT_NE(dr, nullptr);
  ASSERT_TRUE(dr->Exec("INSERT INTO failover_rows VALUES (3, 'written on DR')").ok());
  EXPECT_EQ(QueryValue(*dr, "SELECT count(*) FROM failover_rows WHERE id BETWEEN 100 AND 119"), "20");
  Result<pg::PromoteOutcome> twice = pg::Promote(dr_, 60s, clock_);
  ASSERT_TRUE(twice.ok()) << twice.status().ToString();
  EXPECT_TRUE(twice->already_primary);
  EXPECT_EQ(twice->timeline_after, promoted->timeline_after);

  // The documented limit of the read-only fence: an explicit READ WRITE transaction
  // still writes. This split-brain row must vanish when the old primary is rewound.
  {
    auto bypass = MustConnect(primary_);
    ASSERT_TRUE(bypass->Exec("BEGIN READ WRITE; INSERT INTO failover_rows VALUES (99, 'split brain'); "
                             "COMMIT")
                    .ok());
  }

  // The fence holds across a restart of the old primary.
  ASSERT_TRUE(pg::StopServer(old_primary_, 60s).ok());
  ASSERT_TRUE(pg::StartServer(old_primary_, 60s).ok());
  pg::FenceState after_restart = pg::ReadFenceState(primary_);
  EXPECT_TRUE(after_restart.reachable) << after_restart.detail;
  EXPECT_TRUE(after_restart.write_refused) << after_restart.detail;
  EXPECT_TRUE(after_restart.fenced());

  // Rejoin: rewound onto the new timeline, streaming from DR, split-brain row gone.
  Result<pg::RejoinOutcome> rejoined = pg::Rejoin(OldPrimaryRejoin(), clock_);
  ASSERT_TRUE(rejoined.ok()) << rejoined.status().ToString();
  EXPECT_EQ(rejoined->method, "pg_rewind") << rejoined->ToString();
  EXPECT_EQ(rejoined->timeline, promoted->timeline_after);
  Result<bool> streaming = pg::IsStreamingTo(dr_, "primary");
  ASSERT_TRUE(streaming.ok()) << streaming.status().ToString();
  EXPECT_TRUE(*streaming);
  ASSERT_TRUE(dr->Exec("INSERT INTO failover_rows VALUES (4, 'after rejoin')").ok());
  auto old = MustConnect(primary_);
  ASSERT_NE(old, nullptr);
  EXPECT_TRUE(WaitFor(10s, [&] {
    return QueryValue(*old, "SELECT note FROM failover_rows WHERE id = 4") == "after rejoin";
  })) << QueryValue(*old, "SELECT note FROM failover_rows WHERE id = 4");
  EXPECT_EQ(QueryValue(*old, "SELECT count(*) FROM failover_rows WHERE id = 99"), "0");
  EXPECT_EQ(QueryValue(*old, "SELECT note FROM failover_rows WHERE id = 3"), "written on DR");
  EXPECT_EQ(QueryValue(*old, "SELECT pg_is_in_recovery()::text"), "true");

  Result<pg::RejoinOutcome> idempotent = pg::Rejoin(OldPrimaryRejoin(), clock_);
  ASSERT_TRUE(idempotent.ok()) << idempotent.status().ToString();
  EXPECT_EQ(idempotent->method, "already streaming");
}

TEST_F(PostgresFailoverTest, NoConnectionsFenceThenCrashedOldPrimaryRejoins) {
  auto primary = MustConnect(primary_);
  Status created = primary->Exec("CREATE TABLE failover_rows (id int PRIMARY KEY, note text);"
                                 "INSERT INTO failover_rows VALUES (1, 'before failover')");
  ASSERT_TRUE(created.ok()) << created.ToString();
  primary.reset();

  // Fenced, lifted (writes work again), and fenced again.
  Result<pg::FenceOutcome> fence =
      pg::Fence(primary_, pg::FenceMode::kNoConnections, 30s, clock_, &old_primary_);
  ASSERT_TRUE(fence.ok()) << fence.status().ToString();
  EXPECT_EQ(fence->closed_databases, std::vector<std::string>{"trading"});
  Result<std::unique_ptr<pg::Connection>> refused = pg::Connection::Open(primary_);
  EXPECT_FALSE(refused.ok()) << "the application database still accepts connections";
  ASSERT_TRUE(pg::Unfence(primary_, 30s, clock_, &old_primary_).ok());
  {
    auto writer = MustConnect(primary_);
    ASSERT_NE(writer, nullptr);
    EXPECT_TRUE(writer->Exec("INSERT INTO failover_rows VALUES (5, 'between fences')").ok());
  }
  fence = pg::Fence(primary_, pg::FenceMode::kNoConnections, 30s, clock_, &old_primary_);
  ASSERT_TRUE(fence.ok()) << fence.status().ToString();
  EXPECT_FALSE(pg::Connection::Open(primary_).ok());
  ASSERT_TRUE(CaughtUp());

  Result<pg::PromoteOutcome> promoted = pg::Promote(dr_, 60s, clock_);
  ASSERT_TRUE(promoted.ok()) << promoted.status().ToString();
  auto dr = MustConnect(dr_);  // the fence did not travel to DR with the WAL
  ASSERT_NE(dr, nullptr);
  ASSERT_TRUE(dr->Exec("INSERT INTO failover_rows VALUES (2, 'written on DR')").ok());
  EXPECT_EQ(QueryValue(*dr, "SELECT note FROM failover_rows WHERE id = 5"), "between fences");

  // The old primary crashes (SIGKILL): rejoin finishes its crash recovery, then rewinds.
  testing::CommandResult kill = testing::RunPilotlight(lab_.Args({"kill-region", "primary"}));
  ASSERT_EQ(kill.exit_code, 0) << kill.err;
  Result<pg::RejoinOutcome> rejoined = pg::Rejoin(OldPrimaryRejoin(), clock_);
  ASSERT_TRUE(rejoined.ok()) << rejoined.status().ToString();
  EXPECT_EQ(rejoined->method, "pg_rewind") << rejoined->ToString();
  // A rewound standby carries the new primary's catalog: the application
  // database accepts (read-only) connections again.
  auto old = MustConnect(primary_);
  ASSERT_NE(old, nullptr);
  EXPECT_TRUE(WaitFor(10s, [&] {
    return QueryValue(*old, "SELECT note FROM failover_rows WHERE id = 2") == "written on DR";
  }));
}

TEST_F(PostgresFailoverTest, RejoinByBasebackupAndPausedReplayIsNoRisk) {
  // Pause replay on DR: it falls behind in replay but keeps receiving the WAL,
  // which promotion replays, so the gate sees nothing at risk and allows it (a
  // stopped receiver is refused: controller_wal_at_risk_test).
  auto dr = MustConnect(dr_);
  ASSERT_TRUE(dr->Exec("SELECT pg_wal_replay_pause()").ok());
  pg::ReplicationStatus st;
  ASSERT_TRUE(WaitFor(20s, [&] {
    st = Replication();
    return st.replay_lag_seconds && *st.replay_lag_seconds > 1.0;
  })) << st.problem;
  pg::PromotionVerdict paused = pg::CheckPromotionLag({st, 1s, false, {}});
  EXPECT_EQ(paused.decision, pg::PromotionDecision::kAllowed) << paused.reason;
  ASSERT_TRUE(paused.at_risk_seconds.has_value()) << paused.reason;
  EXPECT_LT(*paused.at_risk_seconds, 1.0) << paused.reason;
  ASSERT_TRUE(dr->Exec("SELECT pg_wal_replay_resume()").ok());

  ASSERT_TRUE(pg::Fence(primary_, pg::FenceMode::kReadOnly, 30s, clock_).ok());
  ASSERT_TRUE(CaughtUp());
  ASSERT_TRUE(pg::Promote(dr_, 60s, clock_).ok());
  pg::RejoinSpec spec = OldPrimaryRejoin();
  spec.force_basebackup = true;
  Result<pg::RejoinOutcome> rejoined = pg::Rejoin(spec, clock_);
  ASSERT_TRUE(rejoined.ok()) << rejoined.status().ToString();
  EXPECT_EQ(rejoined->method, "pg_basebackup");
  Result<bool> streaming = pg::IsStreamingTo(dr_, "primary");
  ASSERT_TRUE(streaming.ok());
  EXPECT_TRUE(*streaming);
}

}  // namespace
}  // namespace pilotlight
