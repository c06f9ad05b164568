// The fence a client cannot talk past, on a real lab: the trading service logs
// in as its own role (regions[].postgres.app_user, no superuser); fencing the
// primary revokes that role's LOGIN, ends its sessions and sets the read-only
// default, so neither a session opened before the fence nor a new one can
// commit a write, BEGIN READ WRITE included. Promoting the replica (which
// received the revocation by replication) and lifting the fence give back
// exactly the LOGIN the fence took. And the read-only default alone, the
// fence of earlier releases, is shown to be talked past.
#include <gtest/gtest.h>

#include <signal.h>

#include <optional>
#include <vector>

#include "controller/lease_http.h"
#include "core/clock.h"
#include "core/duration.h"
#include "data/postgres/failover.h"
#include "data/postgres/region_database.h"
#include "data/postgres/replication.h"
#include "data_lab.h"

namespace pilotlight {
namespace {

using namespace std::chrono_literals;
using testing::MustConnect;
using testing::QueryValue;
using testing::WaitFor;

constexpr char kBeginReadWrite[] =
    "BEGIN READ WRITE; INSERT INTO symbols (symbol, tick) VALUES ('ZZFENCE', 0.01) "
    "ON CONFLICT (symbol) DO UPDATE SET tick = EXCLUDED.tick; COMMIT";

class ApplicationFenceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    lab_ = testing::MakeTestLab();
    testing::CommandResult up = testing::RunPilotlight(lab_.Args({"up"}));
    ASSERT_EQ(up.exit_code, 0) << up.err;
    config_ = testing::LoadLabConfig(lab_);
    primary_ = pg::RegionDatabase(config_.Primary());
    dr_ = pg::RegionDatabase(config_.Dr());
    ASSERT_TRUE(primary_.has_application_role()) << primary_.ToString();
  }
  void TearDown() override { lab_.Destroy(); }

  testing::TestLab lab_;
  config::Config config_;
  pg::Endpoint primary_;
  pg::Endpoint dr_;
  SystemClock& clock_ = SystemClock::Instance();
};

TEST_F(ApplicationFenceTest, TheApplicationRoleIsNoSuperuserAndOwnsTheTradingSchema) {
  auto app = MustConnect(primary_.AsApplication());
  ASSERT_NE(app, nullptr);
  EXPECT_EQ(QueryValue(*app, "SELECT current_user"), "trader");
  EXPECT_EQ(QueryValue(*app, "SELECT rolsuper::text FROM pg_roles WHERE rolname = current_user"),
            "false");
  EXPECT_EQ(QueryValue(*app, "SELECT tableowner FROM pg_tables WHERE tablename = 'orders'"),
            "trader");
  // A superuser-only act is refused to the application.
  EXPECT_FALSE(app->Exec("ALTER SYSTEM SET default_transaction_read_only = off").ok());
}

TEST_F(ApplicationFenceTest, TheReadOnlyDefaultAloneIsTalkedPast) {
  // The fence of earlier releases: only the default. A client writes anyway.
  auto admin = MustConnect(primary_);
  ASSERT_NE(admin, nullptr);
  ASSERT_TRUE(admin->Exec("ALTER SYSTEM SET default_transaction_read_only = on").ok());
  ASSERT_TRUE(admin->Exec("SELECT pg_reload_conf()").ok());
  ASSERT_TRUE(WaitFor(10s, [&] {
    auto fresh = MustConnect(primary_.AsApplication());
    return fresh && QueryValue(*fresh, "SHOW default_transaction_read_only") == "on";
  }));
  auto app = MustConnect(primary_.AsApplication());
  ASSERT_NE(app, nullptr);
  EXPECT_FALSE(app->Exec("INSERT INTO symbols VALUES ('ZZPLAIN', 0.01)").ok());
  EXPECT_TRUE(app->Exec(kBeginReadWrite).ok()) << "the default held: PostgreSQL changed?";
  EXPECT_TRUE(pg::AttemptApplicationWrite(primary_).committed);
  // So ReadFenceState does not call that fenced.
  EXPECT_FALSE(pg::ReadFenceState(primary_).fenced());
}

