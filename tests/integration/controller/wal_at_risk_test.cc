// What a failover after a region loss would lose, measured from the WAL on a
// real lab (PostgreSQL primary and streaming standby, the controller observing):
//  * the standby's WAL receiver stopped, rows written, the primary region
//    killed: `failover --plan` reports the bytes the standby never received and
//    the window they were written in, `failover --force` promotes, and the rows
//    missing on DR are exactly the ones written inside that report;
//  * replay paused instead: ~0 bytes at risk, the failover is not blocked, and
//    no row is lost (received WAL is replayed at promotion).
#include <gtest/gtest.h>

#include "controller_fixture.h"
#include "data/postgres/pg_client.h"
#include "data/postgres/wal_at_risk.h"

namespace pilotlight {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;
using testing::CommandResult;
using testing::RunPilotlight;
using testing::WaitFor;

constexpr int kRows = 300;

class WalAtRiskTest : public testing::ControllerLabFixture {
 protected:
  void SetUp() override {
    BringUp(testing::MakeTestLab("replication:\n  heartbeat_interval: 200ms\n"));
  }

  std::string Query(bool primary, const std::string& sql) {
    Result<std::unique_ptr<pg::Connection>> c = pg::Connection::Open(lab_.Pg(primary));
    if (!c.ok()) return "<error: " + c.status().message() + ">";
    Result<pg::Rows> r = (*c)->Query(sql);
    if (!r.ok()) return "<error: " + r.status().message() + ">";
    if (r->empty() || r->columns.empty()) return "<no rows>";
    return r->rows[0][0].value_or("<null>");
  }
  json Memory() const { return ReadJson(lab_.dir + "/controller/observer-memory.json"); }
  std::optional<pg::Lsn> NewestKnownPrimaryLsn() const {
    json m = Memory();
    if (!m.is_object() || !m["primary_wal"].is_array() || m["primary_wal"].empty()) return {};
    return pg::ParseLsn(m["primary_wal"].back()["lsn"].get<std::string>());
  }

  struct Written {
    pg::Lsn lsn_before = 0, lsn_after = 0;
    double first_at = 0, last_at = 0;  // epoch seconds, the primary's clock (same host)
  };

  // The controller watches (observe-only: it never acts); a table is replicated;
  // `degrade` runs on the standby; kRows rows are committed one by one; the
  // controller has seen the primary's position after them; the region dies and
  // the controller has seen it unreachable.
  Written WriteAndLosePrimary(const std::string& degrade, const std::string& degraded_when) {
    Written w;
    StartController({"--mode", "observe-only", "--interval", "200ms", "--lease-duration", "2s"});
    EXPECT_TRUE(WaitFor(30s, [&] { return NewestKnownPrimaryLsn().has_value(); }))
        << ControllerLog();
    EXPECT_EQ(Query(true, "CREATE TABLE wal_rows (id int PRIMARY KEY)"), "<no rows>");
    EXPECT_TRUE(WaitFor(
        20s, [&] { return Query(false, "SELECT to_regclass('wal_rows') IS NOT NULL") == "t"; }));
    EXPECT_EQ(Query(false, degrade).rfind("<error", 0), std::string::npos);
    EXPECT_TRUE(WaitFor(20s, [&] { return Query(false, degraded_when) == "t"; }))
        << Query(false, "SELECT status FROM pg_stat_wal_receiver");

    Result<std::unique_ptr<pg::Connection>> c = pg::Connection::Open(lab_.Pg(true));
    EXPECT_TRUE(c.ok());
    if (!c.ok()) return w;
    auto one = [&](const std::string& sql) {
      Result<pg::Rows> r = (*c)->Query(sql);
      return r.ok() && !r->empty() ? r->rows[0][0].value_or("") : std::string();
    };
    w.lsn_before = pg::ParseLsn(one("SELECT pg_current_wal_lsn()::text")).value_or(0);
    w.first_at = std::stod(one("SELECT extract(epoch FROM clock_timestamp())::float8"));
    for (int i = 1; i <= kRows; ++i) {
      EXPECT_TRUE((*c)->Exec("INSERT INTO wal_rows VALUES (" + std::to_string(i) + ")").ok());
    }
    w.last_at = std::stod(one("SELECT extract(epoch FROM clock_timestamp())::float8"));
    w.lsn_after = pg::ParseLsn(one("SELECT pg_current_wal_lsn()::text")).value_or(0);
    EXPECT_GT(w.lsn_after, w.lsn_before);
    EXPECT_TRUE(WaitFor(20s, [&] {
      std::optional<pg::Lsn> seen = NewestKnownPrimaryLsn();
      return seen && *seen >= w.lsn_after;
    })) << Memory().dump(2);

    // The primary's agent holds the write lease this controller grants: a later
    // failover knows the old primary stopped writing once it ran out (without
    // one seen, only --force may promote).
    EXPECT_TRUE(WaitFor(30s, [&] {
      json st = Status();
      return st.is_object() && st["lease"].is_object() && !st["lease"]["expires_at"].is_null() &&
             st["lease"]["revoked"] == false;
    })) << Status().dump(2) << testing::ReadAll(lab_.dir + "/primary/agent.log");
    CommandResult k = RunPilotlight(lab_.Args({"kill-region", "primary"}));
    EXPECT_EQ(k.exit_code, 0) << k.err;
    EXPECT_TRUE(WaitFor(20s, [&] {
      return Memory().is_object() && Memory().contains("primary_unreachable_since_ns");
    })) << Memory().dump(2);
    children_.StopAll(SIGTERM);  // what it knows is in its state directory now
    return w;
  }

