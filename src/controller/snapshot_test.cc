#include "controller/snapshot.h"

#include <gtest/gtest.h>

#include <functional>

namespace pilotlight::controller {
namespace {

using namespace std::chrono_literals;
using health::HealthStatus;

const WallTime kNow = WallTime(std::chrono::seconds(1'800'000'000));

VantageObservation Seen(const std::string& site, HealthStatus status, bool in_primary = false) {
  VantageObservation v;
  v.vantage = site;
  v.site = site;
  v.in_primary_region = in_primary;
  v.status = status;
  v.detail = status == HealthStatus::kUnhealthy ? "connection refused" : "SELECT 1 ok";
  v.age = 100ms;
  return v;
}

// A healthy platform: the witness, DR and the primary's own agent see the primary
// healthy (fresh, on time), the replica streams 0.2 s behind, DR is ready, the
// lease runs 4 s more.
Observation Healthy() {
  Observation o;
  o.at = kNow;
  o.vantage = {Seen("witness", HealthStatus::kHealthy), Seen("dr", HealthStatus::kHealthy),
               Seen("primary", HealthStatus::kHealthy, true)};
  o.replication.primary_reachable = true;
  o.replication.standby_reachable = true;
  o.replication.standby_in_recovery = true;
  o.replication.streaming = true;
  o.replication.replay_lag_seconds = 0.2;
  o.replication.heartbeat_age_seconds = 0.4;
  o.old_primary = {true, false, false, "primary, writable"};
  o.dr = {true, true, false, "standby (read-only)"};
  o.dr_holds_primary_release = {true, "DR holds trader@sha256:ab"};
  o.dr_compute_can_scale = {true, "ok"};
  o.dns_secondary_exists = {true, "api fails over"};
  o.primary_lease_expires_at = kNow + 4s;
  return o;
}

// The primary region is gone: every vantage point sees it down, the controller
// cannot reach it, the standby's WAL receiver stopped; its last replayed
// heartbeat is 3.5 s old.
void Outage(Observation& o) {
  for (VantageObservation& v : o.vantage) {
    v.status = HealthStatus::kUnhealthy;
    v.detail = "connection refused";
  }
  o.replication.primary_reachable = false;
  o.replication.streaming = false;
  o.replication.replay_lag_seconds.reset();
  o.replication.heartbeat_age_seconds = 3.5;
  o.old_primary = {false, false, false, "connection refused"};
}

struct Row {
  const char* name;
  std::function<void(Observation&, ObserverMemory&, decide::Policy&)> given;
  std::function<void(const SnapshotStep&)> expect;
};

void PrintTo(const Row& row, std::ostream* os) { *os << row.name; }

class SnapshotTable : public ::testing::TestWithParam<Row> {};

TEST_P(SnapshotTable, Row) {
  Observation o = Healthy();
  ObserverMemory memory;
  decide::Policy policy;
  GetParam().given(o, memory, policy);
  GetParam().expect(BuildSnapshot(o, memory, policy));
}

const Row kRows[] = {
    {"healthy: votes, live streaming and lag, memory refreshed",
     [](auto&, auto&, auto&) {},
     [](const SnapshotStep& s) {
       ASSERT_EQ(s.snapshot.sites.size(), 3u);
       EXPECT_EQ(s.snapshot.sites[0].vote, decide::Vote::kUp);
       EXPECT_EQ(s.snapshot.sites[0].detail, "witness: up (SELECT 1 ok; 100 ms old)");
       EXPECT_TRUE(s.snapshot.sites[2].in_primary_region);
       EXPECT_FALSE(s.snapshot.primary_unhealthy_since);
       EXPECT_TRUE(s.snapshot.replica_streaming);
       EXPECT_EQ(s.snapshot.replica_lag, 200ms);
       EXPECT_EQ(s.memory.primary_last_healthy_at, kNow);
       EXPECT_TRUE(s.memory.was_streaming);
       EXPECT_EQ(s.memory.lag_while_healthy, 200ms);
       EXPECT_TRUE(s.snapshot.old_primary_reachable);
       EXPECT_TRUE(s.snapshot.old_primary_writable);
       EXPECT_FALSE(s.snapshot.dr_writable);
       EXPECT_EQ(s.snapshot.primary_lease_expires_at, kNow + 4s);
       EXPECT_TRUE(s.snapshot.dr_holds_primary_release);
       EXPECT_TRUE(s.snapshot.dr_compute_can_scale);
       EXPECT_TRUE(s.snapshot.dns_secondary_exists);
     }},
    {"undecided vantage points are not votes against the primary",
     [](Observation& o, auto&, auto&) {
       for (auto& v : o.vantage) v.status = HealthStatus::kUnknown;
     },
     [](const SnapshotStep& s) {
       for (const auto& v : s.snapshot.sites) EXPECT_EQ(v.vote, decide::Vote::kUnknown);
       EXPECT_FALSE(s.memory.unhealthy_since);
       EXPECT_FALSE(s.memory.primary_last_healthy_at) << "nobody saw it up";
     }},
    {"quorum of unhealthy forms: the clock starts now",
     [](Observation& o, auto&, auto&) {
       o.vantage[0].status = HealthStatus::kUnhealthy;
       o.vantage[1].status = HealthStatus::kUnhealthy;
     },
     [](const SnapshotStep& s) {
       EXPECT_EQ(s.snapshot.primary_unhealthy_since, kNow);
       EXPECT_EQ(s.snapshot.sites[0].vote, decide::Vote::kDown);
       EXPECT_EQ(s.memory.primary_last_healthy_at, std::nullopt);  // doubted: not refreshed
     }},
    {"quorum holds on: the clock keeps its start",
     [](Observation& o, ObserverMemory& m, auto&) {
       Outage(o);
       m.unhealthy_since = kNow - 3s;
     },
     [](const SnapshotStep& s) { EXPECT_EQ(s.snapshot.primary_unhealthy_since, kNow - 3s); }},
    {"one site alone is no quorum: the clock resets",
     [](Observation& o, ObserverMemory& m, auto&) {
       o.vantage[1].status = HealthStatus::kUnhealthy;
       m.unhealthy_since = kNow - 3s;
     },
     [](const SnapshotStep& s) {
       EXPECT_FALSE(s.snapshot.primary_unhealthy_since);
       EXPECT_FALSE(s.memory.unhealthy_since);
     }},
    {"the primary region's own view is never a vote: one outside site is no quorum",
     [](Observation& o, auto&, auto&) {
       o.vantage[0].status = HealthStatus::kUnhealthy;
       o.vantage[2].status = HealthStatus::kUnhealthy;
     },
     [](const SnapshotStep& s) { EXPECT_FALSE(s.snapshot.primary_unhealthy_since); }},
    {"three vantage points of one site are one vote",
     [](Observation& o, auto&, auto&) {
       o.vantage = {Seen("witness", HealthStatus::kUnhealthy),
                    Seen("witness", HealthStatus::kUnhealthy),
                    Seen("witness", HealthStatus::kUnhealthy), Seen("dr", HealthStatus::kHealthy)};
     },
     [](const SnapshotStep& s) {
       ASSERT_EQ(s.snapshot.sites.size(), 2u);
       EXPECT_EQ(s.snapshot.sites[0].vote, decide::Vote::kDown);
       EXPECT_FALSE(s.snapshot.primary_unhealthy_since);
     }},
    {"a stale observation is no vote, never a vote against",
     [](Observation& o, auto&, auto&) {
       Outage(o);
       o.vantage[1].age = 2100ms;  // policy.max_observation_age is 2 s
     },
     [](const SnapshotStep& s) {
       EXPECT_EQ(s.snapshot.sites[1].vote, decide::Vote::kStale);
       EXPECT_FALSE(s.snapshot.primary_unhealthy_since);
     }},
    {"a late probe never counts as down",
     [](Observation& o, auto&, auto&) {
       Outage(o);
       o.vantage[1].late = true;
       o.vantage[1].lateness = 700ms;
     },
     [](const SnapshotStep& s) {
       EXPECT_EQ(s.snapshot.sites[1].vote, decide::Vote::kLate);
       EXPECT_NE(s.snapshot.sites[1].detail.find("started 700 ms late"), std::string::npos)
           << s.snapshot.sites[1].detail;
       EXPECT_FALSE(s.snapshot.primary_unhealthy_since);
     }},
    {"an agent that did not answer is no vote",
     [](Observation& o, auto&, auto&) {
       Outage(o);
       o.vantage[1].age.reset();
       o.vantage[1].status = HealthStatus::kUnknown;
       o.vantage[1].detail = "probe agent http://127.0.2.1:7410 did not answer";
     },
     [](const SnapshotStep& s) {
       EXPECT_EQ(s.snapshot.sites[1].vote, decide::Vote::kUnknown);
       EXPECT_FALSE(s.snapshot.primary_unhealthy_since);
     }},
    {"an explicit quorum of 3 is not met by 2",
     [](Observation& o, auto&, decide::Policy& p) {
       p.quorum = 3;
       o.vantage[0].status = HealthStatus::kUnhealthy;
       o.vantage[1].status = HealthStatus::kUnhealthy;
     },
     [](const SnapshotStep& s) { EXPECT_FALSE(s.snapshot.primary_unhealthy_since); }},
    {"outage: 'was streaming' remembered, lag bounded by heartbeat minus time since loss",
     [](Observation& o, ObserverMemory& m, auto&) {
       Outage(o);
       m.was_streaming = true;
       m.lag_while_healthy = 200ms;
       m.primary_last_healthy_at = kNow - 3s;
     },
     [](const SnapshotStep& s) {
       EXPECT_TRUE(s.snapshot.replica_streaming);
       EXPECT_EQ(s.snapshot.replica_lag, 500ms);  // 3.5 s heartbeat age - 3 s since loss
       EXPECT_EQ(s.lag_source, "at most: last replayed heartbeat to the primary's loss");
       EXPECT_FALSE(s.snapshot.old_primary_reachable);
       EXPECT_FALSE(s.snapshot.old_primary_writable);
       EXPECT_TRUE(s.memory.was_streaming);  // not overwritten while the primary is down
     }},
    {"outage: the bound never undercuts the lag seen while healthy",
     [](Observation& o, ObserverMemory& m, auto&) {
       Outage(o);
       m.was_streaming = true;
       m.lag_while_healthy = 800ms;
       m.primary_last_healthy_at = kNow - 10s;
     },
     [](const SnapshotStep& s) { EXPECT_EQ(s.snapshot.replica_lag, 800ms); }},
    {"outage after the replica had stopped streaming: the gate will fail",
     [](Observation& o, ObserverMemory& m, auto&) {
       Outage(o);
       m.was_streaming = false;
       m.primary_last_healthy_at = kNow - 3s;
     },
     [](const SnapshotStep& s) { EXPECT_FALSE(s.snapshot.replica_streaming); }},
    {"outage with no heartbeat on the standby: lag unknown",
     [](Observation& o, ObserverMemory& m, auto&) {
       Outage(o);
       o.replication.heartbeat_age_seconds.reset();
       m.was_streaming = true;
     },
     [](const SnapshotStep& s) {
       EXPECT_FALSE(s.snapshot.replica_lag);
       EXPECT_NE(s.lag_source.find("unknown"), std::string::npos);
     }},
    {"outage seen by a controller that never saw the primary healthy: whole heartbeat age",
     [](Observation& o, auto&, auto&) { Outage(o); },
     [](const SnapshotStep& s) {
       EXPECT_EQ(s.snapshot.replica_lag, 3500ms);
       EXPECT_FALSE(s.snapshot.replica_streaming);
     }},
    {"primary up but the replica not streaming: now is what counts",
     [](Observation& o, ObserverMemory& m, auto&) {
       o.replication.streaming = false;
       m.was_streaming = true;
     },
     [](const SnapshotStep& s) {
       EXPECT_FALSE(s.snapshot.replica_streaming);
       EXPECT_FALSE(s.snapshot.replica_lag);
       EXPECT_FALSE(s.memory.was_streaming);
     }},
    {"garbage lag from the server is unknown, not a crash",
     [](Observation& o, auto&, auto&) { o.replication.replay_lag_seconds = -1; },
     [](const SnapshotStep& s) { EXPECT_FALSE(s.snapshot.replica_lag); }},
    {"split brain facts: both databases writable",
     [](Observation& o, auto&, auto&) { o.dr = {true, false, false, "primary, writable"}; },
     [](const SnapshotStep& s) {
       EXPECT_TRUE(s.snapshot.old_primary_writable);
       EXPECT_TRUE(s.snapshot.dr_writable);
     }},
    {"a fenced old primary is reachable but not writable",
     [](Observation& o, auto&, auto&) { o.old_primary.read_only_default = true; },
     [](const SnapshotStep& s) {
       EXPECT_TRUE(s.snapshot.old_primary_reachable);
       EXPECT_FALSE(s.snapshot.old_primary_writable);
     }},
    {"readiness facts and the lease pass through",
     [](Observation& o, auto&, auto&) {
       o.dr_holds_primary_release.holds = false;
       o.dns_secondary_exists.holds = false;
       o.primary_lease_expires_at.reset();
     },
     [](const SnapshotStep& s) {
       EXPECT_FALSE(s.snapshot.dr_holds_primary_release);
       EXPECT_TRUE(s.snapshot.dr_compute_can_scale);
       EXPECT_FALSE(s.snapshot.dns_secondary_exists);
       EXPECT_FALSE(s.snapshot.primary_lease_expires_at);
     }},
    {"no vantage reports: nothing healthy is remembered",
     [](Observation& o, auto&, auto&) { o.vantage.clear(); },
     [](const SnapshotStep& s) {
       EXPECT_TRUE(s.snapshot.sites.empty());
       EXPECT_FALSE(s.memory.primary_last_healthy_at);
       EXPECT_FALSE(s.snapshot.primary_unhealthy_since);
     }},
    // What is at risk, from the WAL: a stopped receiver and a paused replay told apart.
    {"replay paused, then the primary lost: 0 bytes at risk, gates pass",
     [](Observation& o, ObserverMemory& m, auto&) {
       Outage(o);
       o.replication.heartbeat_age_seconds = 99.4;  // replay stopped long ago
       o.replication.standby_receive_lsn = 10'000'000;
       o.replication.standby_replay_lsn = 1'000'000;
       o.replication.replay_paused = true;
       m.was_streaming = true;
       m.streaming_detail = "streaming; replay paused";
       m.primary_last_healthy_at = kNow - 1s;
       m.primary_wal.Add({4'000'000, kNow - 10s});
       m.primary_wal.Add({10'000'000, kNow - 1s});
     },
     [](const SnapshotStep& s) {
       EXPECT_EQ(s.snapshot.wal_at_risk.bytes, 0);
       EXPECT_TRUE(s.snapshot.replica_streaming);
       EXPECT_TRUE(s.snapshot.replica_replay_paused);
       EXPECT_EQ(s.snapshot.replica_lag, 1s);  // only the unobserved tail until the loss
       EXPECT_TRUE(decide::FailedGates(s.snapshot, decide::Policy{}).empty());
       EXPECT_EQ(s.memory.primary_wal.unreachable_since, kNow);
     }},
    {"receiver stopped, then the primary lost: the bytes and window it never received",
     [](Observation& o, ObserverMemory& m, auto&) {
       Outage(o);
       o.replication.standby_receive_lsn = 4'000'000;
       o.replication.standby_replay_lsn = 4'000'000;
       m.was_streaming = false;
       m.streaming_detail = "no WAL receiver on the standby (pg_stat_wal_receiver is empty)";
       m.primary_last_healthy_at = kNow - 1s;
       m.primary_wal.Add({4'000'000, kNow - 10s});
       m.primary_wal.Add({10'000'000, kNow - 1s});
     },
     [](const SnapshotStep& s) {
       EXPECT_EQ(s.snapshot.wal_at_risk.bytes, 6'000'000);
       EXPECT_EQ(s.snapshot.wal_at_risk.from, kNow - 10s);
       EXPECT_EQ(s.snapshot.wal_at_risk.to, kNow - 1s);
       EXPECT_EQ(s.snapshot.replica_lag, 10s);  // 9 s window + 1 s until found lost
       EXPECT_FALSE(s.snapshot.replica_streaming);
       const std::vector<std::string> failed = decide::FailedGates(s.snapshot, decide::Policy{});
       ASSERT_FALSE(failed.empty());
       EXPECT_NE(failed[0].find("replica was not streaming: no WAL receiver"), std::string::npos)
           << failed[0];
     }},
    {"primary answers, standby has no WAL receiver: not streaming, bytes behind now",
     [](Observation& o, ObserverMemory& m, auto&) {
       o.replication.streaming = false;
       o.replication.receiver_status = "";
       o.replication.replay_lag_seconds = 12;  // heartbeats stopped arriving too
       o.replication.primary_lsn = 10'000'000;
       o.replication.standby_receive_lsn = 4'000'000;
       m.primary_wal.Add({4'000'000, kNow - 10s});
     },
     [](const SnapshotStep& s) {
       EXPECT_FALSE(s.snapshot.replica_streaming);
       EXPECT_NE(s.snapshot.replica_streaming_detail.find("no WAL receiver"), std::string::npos);
       EXPECT_EQ(s.snapshot.wal_at_risk.bytes, 6'000'000);
       EXPECT_EQ(s.snapshot.replica_lag, 10s);
       EXPECT_EQ(s.memory.primary_wal.Newest()->lsn, 10'000'000u);
     }},
    {"primary answers, replay paused: streaming, nothing at risk despite the replay lag",
     [](Observation& o, ObserverMemory& m, auto&) {
       o.replication.receiver_status = "streaming";
       o.replication.replay_paused = true;
       o.replication.replay_lag_seconds = 95.7;
       o.replication.primary_lsn = 10'000'000;
       o.replication.standby_receive_lsn = 10'000'000;
       o.replication.standby_replay_lsn = 1'000;
       m.primary_wal.Add({9'000'000, kNow - 1s});
     },
     [](const SnapshotStep& s) {
       EXPECT_TRUE(s.snapshot.replica_streaming);
       EXPECT_NE(s.snapshot.replica_streaming_detail.find("replay paused"), std::string::npos);
       EXPECT_EQ(s.snapshot.wal_at_risk.bytes, 0);
       EXPECT_EQ(s.snapshot.replica_lag, 0s);
       EXPECT_TRUE(decide::FailedGates(s.snapshot, decide::Policy{}).empty());
     }},
    {"unknown primary LSN: falls back to the heartbeat bound",
     [](Observation& o, ObserverMemory& m, auto&) {
       Outage(o);
       o.replication.standby_receive_lsn = 4'000'000;
       m.was_streaming = true;
       m.primary_last_healthy_at = kNow - 3s;
     },
     [](const SnapshotStep& s) {
       EXPECT_FALSE(s.snapshot.wal_at_risk.bytes);
       EXPECT_NE(s.snapshot.wal_at_risk.detail.find("no primary WAL position"), std::string::npos);
       EXPECT_EQ(s.snapshot.replica_lag, 500ms);
     }},
};

INSTANTIATE_TEST_SUITE_P(Table, SnapshotTable, ::testing::ValuesIn(kRows));

// The memory a later process (`failover --force` after the primary died) reads.
TEST(ObserverMemoryJsonTest, RoundTripsAndRejectsGarbageWithAReason) {
  ObserverMemory m;
  m.was_streaming = true;
  m.streaming_detail = "streaming";
  m.primary_last_healthy_at = kNow - 2s;
  m.lag_while_healthy = 150ms;
  m.primary_wal.Add({0x16B374D848, kNow - 3s});
  m.primary_wal.Add({0x16B374F000, kNow - 2s});
  m.primary_wal.MarkUnreachable(kNow - 1s);
  m.unhealthy_since = kNow;  // one run's: not kept
  std::string error;
  ObserverMemory back = ObserverMemoryFromJson(ObserverMemoryToJson(m), &error);
  EXPECT_EQ(error, "");
  EXPECT_TRUE(back.was_streaming);
  EXPECT_EQ(back.streaming_detail, "streaming");
  EXPECT_EQ(back.primary_last_healthy_at, m.primary_last_healthy_at);
  EXPECT_EQ(back.lag_while_healthy, m.lag_while_healthy);
  ASSERT_EQ(back.primary_wal.samples.size(), 2u);
  EXPECT_EQ(back.primary_wal.samples[1].lsn, 0x16B374F000u);
  EXPECT_EQ(back.primary_wal.samples[1].at, kNow - 2s);
  EXPECT_EQ(back.primary_wal.unreachable_since, kNow - 1s);
  EXPECT_FALSE(back.unhealthy_since);

  for (const char* bad : {"", "[]", "{\"version\": 2}",
                          "{\"version\": 1, \"primary_wal\": [{\"lsn\": \"x/1\", \"at_ns\": 1}]}",
                          "{\"version\": 1, \"primary_wal\": [{\"lsn\": \"0/1\"}]}"}) {
    error.clear();
    ObserverMemory none = ObserverMemoryFromJson(bad, &error);
    EXPECT_FALSE(error.empty()) << bad;
    EXPECT_TRUE(none.primary_wal.samples.empty()) << bad;
  }
}

// Votes from three sites outside the primary region, each up, down, late or
// stale: the quorum (2 of 3) forms exactly when two are down; late and stale
// never add to it, and the decision agrees.
TEST(Snapshot, ThreeSitesInEveryCombinationOfUpDownLateStale) {
  enum Says { kUp, kDown, kLate, kStale };
  const char* kNames[] = {"up", "down", "late", "stale"};
  decide::Policy policy;
  policy.confirm_for = 0s;
  int formed = 0;
  for (int a = 0; a < 4; ++a) {
    for (int b = 0; b < 4; ++b) {
      for (int c = 0; c < 4; ++c) {
        Observation o = Healthy();
        Outage(o);
        o.vantage = {};
        const int sites[] = {a, b, c};
        const char* site_names[] = {"dr", "witness", "third"};
        int down = 0;
        for (int i = 0; i < 3; ++i) {
          VantageObservation v = Seen(
              site_names[i], sites[i] == kUp ? HealthStatus::kHealthy : HealthStatus::kUnhealthy);
          if (sites[i] == kLate) v.late = true;
          if (sites[i] == kStale) v.age = 5s;
          down += sites[i] == kDown;
          o.vantage.push_back(v);
        }
        o.vantage.push_back(Seen("primary", HealthStatus::kUnhealthy, /*in_primary=*/true));
        const std::string label = std::string("dr ") + kNames[a] + ", witness " + kNames[b] +
                                  ", third " + kNames[c];
        const SnapshotStep step = BuildSnapshot(o, {}, policy);
        EXPECT_EQ(step.snapshot.primary_unhealthy_since.has_value(), down >= 2) << label;
        formed += down >= 2;
        const decide::Decision d = decide::Decide(step.snapshot, {}, policy, o.at);
        EXPECT_EQ(d.reason.unhealthy_votes, down) << label;
        // Past the votes, only readiness and the lease stand in the way.
        const bool votes_say_no = d.reason.code == decide::Reason::Code::kPrimaryHealthy ||
                                  d.reason.code == decide::Reason::Code::kNoQuorum;
        EXPECT_EQ(votes_say_no, down < 2) << label << ": " << d.reason.ToString();
        if (down < 2) EXPECT_EQ(d.plan.kind, decide::PlanKind::kNone) << label;
      }
    }
  }
  EXPECT_EQ(formed, 3 * 3 + 1);  // two down (3 pairs x 3 others) or all three
}

// The pure pipeline end to end: a healthy minute, then the outage; what Decide
// is handed lets it fail over (streaming remembered, lag bounded).
TEST(Snapshot, HealthyThenOutageIsReadyToFailOver) {
  decide::Policy policy;
  policy.confirm_for = 1s;
  policy.max_lag_on_failover = 10s;
  ObserverMemory memory;
  Observation o = Healthy();
  for (int i = 0; i < 3; ++i) {
    o.at = kNow + std::chrono::seconds(i);
    memory = BuildSnapshot(o, memory, policy).memory;
  }
  Outage(o);
  o.primary_lease_expires_at = kNow;  // it stopped renewing at the outage
  SnapshotStep first{};
  for (int i = 3; i < 6; ++i) {
    o.at = kNow + std::chrono::seconds(i);
    SnapshotStep s = BuildSnapshot(o, memory, policy);
    memory = s.memory;
    if (i == 3) first = s;
    if (i == 5) {
      decide::Decision d = decide::Decide(s.snapshot, {}, policy, o.at);
      EXPECT_EQ(d.plan.kind, decide::PlanKind::kFailover) << d.reason.ToString();
      EXPECT_NE(d.reason.ToString().find("for 2.0 s"), std::string::npos) << d.reason.ToString();
    }
  }
  EXPECT_EQ(first.snapshot.primary_unhealthy_since, kNow + 3s);
}

}  // namespace
}  // namespace pilotlight::controller