TEST_F(ApplicationFenceTest, NoApplicationClientCommitsAfterTheFenceAndPromotionGivesLoginBack) {
  // A session the application opened before the fence, and one it keeps idle.
  auto before = MustConnect(primary_.AsApplication());
  ASSERT_NE(before, nullptr);
  ASSERT_TRUE(before->Exec(kBeginReadWrite).ok());

  Result<pg::FenceOutcome> fence =
      pg::Fence(primary_, pg::FenceMode::kReadOnly, 30s, clock_);
  ASSERT_TRUE(fence.ok()) << fence.status().ToString();
  EXPECT_EQ(fence->revoked_login, "trader") << fence->ToString();
  EXPECT_GE(fence->terminated_sessions, 1) << fence->ToString();

  // The old session is gone; a new one is refused; BEGIN READ WRITE cannot commit.
  EXPECT_FALSE(before->Exec(kBeginReadWrite).ok());
  Result<std::unique_ptr<pg::Connection>> fresh = pg::Connection::Open(primary_.AsApplication());
  ASSERT_FALSE(fresh.ok());
  EXPECT_NE(fresh.status().message().find("not permitted to log in"), std::string::npos)
      << fresh.status().ToString();
  const pg::WriteAttempt attempt = pg::AttemptApplicationWrite(primary_);
  EXPECT_FALSE(attempt.committed) << attempt.detail;
  EXPECT_TRUE(attempt.refused) << attempt.detail;
  EXPECT_TRUE(pg::ReadFenceState(primary_).fenced()) << pg::ReadFenceState(primary_).detail;

  // Fencing again is a no-op that still holds.
  Result<pg::FenceOutcome> again = pg::Fence(primary_, pg::FenceMode::kReadOnly, 30s, clock_);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_TRUE(again->already_fenced) << again->ToString();

  // DR received the revocation by replication; its promotion gives LOGIN back,
  // and the application commits there.
  ASSERT_TRUE(WaitFor(20s, [&] {
    pg::ReplicationStatus st = pg::ReadReplicationStatus(primary_, dr_, "dr");
    return st.replay_lag_bytes && *st.replay_lag_bytes <= 0;
  }));
  Result<pg::PromoteOutcome> promoted = pg::Promote(dr_, 60s, clock_);
  ASSERT_TRUE(promoted.ok()) << promoted.status().ToString();
  EXPECT_EQ(promoted->restored_logins, std::vector<std::string>{"trader"}) << promoted->ToString();
  auto on_dr = MustConnect(dr_.AsApplication());
  ASSERT_NE(on_dr, nullptr);
  EXPECT_TRUE(on_dr->Exec(kBeginReadWrite).ok());
  // The old primary still refuses the application.
  EXPECT_FALSE(pg::AttemptApplicationWrite(primary_).committed);
}

TEST_F(ApplicationFenceTest, UnfenceRestoresExactlyWhatTheFenceChanged) {
  auto admin = MustConnect(primary_);
  ASSERT_NE(admin, nullptr);
  // A role an operator locked on purpose stays locked after the fence is lifted.
  ASSERT_TRUE(admin->Exec("CREATE ROLE reporting NOLOGIN").ok());
  pg::Endpoint reporting = primary_;
  reporting.application_user = "reporting";
  ASSERT_TRUE(pg::Fence(primary_, pg::FenceMode::kReadOnly, 30s, clock_).ok());
  ASSERT_TRUE(pg::Fence(reporting, pg::FenceMode::kReadOnly, 30s, clock_).ok());
  ASSERT_TRUE(pg::Unfence(primary_, 30s, clock_).ok());
  admin = MustConnect(primary_);  // the fence ended every client session, ours too
  ASSERT_NE(admin, nullptr);
  auto app = MustConnect(primary_.AsApplication());
  ASSERT_NE(app, nullptr);
  EXPECT_TRUE(app->Exec(kBeginReadWrite).ok());
  EXPECT_EQ(QueryValue(*admin, "SELECT rolcanlogin::text FROM pg_roles WHERE rolname = 'reporting'"),
            "false");
  EXPECT_FALSE(pg::ReadFenceState(primary_).fenced());
  // Lifting twice is a no-op.
  EXPECT_TRUE(pg::Unfence(primary_, 30s, clock_).ok());
}

TEST_F(ApplicationFenceTest, EveryConnectionSlotHeldByTheApplicationDoesNotLockTheFenceOut) {
  // The application fills every slot it may take (max_connections less the
  // superuser-reserved ones), keeping each connection open and idle.
  std::vector<std::unique_ptr<pg::Connection>> idle;
  for (int i = 0; i < 200; ++i) {
    Result<std::unique_ptr<pg::Connection>> c = pg::Connection::Open(primary_.AsApplication());
    if (!c.ok()) {
      EXPECT_NE(c.status().message().find("reserved"), std::string::npos) << c.status().ToString();
      break;
    }
    idle.push_back(std::move(*c));
  }
  ASSERT_GE(idle.size(), 50u);
  // The admin's fence still gets in, and ends every one of them.
  Result<pg::FenceOutcome> fence = pg::Fence(primary_, pg::FenceMode::kReadOnly, 30s, clock_);
  ASSERT_TRUE(fence.ok()) << fence.status().ToString();
  EXPECT_GE(fence->terminated_sessions, static_cast<int>(idle.size())) << fence->ToString();
  int committed = 0;
  for (auto& c : idle) committed += c->Exec(kBeginReadWrite).ok() ? 1 : 0;
  EXPECT_EQ(committed, 0);
}

