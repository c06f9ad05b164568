#include "data/postgres/wal_at_risk.h"

#include <gtest/gtest.h>

#include "data/postgres/promotion_gate.h"

namespace pilotlight::pg {
namespace {

using namespace std::chrono_literals;

const WallTime kT0 = WallTime(std::chrono::seconds(1'800'000'000));

TEST(LsnTest, ParsesAndFormatsPgLsnText) {
  EXPECT_EQ(ParseLsn("0/0"), Lsn{0});
  EXPECT_EQ(ParseLsn("16/B374D848"), Lsn{0x16B374D848});
  EXPECT_EQ(ParseLsn("ffffffff/FFFFFFFF"), Lsn{0xFFFFFFFFFFFFFFFF});
  EXPECT_EQ(FormatLsn(0x16B374D848), "16/B374D848");
  for (const char* bad : {"", "/", "0/", "/0", "0", "g/0", "0/1/2", "123456789/0", " 0/1"}) {
    EXPECT_FALSE(ParseLsn(bad).has_value()) << bad;
  }
}

TEST(PrimaryWalHistoryTest, KeepsTheNewestTimeOfAPositionAndRestartsOnAnotherPrimary) {
  PrimaryWalHistory h;
  h.Add({100, kT0});
  h.Add({100, kT0 + 1s});  // idle primary: one sample, its newest time
  ASSERT_EQ(h.samples.size(), 1u);
  EXPECT_EQ(h.samples[0].at, kT0 + 1s);
  h.MarkUnreachable(kT0 + 2s);
  h.MarkUnreachable(kT0 + 3s);  // the first one counts
  EXPECT_EQ(h.unreachable_since, kT0 + 2s);
  h.Add({200, kT0 + 4s});  // answers again
  EXPECT_FALSE(h.unreachable_since);
  h.Add({50, kT0 + 5s});  // behind: another server answers as the primary
  ASSERT_EQ(h.samples.size(), 1u);
  EXPECT_EQ(h.samples[0].lsn, 50u);
}

TEST(PrimaryWalHistoryTest, ThinsTheOlderHalfAndKeepsItsReach) {
  PrimaryWalHistory h;
  for (int i = 0; i < 2000; ++i) h.Add({Lsn(1000 + i), kT0 + std::chrono::seconds(i)});
  EXPECT_LE(h.samples.size(), PrimaryWalHistory::kMaxSamples);
  EXPECT_LT(h.samples.front().lsn, 1100u);  // still reaches far back
  EXPECT_EQ(h.samples.back().lsn, 2999u);
  for (size_t i = 1; i < h.samples.size(); ++i) {
    EXPECT_LT(h.samples[i - 1].lsn, h.samples[i].lsn);
    EXPECT_LT(h.samples[i - 1].at, h.samples[i].at);
  }
}

// The primary wrote at 1 MB/s from kT0 (LSN 0) to kT0 + 10 s, sampled every second.
PrimaryWalHistory Written(int seconds) {
  PrimaryWalHistory h;
  for (int i = 0; i <= seconds; ++i) h.Add({Lsn(i) * 1'000'000, kT0 + std::chrono::seconds(i)});
  return h;
}

struct Case {
  const char* name;
  PrimaryWalHistory history;
  bool primary_live;
  StandbyWalPosition standby;
  std::optional<int64_t> want_bytes;
  std::optional<WallTime> want_from;
  std::optional<Duration> want_seconds;
  const char* words;
};

TEST(WalAtRiskTest, Table) {
  PrimaryWalHistory lost = Written(10);
  lost.MarkUnreachable(kT0 + 10s + 300ms);
  const Case cases[] = {
      {"streaming, primary answers: nothing unreceived",
       Written(10),
       true,
       {10'000'000, 9'999'000, {}},
       0,
       {},
       0s,
       "0 bytes of WAL"},
      {"streaming, a little in flight",
       Written(10),
       true,
       {9'500'000, 9'500'000, {}},
       500'000,
       kT0 + 9s,
       1s,
       "500000 bytes of WAL not received"},
      {"receiver stopped at 4 s, primary lost at 10 s",
       lost,
       false,
       {4'000'000, 4'000'000, {}},
       6'000'000,
       kT0 + 4s,
       6s + 300ms,
       "may have written more"},
      {"replay paused since 2 s, everything received, primary lost",
       lost,
       false,
       {10'000'000, 2'000'000, {}},
       0,
       {},
       300ms,
       "0 bytes of WAL"},
      {"replayed further than received (WAL from the archive)",
       lost,
       false,
       {std::nullopt, 10'000'000, {}},
       0,
       {},
       300ms,
       "0 bytes"},
      {"unknown primary LSN",
       PrimaryWalHistory{},
       false,
       {1'000, 1'000, {}},
       std::nullopt,
       {},
       std::nullopt,
       "no primary WAL position is known"},
      {"standby reports no position",
       Written(3),
       true,
       {},
       std::nullopt,
       {},
       std::nullopt,
       "no received or replayed WAL position"},
      {"history does not reach back: the replayed heartbeat starts the window",
       Written(10),
       true,
       {500'000, 500'000, kT0 + 200ms},
       9'500'000,
       kT0 + 200ms,
       9s + 800ms,
       "from"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    PrimaryWalHistory h = c.history;
    if (std::string(c.name).find("does not reach back") != std::string::npos) {
      h.samples.erase(h.samples.begin());  // the sample at LSN 0 is gone
    }
    WalAtRisk w = EstimateWalAtRisk(h, c.primary_live, c.standby);
    EXPECT_EQ(w.bytes, c.want_bytes);
    EXPECT_EQ(w.from, c.want_from);
    EXPECT_EQ(w.Seconds(), c.want_seconds);
    EXPECT_NE(w.ToString().find(c.words), std::string::npos) << w.ToString();
  }
}

// The promotion gate on the same facts: a paused replay never blocks on its
// own; a stopped receiver is measured in bytes and refused past the limit.
ReplicationStatus PrimaryGone(std::optional<Lsn> received, std::optional<Lsn> replayed,
                              bool paused) {
  ReplicationStatus st;
  st.standby_reachable = true;
  st.standby_in_recovery = true;
  st.standby_receive_lsn = received;
  st.standby_replay_lsn = replayed;
  st.replay_paused = paused;
  st.receiver_status = "";          // the primary is gone
  st.heartbeat_age_seconds = 99.4;  // old: what seconds-only reports got wrong
  return st;
}

TEST(PromotionGateWalTest, Table) {
  struct GateCase {
    const char* name;
    ReplicationStatus status;
    PrimaryWalHistory history;
    bool force;
    PromotionDecision want;
    std::optional<int64_t> want_bytes;
    const char* words;
  };
  PrimaryWalHistory lost = Written(10);
  lost.MarkUnreachable(kT0 + 10s + 300ms);
  PrimaryWalHistory long_lost = Written(100);
  const GateCase cases[] = {
      {"replay paused, all received: allowed, 0 bytes", PrimaryGone(10'000'000, 1'000, true), lost,
       false, PromotionDecision::kAllowed, 0, "0 bytes of WAL"},
      {"receiver stopped, 6 s unreceived: within 10 s", PrimaryGone(4'000'000, 4'000'000, false),
       lost, false, PromotionDecision::kAllowed, 6'000'000, "6000000 bytes"},
      {"receiver stopped long ago: refused with the bytes",
       PrimaryGone(1'000'000, 1'000'000, false), long_lost, false, PromotionDecision::kRefused,
       99'000'000, "exceeds max_lag_on_failover"},
      {"receiver stopped long ago, forced: the bytes are reported",
       PrimaryGone(1'000'000, 1'000'000, false), long_lost, true, PromotionDecision::kForced,
       99'000'000, "99000000 bytes of WAL not received"},
      {"unknown primary LSN: the heartbeat bound as before", PrimaryGone(5, 5, false),
       PrimaryWalHistory{}, false, PromotionDecision::kRefused, std::nullopt, "at most"},
  };
  for (const GateCase& c : cases) {
    SCOPED_TRACE(c.name);
    PromotionGateInput in{c.status, 10s, c.force, {}};
    in.primary_wal = c.history;
    in.now = kT0 + 200s;
    PromotionVerdict v = CheckPromotionLag(in);
    EXPECT_EQ(PromotionDecisionName(v.decision), std::string(PromotionDecisionName(c.want)))
        << v.reason;
    EXPECT_EQ(v.at_risk_bytes, c.want_bytes) << v.reason;
    EXPECT_NE(v.reason.find(c.words), std::string::npos) << v.reason;
  }
}

TEST(PromotionGateWalTest, PrimaryAnsweringReadsItsPositionNow) {
  ReplicationStatus st;
  st.primary_reachable = true;
  st.standby_reachable = true;
  st.standby_in_recovery = true;
  st.streaming = true;
  st.replay_paused = true;
  st.primary_lsn = 10'000'000;
  st.standby_receive_lsn = 10'000'000;
  st.standby_replay_lsn = 1'000;
  st.replay_lag_seconds = 95.7;  // replay paused for long: not a loss
  PromotionGateInput in{st, 10s, false, {}};
  in.primary_wal = Written(9);
  in.now = kT0 + 10s;
  PromotionVerdict v = CheckPromotionLag(in);
  EXPECT_EQ(v.decision, PromotionDecision::kAllowed) << v.reason;
  EXPECT_EQ(v.at_risk_bytes, 0);
  EXPECT_EQ(v.at_risk_seconds, 0.0);
}

}  // namespace
}  // namespace pilotlight::pg
