#include "data/postgres/promotion_gate.h"

#include <gtest/gtest.h>

namespace pilotlight::pg {
namespace {

using std::chrono::seconds;

ReplicationStatus Streaming(double lag_s, int64_t lag_bytes) {
  ReplicationStatus st;
  st.primary_reachable = true;
  st.standby_reachable = true;
  st.standby_in_recovery = true;
  st.streaming = true;
  st.replay_lag_seconds = lag_s;
  st.replay_lag_bytes = lag_bytes;
  st.heartbeat_age_seconds = lag_s;
  return st;
}

ReplicationStatus PrimaryLost(std::optional<double> heartbeat_age) {
  ReplicationStatus st;
  st.standby_reachable = true;
  st.standby_in_recovery = true;
  st.heartbeat_age_seconds = heartbeat_age;
  st.problem = "cannot connect to PostgreSQL primary";
  return st;
}

struct Case {
  const char* name;
  ReplicationStatus status;
  Duration max_lag;
  bool force;
  std::optional<Duration> lost_for;
  PromotionDecision want;
  std::optional<double> want_at_risk;
  bool want_upper_bound;
  const char* reason_has;
};

TEST(PromotionGateTest, Table) {
  ReplicationStatus unreachable;
  unreachable.primary_reachable = true;
  ReplicationStatus promoted = Streaming(0, 0);
  promoted.standby_in_recovery = false;
  ReplicationStatus no_heartbeat = Streaming(0, 0);
  no_heartbeat.replay_lag_seconds.reset();
  no_heartbeat.heartbeat_age_seconds.reset();

  const Case cases[] = {
      {"within limit", Streaming(0.2, 4096), seconds(10), false, {}, PromotionDecision::kAllowed,
       0.2, false, "within max_lag_on_failover"},
      {"exactly at limit", Streaming(10, 1), seconds(10), false, {}, PromotionDecision::kAllowed,
       10.0, false, "within"},
      {"over limit", Streaming(12.5, 1 << 20), seconds(10), false, {},
       PromotionDecision::kRefused, 12.5, false, "exceeds max_lag_on_failover"},
      {"over limit forced", Streaming(12.5, 1 << 20), seconds(10), true, {},
       PromotionDecision::kForced, 12.5, false, "those writes are at risk"},
      {"standby unreachable", unreachable, seconds(10), true, {}, PromotionDecision::kRefused, {},
       false, "cannot be reached"},
      {"already primary", promoted, seconds(10), false, {}, PromotionDecision::kAlreadyPrimary,
       0.0, false, "nothing to promote"},
      {"lag unknown", no_heartbeat, seconds(10), false, {}, PromotionDecision::kRefused, {}, false,
       "unknown"},
      {"lag unknown forced", no_heartbeat, seconds(10), true, {}, PromotionDecision::kForced, {},
       false, "unknown"},
      {"primary lost, bound by heartbeat age", PrimaryLost(8.0), seconds(10), false, {},
       PromotionDecision::kAllowed, 8.0, true, "at most"},
      {"primary lost long ago, heartbeat age alone refuses", PrimaryLost(40.0), seconds(10), false,
       {}, PromotionDecision::kRefused, 40.0, true, "exceeds"},
      {"primary lost long ago, loss time subtracted", PrimaryLost(40.0), seconds(10), false,
       seconds(35), PromotionDecision::kAllowed, 5.0, true, "primary loss"},
      {"primary lost just now, replica far behind", PrimaryLost(40.0), seconds(10), false,
       seconds(2), PromotionDecision::kRefused, 38.0, true, "exceeds"},
      {"bound never negative", PrimaryLost(3.0), seconds(10), false, seconds(30),
       PromotionDecision::kAllowed, 0.0, true, "within"},
      {"primary lost, no heartbeat", PrimaryLost(std::nullopt), seconds(10), false, {},
       PromotionDecision::kRefused, {}, false, "either side"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    PromotionVerdict v = CheckPromotionLag({c.status, c.max_lag, c.force, c.lost_for});
    EXPECT_EQ(PromotionDecisionName(v.decision), std::string(PromotionDecisionName(c.want)));
    EXPECT_EQ(v.allowed(), c.want != PromotionDecision::kRefused);
    ASSERT_EQ(v.at_risk_seconds.has_value(), c.want_at_risk.has_value());
    if (c.want_at_risk) {
      EXPECT_NEAR(*v.at_risk_seconds, *c.want_at_risk, 1e-9);
    }
    EXPECT_EQ(v.at_risk_is_upper_bound, c.want_upper_bound);
    EXPECT_NE(v.reason.find(c.reason_has), std::string::npos) << v.reason;
  }
}

TEST(PromotionGateTest, ReportsBytesAtRiskWhenThePrimaryAnswers) {
  PromotionVerdict v = CheckPromotionLag({Streaming(30, 123456), seconds(10), true, {}});
  ASSERT_TRUE(v.at_risk_bytes.has_value());
  EXPECT_EQ(*v.at_risk_bytes, 123456);
  EXPECT_NE(v.reason.find("123456 bytes"), std::string::npos) << v.reason;
}

}  // namespace
}  // namespace pilotlight::pg