  json Plan() {
    CommandResult plan = RunPilotlight(Common({"failover", "--plan", "--json"}));
    EXPECT_EQ(plan.exit_code, 0) << plan.err;
    return json::parse(plan.out, nullptr, /*allow_exceptions=*/false);
  }
  // `failover` (with `flags`), retried while the old primary's write lease runs out.
  CommandResult Failover(const std::vector<std::string>& flags) {
    CommandResult r;
    std::vector<std::string> cmd = {"failover"};
    cmd.insert(cmd.end(), flags.begin(), flags.end());
    WaitFor(30s, [&] {
      r = RunPilotlight(Common(cmd));
      return r.err.find("write lease runs until") == std::string::npos;
    });
    return r;
  }
  int RowsOnDr() { return std::stoi(Query(false, "SELECT count(*) FROM wal_rows")); }
};

TEST_F(WalAtRiskTest, StoppedReceiverReportsTheBytesAndWindowOfTheRowsLost) {
  const Written w = WriteAndLosePrimary(
      "ALTER SYSTEM SET primary_conninfo = ''",
      "SELECT pg_reload_conf() AND NOT EXISTS (SELECT 1 FROM pg_stat_wal_receiver)");
  const json plan = Plan();
  ASSERT_TRUE(plan.is_object());
  const json& risk = plan["data_at_risk"];
  ASSERT_TRUE(risk["wal_bytes"].is_number_integer()) << plan.dump(2);
  const int64_t bytes = risk["wal_bytes"].get<int64_t>();
  std::cerr << "[ measured ] receiver stopped: " << kRows << " rows, "
            << (w.lsn_after - w.lsn_before) << " bytes of WAL written; reported "
            << risk["detail"].get<std::string>() << "\n";
  // Every byte of the rows is reported, and the window holds their commits.
  EXPECT_GE(bytes, static_cast<int64_t>(w.lsn_after - w.lsn_before)) << risk.dump(2);
  ASSERT_TRUE(risk["from_epoch"].is_number()) << risk.dump(2);
  EXPECT_LE(risk["from_epoch"].get<double>(), w.first_at) << risk.dump(2);
  EXPECT_GE(risk["to_epoch"].get<double>(), w.last_at) << risk.dump(2);
  // Not ready: the gate says the standby had no WAL receiver, not something vaguer.
  EXPECT_EQ(plan["readiness"]["ready"], false);
  EXPECT_NE(plan.dump().find("replica was not streaming: no WAL receiver on the standby"),
            std::string::npos)
      << plan["readiness"].dump(2);
  EXPECT_NE(plan["verdict"].get<std::string>().find("bytes of WAL not received"), std::string::npos)
      << plan["verdict"];

  CommandResult refused = RunPilotlight(Common({"failover"}));
  EXPECT_NE(refused.exit_code, 0);
  CommandResult forced = Failover({"--force"});
  ASSERT_EQ(forced.exit_code, 0) << forced.out << forced.err;
  EXPECT_NE(forced.err.find("DATA AT RISK: " + std::to_string(bytes) + " bytes of WAL"),
            std::string::npos)
      << forced.err;
  // What the report covered is what was lost: every row written after the
  // receiver stopped, and nothing else.
  EXPECT_EQ(RowsOnDr(), 0);
}

TEST_F(WalAtRiskTest, PausedReplayIsNoRiskAndLosesNothing) {
  const Written w =
      WriteAndLosePrimary("SELECT pg_wal_replay_pause()::text", "SELECT pg_is_wal_replay_paused()");
  (void)w;
  const json plan = Plan();
  ASSERT_TRUE(plan.is_object());
  const json& risk = plan["data_at_risk"];
  ASSERT_TRUE(risk["wal_bytes"].is_number_integer()) << plan.dump(2);
  std::cerr << "[ measured ] replay paused: reported " << risk["detail"].get<std::string>() << "\n";
  EXPECT_LE(risk["wal_bytes"].get<int64_t>(), 8192) << risk.dump(2);  // ~0: received is kept
  EXPECT_EQ(risk["replay_paused"], true);
  for (const json& g : plan["readiness"]["gates"]) {
    if (g["gate"] == "replica streaming" || g["gate"] == "replica lag") {
      EXPECT_EQ(g["ok"], true) << g.dump();
    }
  }
  CommandResult failover = Failover({});
  ASSERT_EQ(failover.exit_code, 0) << failover.out << failover.err;
  EXPECT_EQ(RowsOnDr(), kRows);  // received WAL was replayed at promotion
}

}  // namespace
}  // namespace pilotlight
