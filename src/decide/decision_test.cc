#include "decide/decision.h"

#include <gtest/gtest.h>

#include <functional>

namespace pilotlight::decide {
namespace {

using namespace std::chrono_literals;
using Code = Reason::Code;
using Phase = ControllerState::Phase;

const WallTime kNow = WallTime(std::chrono::seconds(1'800'000'000));

// The world of a real region outage with DR ready: the two sites outside the
// primary region (DR and the witness) see the primary down for 5 s (so does the
// primary region's own view, which never counts), the replica was streaming with 0.2 s lag, the old
// primary is unreachable and its lease expired 2 s ago.
Snapshot OutageSnapshot() {
  Snapshot s;
  s.taken_at = kNow;
  s.sites = {{"primary", Vote::kDown, "connect refused", true},
             {"dr", Vote::kDown, "connect refused", false},
             {"witness", Vote::kDown, "connect refused", false}};
  s.primary_unhealthy_since = kNow - 5s;
  s.replica_streaming = true;
  s.replica_lag = 200ms;
  s.dr_holds_primary_release = true;
  s.dr_compute_can_scale = true;
  s.dns_secondary_exists = true;
  s.old_primary_reachable = false;
  s.primary_lease_expires_at = kNow - 2s;
  return s;
}

Policy DefaultPolicy() {
  Policy p;
  p.max_lag_on_failover = 10s;
  p.hold_down = 10min;
  p.confirm_for = 1s;
  return p;
}

struct Row {
  const char* name;
  std::function<void(Snapshot&, ControllerState&, Policy&)> change;
  PlanKind plan;
  Code code;
  const char* words;  // must appear in Reason::ToString()
  bool fence_first = false;
  bool forced = false;
};

void PrintTo(const Row& row, std::ostream* os) { *os << row.name; }

void Healthy(Snapshot& s) {
  for (SiteVote& v : s.sites) v.vote = Vote::kUp;
  s.primary_unhealthy_since.reset();
}

const Row kRows[] = {
    {"outage, DR ready, lease expired: failover", [](auto&, auto&, auto&) {},
     PlanKind::kFailover, Code::kFailover,
     "failover: primary unhealthy from 2 of 2 sites for 5.0 s; DR ready; replica lag "
     "0.2 s; old primary unreachable and its write lease expired"},
    {"all healthy: no action", [](Snapshot& s, auto&, auto&) { Healthy(s); }, PlanKind::kNone,
     Code::kPrimaryHealthy, "no action: primary healthy (0 of 2 sites see it down)"},
    {"every site counted but none has voted yet: not called healthy",
     [](Snapshot& s, auto&, auto&) {
       for (SiteVote& v : s.sites) v.vote = Vote::kUnknown;
       s.primary_unhealthy_since.reset();
     },
     PlanKind::kNone, Code::kPrimaryHealthy,
     "no action: primary health not known yet (0 of 2 sites see it down; no vote from 2"},
    {"no site reports yet", [](Snapshot& s, auto&, auto&) { s.sites.clear(); },
     PlanKind::kNone, Code::kNoVantageReports, "no site outside the primary region votes"},
    {"only the primary region's own view: no vote at all",
     [](Snapshot& s, auto&, auto&) { s.sites.resize(1); }, PlanKind::kNone,
     Code::kNoVantageReports, "no site outside the primary region votes"},
    {"the primary region's own view never counts",
     [](Snapshot& s, auto&, auto&) {
       Healthy(s);
       s.sites[0].vote = Vote::kDown;
       s.primary_unhealthy_since = kNow - 30s;
     },
     PlanKind::kNone, Code::kPrimaryHealthy, "0 of 2 sites see it down"},
    {"one site partitioned from the primary: no failover",
     [](Snapshot& s, auto&, auto&) {
       Healthy(s);
       s.sites[1].vote = Vote::kDown;
       s.primary_unhealthy_since = kNow - 30s;
     },
     PlanKind::kNone, Code::kNoQuorum, "unhealthy from 1 of 2 sites only; quorum is 2"},
    {"one site down, the other late: no failover, and the late one is named",
     [](Snapshot& s, auto&, auto&) { s.sites[2].vote = Vote::kLate; }, PlanKind::kNone,
     Code::kNoQuorum, "1 of 2 sites only; quorum is 2; no vote from 1 (witness late)"},
    {"one site down, the other stale: no failover",
     [](Snapshot& s, auto&, auto&) { s.sites[1].vote = Vote::kStale; }, PlanKind::kNone,
     Code::kNoQuorum, "no vote from 1 (dr stale)"},
    {"both late: the primary is not declared dead",
     [](Snapshot& s, auto&, auto&) {
       s.sites[1].vote = Vote::kLate;
       s.sites[2].vote = Vote::kLate;
     },
     PlanKind::kNone, Code::kPrimaryHealthy, "0 of 2 sites see it down; no vote from 2"},
    {"explicit quorum of 3 not met by 2",
     [](Snapshot& s, auto&, Policy& p) { p.quorum = 3; }, PlanKind::kNone, Code::kNoQuorum,
     "quorum is 3"},
    {"a quorum of 1 is still 2 unless the operator allowed one site",
     [](Snapshot& s, auto&, Policy& p) {
       s.sites[1].vote = Vote::kUp;
       p.quorum = 1;
     },
     PlanKind::kNone, Code::kNoQuorum, "1 of 2 sites only; quorum is 2"},
    {"one site alone never triggers a failover",
     [](Snapshot& s, auto&, auto&) { s.sites.pop_back(); }, PlanKind::kNone, Code::kNoQuorum,
     "1 of 1 site only; quorum is 2; only 1 site votes outside the primary region, so no "
     "failover can be automatic"},
    {"... unless the operator set controller.unsafe_single_vantage",
     [](Snapshot& s, auto&, Policy& p) {
       s.sites.pop_back();
       p.allow_single_site = true;
     },
     PlanKind::kFailover, Code::kFailover, "from 1 of 1 site for"},
    {"flapping: quorum just formed, still confirming",
     [](Snapshot& s, auto&, auto&) { s.primary_unhealthy_since = kNow - 300ms; },
     PlanKind::kNone, Code::kConfirming, "for 0.3 s; confirming for 0.7 s more"},
    {"quorum formed this very cycle",
     [](Snapshot& s, auto&, auto&) { s.primary_unhealthy_since.reset(); }, PlanKind::kNone,
     Code::kConfirming, "confirming for 1.0 s more"},
    {"confirmation exactly reached", [](Snapshot& s, auto&, auto&) {
       s.primary_unhealthy_since = kNow - 1s;
     },
     PlanKind::kFailover, Code::kFailover, "for 1.0 s"},
    {"no confirmation window configured",
     [](Snapshot& s, auto&, Policy& p) {
       p.confirm_for = 0s;
       s.primary_unhealthy_since.reset();
     },
     PlanKind::kFailover, Code::kFailover, "for 0.0 s"},
    {"lag over the limit blocks",
     [](Snapshot& s, auto&, auto&) { s.replica_lag = 12s; }, PlanKind::kNone, Code::kNotReady,
     "DR is not ready: replica lag 12.0 s over the 10.0 s limit; `pilotlight failover --force` "
     "would put up to 12.0 s of writes at risk"},
    {"lag exactly at the limit passes", [](Snapshot& s, auto&, auto&) { s.replica_lag = 10s; },
     PlanKind::kFailover, Code::kFailover, "replica lag 10.0 s"},
    {"lag over the limit, forced: failover reporting data at risk",
     [](Snapshot& s, ControllerState& st, auto&) {
       s.replica_lag = 12s;
       st.force_requested = true;
     },
     PlanKind::kFailover, Code::kFailover,
     "FORCED past: replica lag 12.0 s over the 10.0 s limit; replica lag 12.0 s; data at risk: up "
     "to 12.0 s of writes",
     false, true},
    {"lag unknown blocks", [](Snapshot& s, auto&, auto&) { s.replica_lag.reset(); },
     PlanKind::kNone, Code::kNotReady, "replica lag unknown; `pilotlight failover --force` overrides (data at risk unknown)"},
    {"lag unknown, forced: data at risk unknown",
     [](Snapshot& s, ControllerState& st, auto&) {
       s.replica_lag.reset();
       st.force_requested = true;
     },
     PlanKind::kFailover, Code::kFailover, "data at risk: unknown", false, true},
    {"lag gate turned off",
     [](Snapshot& s, auto&, Policy& p) {
       s.replica_lag = 1h;
       p.gate_replica_lag = false;
     },
     PlanKind::kFailover, Code::kFailover, "DR ready; replica lag 3600.0 s"},
    {"receiver stopped, forced: the WAL at risk is printed in bytes with its window",
     [](Snapshot& s, ControllerState& st, auto&) {
       s.replica_streaming = false;
       s.replica_streaming_detail = "no WAL receiver on the standby";
       s.replica_lag = 6s;
       s.wal_at_risk.bytes = 6'000'000;
       s.wal_at_risk.detail = "6000000 bytes of WAL not received by the standby";
       st.force_requested = true;
     },
     PlanKind::kFailover, Code::kFailover,
     "FORCED past: replica was not streaming: no WAL receiver on the standby; replica lag 6.0 s; "
     "data at risk: up to 6.0 s of writes; WAL at risk: 6000000 bytes of WAL not received",
     false, true},
    {"receiver stopped, not forced: the block says what --force would lose",
     [](Snapshot& s, auto&, auto&) {
       s.replica_streaming = false;
       s.replica_lag = 6s;
       s.wal_at_risk.bytes = 6'000'000;
       s.wal_at_risk.detail = "6000000 bytes of WAL not received by the standby";
     },
     PlanKind::kNone, Code::kNotReady,
     "would put up to 6.0 s of writes at risk; WAL at risk: 6000000 bytes"},
    {"replay paused alone is ready: nothing is at risk",
     [](Snapshot& s, auto&, auto&) {
       s.replica_replay_paused = true;
       s.replica_lag = 0s;
       s.wal_at_risk.bytes = 0;
       s.wal_at_risk.detail = "0 bytes of WAL";
     },
     PlanKind::kFailover, Code::kFailover, "DR ready; replica lag 0.0 s"},
    {"replica was not streaming",
     [](Snapshot& s, auto&, auto&) { s.replica_streaming = false; }, PlanKind::kNone,
     Code::kNotReady, "replica was not streaming"},
    {"DR lacks the primary's release",
     [](Snapshot& s, auto&, auto&) { s.dr_holds_primary_release = false; }, PlanKind::kNone,
     Code::kNotReady, "DR does not hold the primary's release"},
    {"DR compute cannot scale", [](Snapshot& s, auto&, auto&) { s.dr_compute_can_scale = false; },
     PlanKind::kNone, Code::kNotReady, "DR compute cannot scale"},
    {"no DNS secondary", [](Snapshot& s, auto&, auto&) { s.dns_secondary_exists = false; },
     PlanKind::kNone, Code::kNotReady, "no DNS secondary record"},
    {"several gates fail: all are named",
     [](Snapshot& s, auto&, auto&) {
       s.dns_secondary_exists = false;
       s.dr_compute_can_scale = false;
     },
     PlanKind::kNone, Code::kNotReady, "DR compute cannot scale; no DNS secondary record"},
    {"old primary reachable: fence before promote",
     [](Snapshot& s, auto&, auto&) {
       s.old_primary_reachable = true;
       s.primary_lease_expires_at = kNow + 20s;
     },
     PlanKind::kFailover, Code::kFailover, "fencing the old primary first", true},
    {"old primary unreachable, lease still valid: wait",
     [](Snapshot& s, auto&, auto&) { s.primary_lease_expires_at = kNow + 3s; },
     PlanKind::kWaitForLease, Code::kLeaseNotExpired, "its write lease expires in 3.5 s"},
    {"lease expired but within the safety margin: wait",
     [](Snapshot& s, auto&, auto&) { s.primary_lease_expires_at = kNow - 200ms; },
     PlanKind::kWaitForLease, Code::kLeaseNotExpired, "expires in 0.3 s"},
    {"forcing never skips a known unexpired lease",
     [](Snapshot& s, ControllerState& st, auto&) {
       s.primary_lease_expires_at = kNow + 3s;
       st.force_requested = true;
     },
     PlanKind::kWaitForLease, Code::kLeaseNotExpired, "expires in 3.5 s"},
    {"no lease ever seen and unreachable: blocked",
     [](Snapshot& s, auto&, auto&) { s.primary_lease_expires_at.reset(); },
     PlanKind::kWaitForLease, Code::kLeaseNotExpired, "no write lease of it was ever seen"},
    {"no lease ever seen, operator forced after fencing by hand",
     [](Snapshot& s, ControllerState& st, auto&) {
       s.primary_lease_expires_at.reset();
       st.force_requested = true;
     },
     PlanKind::kFailover, Code::kFailover, "no lease seen (operator vouches it is fenced)"},
    {"hold-down after a recent failover",
     [](auto&, ControllerState& st, auto&) { st.last_failover_at = kNow - 4min; },
     PlanKind::kNone, Code::kHoldDown, "hold-down after the last failover for 360.0 s more"},
    {"hold-down over", [](auto&, ControllerState& st, auto&) {
       st.last_failover_at = kNow - 11min;
     },
     PlanKind::kFailover, Code::kFailover, "failover:"},
    {"hold-down after a recent failback, the failover long ago",
     [](auto&, ControllerState& st, auto&) {
       st.last_failover_at = kNow - 3h;
       st.last_failback_at = kNow - 2min;
     },
     PlanKind::kNone, Code::kHoldDown, "hold-down after the last failback for 480.0 s more"},
    {"hold-down counts from the later of the two: failback older than the failover",
     [](auto&, ControllerState& st, auto&) {
       st.last_failback_at = kNow - 9min;
       st.last_failover_at = kNow - 1min;
     },
     PlanKind::kNone, Code::kHoldDown, "hold-down after the last failover for 540.0 s more"},
    {"hold-down after a failback with no failover in the journal",
     [](auto&, ControllerState& st, auto&) { st.last_failback_at = kNow - 30s; },
     PlanKind::kNone, Code::kHoldDown, "hold-down after the last failback for 570.0 s more"},
    {"hold-down after failback over: failover armed again",
     [](auto&, ControllerState& st, auto&) {
       st.last_failover_at = kNow - 2h;
       st.last_failback_at = kNow - 10min - 1s;
     },
     PlanKind::kFailover, Code::kFailover, "failover:"},
    {"hold-down after failback holds with the primary flapping at the edge",
     [](auto&, ControllerState& st, auto&) {
       st.last_failover_at = kNow - 2h;
       st.last_failback_at = kNow - 10min + 1s;
     },
     PlanKind::kNone, Code::kHoldDown, "after the last failback for 1.0 s more"},
    {"already failed over: failback is deliberate",
     [](auto&, ControllerState& st, auto&) { st.phase = Phase::kFailedOver; }, PlanKind::kNone,
     Code::kFailedOverAlready, "failback is deliberate"},
    {"interrupted runbook resumes even if the primary looks healthy now",
     [](Snapshot& s, ControllerState& st, auto&) {
       Healthy(s);
       st.phase = Phase::kFailingOver;
     },
     PlanKind::kResumeFailover, Code::kFailoverInProgress, "resuming it from the journal"},
    {"approval mode without approval: publish and wait",
     [](auto&, auto&, Policy& p) { p.mode = Mode::kApproval; }, PlanKind::kAwaitApproval,
     Code::kAwaitingApproval, "awaiting approval (run `pilotlight approve`): would fail over"},
    {"approval mode, approved: failover",
     [](auto&, ControllerState& st, Policy& p) {
       p.mode = Mode::kApproval;
       st.approval_granted = true;
     },
     PlanKind::kFailover, Code::kFailover, "failover:"},
    {"approval mode still blocked by gates",
     [](Snapshot& s, ControllerState& st, Policy& p) {
       p.mode = Mode::kApproval;
       st.approval_granted = true;
       s.replica_lag = 30s;
     },
     PlanKind::kNone, Code::kNotReady, "replica lag 30.0 s over"},
    {"observe-only says what it would do and does nothing",
     [](auto&, auto&, Policy& p) { p.mode = Mode::kObserveOnly; }, PlanKind::kNone,
     Code::kObserveOnly, "observe-only: would fail over: primary unhealthy from 2 of 2 sites"},
    {"split brain: both writable, fence the old primary",
     [](Snapshot& s, ControllerState& st, auto&) {
       Healthy(s);
       st.phase = Phase::kFailedOver;
       s.dr_writable = true;
       s.old_primary_reachable = true;
       s.old_primary_writable = true;
     },
     PlanKind::kFenceOldPrimary, Code::kSplitBrain, "both the old primary and DR accept writes"},
    {"split brain in observe-only: reported, not acted on",
     [](Snapshot& s, auto&, Policy& p) {
       p.mode = Mode::kObserveOnly;
       s.dr_writable = true;
       s.old_primary_reachable = true;
       s.old_primary_writable = true;
     },
     PlanKind::kNone, Code::kSplitBrain, "fence now"},
    {"old primary back but fenced (read-only) after failover: nothing to do",
     [](Snapshot& s, ControllerState& st, auto&) {
       Healthy(s);
       st.phase = Phase::kFailedOver;
       s.dr_writable = true;
       s.old_primary_reachable = true;
       s.old_primary_writable = false;
     },
     PlanKind::kNone, Code::kFailedOverAlready, "failed over to DR"},
};

class DecideTable : public ::testing::TestWithParam<Row> {};

TEST_P(DecideTable, Row) {
  const Row& row = GetParam();
  Snapshot s = OutageSnapshot();
  ControllerState st;
  Policy p = DefaultPolicy();
  row.change(s, st, p);
  Decision d = Decide(s, st, p, kNow);
  const std::string words = d.reason.ToString();
  EXPECT_EQ(PlanKindName(d.plan.kind), std::string(PlanKindName(row.plan))) << words;
  EXPECT_EQ(static_cast<int>(d.reason.code), static_cast<int>(row.code)) << words;
  EXPECT_NE(words.find(row.words), std::string::npos) << "reason: " << words;
  if (row.plan == PlanKind::kFailover) {
    EXPECT_EQ(d.plan.fence_first, row.fence_first) << words;
    EXPECT_EQ(d.plan.forced, row.forced) << words;
  }
}

INSTANTIATE_TEST_SUITE_P(Rules, DecideTable, ::testing::ValuesIn(kRows),
                         [](const ::testing::TestParamInfo<Row>& info) {
                           return "row" + std::to_string(info.index);
                         });

TEST(DecideTest, TableHasAtLeastThirtyRows) { EXPECT_GE(std::size(kRows), 30u); }

TEST(DecideTest, DecisionDependsOnlyOnItsInputs) {
  // Same inputs, same answer: nothing reads a clock or keeps state.
  Snapshot s = OutageSnapshot();
  Decision a = Decide(s, {}, DefaultPolicy(), kNow);
  Decision b = Decide(s, {}, DefaultPolicy(), kNow);
  EXPECT_EQ(a.reason.ToString(), b.reason.ToString());
  // Advancing `now` alone moves a lease wait to a failover.
  s.primary_lease_expires_at = kNow + 1s;
  EXPECT_EQ(Decide(s, {}, DefaultPolicy(), kNow).plan.kind, PlanKind::kWaitForLease);
  EXPECT_EQ(Decide(s, {}, DefaultPolicy(), kNow + 2s).plan.kind, PlanKind::kFailover);
}

TEST(DecideTest, FailedGatesListsEveryGate) {
  Snapshot s;  // nothing ready
  std::vector<std::string> gates = FailedGates(s, DefaultPolicy());
  EXPECT_EQ(gates.size(), 5u);
  Policy none = DefaultPolicy();
  none.gate_replica_streaming = none.gate_replica_lag = none.gate_release = none.gate_compute =
      none.gate_dns = false;
  EXPECT_TRUE(FailedGates(s, none).empty());
}

// Every combination of votes from three sites outside the primary region (and
// every vote of the primary region's own view): a failover exactly when at least
// two of the three see the primary down. Late, stale and unknown are no vote, so
// they never add up to a quorum, and one site alone never does either.
TEST(DecideTest, VotesFromThreeSitesInEveryCombination) {
  const Vote kAll[] = {Vote::kUp, Vote::kDown, Vote::kLate, Vote::kStale, Vote::kUnknown};
  int failovers = 0;
  int cases = 0;
  for (Vote own : kAll) {
    for (Vote a : kAll) {
      for (Vote b : kAll) {
        for (Vote c : kAll) {
          Snapshot s = OutageSnapshot();
          s.sites = {{"primary", own, "", true},
                     {"dr", a, "", false},
                     {"witness", b, "", false},
                     {"third", c, "", false}};
          const int down = (a == Vote::kDown) + (b == Vote::kDown) + (c == Vote::kDown);
          const Decision d = Decide(s, {}, DefaultPolicy(), kNow);
          const std::string label = std::string("own ") + VoteName(own) + ", dr " + VoteName(a) +
                                    ", witness " + VoteName(b) + ", third " + VoteName(c);
          ++cases;
          EXPECT_EQ(d.reason.total_votes, 3) << label;
          EXPECT_EQ(d.reason.quorum, 2) << label;
          EXPECT_EQ(d.reason.unhealthy_votes, down) << label;
          if (down >= 2) {
            ++failovers;
            EXPECT_EQ(d.plan.kind, PlanKind::kFailover) << label << ": " << d.reason.ToString();
          } else {
            EXPECT_EQ(d.plan.kind, PlanKind::kNone) << label << ": " << d.reason.ToString();
            EXPECT_EQ(d.reason.code, down == 0 ? Code::kPrimaryHealthy : Code::kNoQuorum)
                << label;
          }
        }
      }
    }
  }
  EXPECT_EQ(cases, 5 * 125);
  // 2 of 3 down: 3 pairs x 4 other votes; all 3 down: 1; times 5 own views.
  EXPECT_EQ(failovers, 5 * (3 * 4 + 1));
}

// With three sites a single one alone never fails over, whatever the others
// (anything but down) say, under any explicit quorum the operator may write.
TEST(DecideTest, OneSiteAloneNeverTriggersAFailover) {
  const Vote kNotDown[] = {Vote::kUp, Vote::kLate, Vote::kStale, Vote::kUnknown};
  for (int quorum = 0; quorum <= 3; ++quorum) {
    for (Vote other : kNotDown) {
      for (int sites = 1; sites <= 3; ++sites) {
        Snapshot s = OutageSnapshot();
        s.sites = {{"dr", Vote::kDown, "refused", false}};
        if (sites >= 2) s.sites.push_back({"witness", other, "", false});
        if (sites >= 3) s.sites.push_back({"third", other, "", false});
        Policy p = DefaultPolicy();
        p.quorum = quorum;
        const Decision d = Decide(s, {}, p, kNow);
        EXPECT_EQ(d.plan.kind, PlanKind::kNone)
            << "quorum " << quorum << ", " << sites << " sites, others " << VoteName(other)
            << ": " << d.reason.ToString();
      }
    }
  }
}

}  // namespace
}  // namespace pilotlight::decide