TEST_F(ApplicationFenceTest, AnIdTheOldPrimaryIssuedIsNeverIssuedAgainAfterPromotion) {
  // DR stops receiving WAL: what the primary does next is the asynchronous tail
  // a region outage loses.
  auto dr_admin = MustConnect(dr_);
  ASSERT_NE(dr_admin, nullptr);
  ASSERT_TRUE(dr_admin->Exec("ALTER SYSTEM SET primary_conninfo = ''").ok());
  ASSERT_TRUE(dr_admin->Exec("SELECT pg_reload_conf()").ok());
  ASSERT_TRUE(WaitFor(20s, [&] {
    auto p = MustConnect(primary_);
    return p && QueryValue(*p, "SELECT count(*) FROM pg_stat_replication") == "0";
  }));
  // The old primary hands out order and trade ids DR never hears of.
  auto app = MustConnect(primary_.AsApplication());
  ASSERT_NE(app, nullptr);
  const std::string old_order = QueryValue(
      *app, "SELECT max(nextval('orders_order_id_seq'))::text FROM generate_series(1, 500)");
  const std::string old_trade = QueryValue(
      *app, "SELECT max(nextval('trades_trade_id_seq'))::text FROM generate_series(1, 500)");
  ASSERT_GE(std::stoll(old_order), 500) << old_order;

  Result<pg::PromoteOutcome> promoted = pg::Promote(dr_, 60s, clock_);
  ASSERT_TRUE(promoted.ok()) << promoted.status().ToString();
  EXPECT_GE(promoted->sequences_moved, 2) << promoted->ToString();
  auto on_dr = MustConnect(dr_.AsApplication());
  ASSERT_NE(on_dr, nullptr);
  const long long new_order = std::stoll(QueryValue(*on_dr, "SELECT nextval('orders_order_id_seq')::text"));
  const long long new_trade = std::stoll(QueryValue(*on_dr, "SELECT nextval('trades_trade_id_seq')::text"));
  EXPECT_GT(new_order, std::stoll(old_order));
  EXPECT_GT(new_trade, std::stoll(old_trade));
  // Promoting again moves nothing (idempotent) and ids keep increasing.
  Result<pg::PromoteOutcome> again = pg::Promote(dr_, 60s, clock_);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_TRUE(again->already_primary);
  EXPECT_EQ(again->sequences_moved, 0);
  EXPECT_GT(std::stoll(QueryValue(*on_dr, "SELECT nextval('orders_order_id_seq')::text")), new_order);
}

TEST_F(ApplicationFenceTest, AnAgentWhoseSqlFenceCannotFinishKillsTheServerInsideItsBudget) {
  // A session of the application, open before the fault.
  auto before = MustConnect(primary_.AsApplication());
  ASSERT_NE(before, nullptr);
  ASSERT_TRUE(before->Exec(kBeginReadWrite).ok());
  pg::LocalServer server = testing::RegionServer(lab_, config_, /*primary=*/true);
  std::optional<pid_t> postmaster = pg::RunningPostmaster(server);
  ASSERT_TRUE(postmaster.has_value());
  // The postmaster is frozen: no connection gets in, so no SQL fence can.
  ASSERT_EQ(kill(*postmaster, SIGSTOP), 0);

  controller::LeaseKeeperOptions options;
  options.database = primary_;
  options.database.connect_timeout = 1s;
  options.local_server = server;
  options.sql_fence_budget = 800ms;
  const controller::LeaseEffects effects = controller::PostgresLeaseEffects(options, clock_);
  const MonoTime start = clock_.Monotonic();
  Status fenced = effects.fence();
  const Duration took = clock_.Monotonic() - start;
  ASSERT_TRUE(fenced.ok()) << fenced.ToString();
  // Inside the lease's last sixth (1 s of a 6 s lease) plus the kill, with room
  // for a busy machine: far below the 5 s the SQL fence alone could take.
  EXPECT_LT(took, 3s) << FormatDuration(took);
  EXPECT_FALSE(pg::RunningPostmaster(server).has_value());
  // No process of the server survived, and the old session commits nothing.
  EXPECT_FALSE(before->Exec(kBeginReadWrite).ok());
  EXPECT_FALSE(pg::AttemptApplicationWrite(primary_).committed);
}

}  // namespace
}  // namespace pilotlight
