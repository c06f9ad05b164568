#include "controller/snapshot.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "core/duration.h"
#include "data/postgres/promotion_gate.h"

namespace pilotlight::controller {

namespace {

std::optional<Duration> Seconds(std::optional<double> s) {
  if (!s || !std::isfinite(*s) || *s < 0) return std::nullopt;
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(*s));
}

}  // namespace

decide::Vote VoteOf(const VantageObservation& v, const decide::Policy& policy) {
  if (!v.age || v.status == health::HealthStatus::kUnknown) return decide::Vote::kUnknown;
  if (*v.age > policy.max_observation_age) return decide::Vote::kStale;
  if (v.late) return decide::Vote::kLate;
  return v.status == health::HealthStatus::kUnhealthy ? decide::Vote::kDown : decide::Vote::kUp;
}

namespace {

std::string Millis(Duration d) {
  return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count()) + " ms";
}

// "witness: down (connection refused; 120 ms old)".
std::string Describe(const VantageObservation& v, decide::Vote vote) {
  std::string out = v.vantage + ": " + decide::VoteName(vote);
  std::string what = v.detail;
  if (v.age) what += (what.empty() ? "" : "; ") + Millis(*v.age) + " old";
  if (v.late) what += "; started " + Millis(v.lateness) + " late";
  return what.empty() ? out : out + " (" + what + ")";
}

int Rank(decide::Vote v) {  // which vantage point speaks for its site
  switch (v) {
    case decide::Vote::kUp: return 0;
    case decide::Vote::kDown: return 1;
    case decide::Vote::kLate: return 2;
    case decide::Vote::kStale: return 3;
    case decide::Vote::kUnknown: return 4;
  }
  return 5;
}

}  // namespace

std::vector<decide::SiteVote> SiteVotes(const std::vector<VantageObservation>& vantage,
                                        const decide::Policy& policy) {
  std::vector<decide::SiteVote> sites;
  for (const VantageObservation& v : vantage) {
    const decide::Vote vote = VoteOf(v, policy);
    auto it = std::find_if(sites.begin(), sites.end(),
                           [&](const decide::SiteVote& s) { return s.site == v.site; });
    if (it == sites.end()) {
      sites.push_back({v.site, vote, Describe(v, vote), v.in_primary_region});
      continue;
    }
    it->detail += "; " + Describe(v, vote);
    if (Rank(vote) < Rank(it->vote)) it->vote = vote;
    it->in_primary_region = it->in_primary_region && v.in_primary_region;
  }
  return sites;
}

SnapshotStep BuildSnapshot(const Observation& o, const ObserverMemory& memory,
                           const decide::Policy& policy) {
  SnapshotStep out;
  out.memory = memory;
  decide::Snapshot& s = out.snapshot;
  s.taken_at = o.at;
  s.sites = SiteVotes(o.vantage, policy);
  const decide::VoteTally tally = decide::TallyVotes(s.sites, policy);
  if (tally.quorum_down()) {
    if (!out.memory.unhealthy_since) out.memory.unhealthy_since = o.at;
  } else {
    out.memory.unhealthy_since.reset();
  }
  s.primary_unhealthy_since = out.memory.unhealthy_since;

  // The primary counts as healthy for the replication memory only when some site
  // sees it up, none doubts it and the controller itself reaches it.
  const bool primary_healthy =
      tally.up > 0 && tally.down == 0 && o.replication.primary_reachable;
  const pg::ReplicationStatus& rep = o.replication;
  const std::optional<Duration> live_lag = Seconds(rep.replay_lag_seconds);
  const std::string streaming_now = pg::DescribeStandbyStreaming(rep) +
                                    (rep.primary_reachable && !rep.streaming && !rep.state.empty()
                                         ? "; the primary's walsender is " + rep.state
                                         : std::string());
  if (primary_healthy) {
    out.memory.primary_last_healthy_at = o.at;
    out.memory.was_streaming = rep.streaming;
    out.memory.streaming_detail = streaming_now;
    out.memory.lag_while_healthy = rep.streaming ? live_lag : std::nullopt;
  }
  // The primary's WAL position: kept whenever the controller reads one.
  const bool primary_live = rep.primary_reachable && rep.primary_lsn.has_value();
  if (primary_live) {
    out.memory.primary_wal.Add({*rep.primary_lsn, o.at});
  } else if (!rep.primary_reachable) {
    out.memory.primary_wal.MarkUnreachable(o.at);
  }
  s.replica_replay_paused = rep.replay_paused;
  std::optional<pg::WalAtRisk> wal;
  if (rep.standby_reachable && rep.standby_in_recovery) {
    wal = pg::EstimateWalAtRisk(out.memory.primary_wal, primary_live, pg::StandbyPosition(rep));
    s.wal_at_risk.bytes = wal->bytes;
    s.wal_at_risk.from = wal->from;
    s.wal_at_risk.to = wal->to;
    s.wal_at_risk.lost_by = wal->lost_by;
    s.wal_at_risk.detail = wal->ToString();
  }
  const std::optional<Duration> wal_span = wal ? wal->Seconds() : std::nullopt;

  if (rep.primary_reachable) {
    // The primary answers: what is true now is what counts.
    s.replica_streaming = rep.streaming;
    s.replica_streaming_detail = streaming_now;
    if (wal_span) {
      // Never more than the replay lag: what is replayed is received.
      s.replica_lag = live_lag ? std::min(*wal_span, *live_lag) : *wal_span;
      out.lag_source = "WAL not received by the standby" +
                       std::string(rep.replay_paused ? " (replay paused: received WAL is "
                                                       "replayed at promotion)"
                                                     : "");
    } else {
      s.replica_lag = rep.streaming ? live_lag : std::nullopt;
      out.lag_source = s.replica_lag ? "replay lag (heartbeat gap)" : "unknown: not streaming";
    }
  } else {
    s.replica_streaming = out.memory.was_streaming;
    s.replica_streaming_detail =
        out.memory.primary_last_healthy_at
            ? out.memory.streaming_detail + " (while the primary was last healthy, " +
                  FormatTime(*out.memory.primary_last_healthy_at) + ")"
            : "never seen streaming: the primary was not seen healthy by this controller";
    if (wal_span) {
      s.replica_lag = *wal_span;
      out.lag_source = "WAL not received by the standby, against the primary's last known position";
    } else {
      // Upper bound: writes older than the last heartbeat the standby replayed are
      // on it; none can exist after the primary was lost.
      std::optional<Duration> bound = Seconds(rep.heartbeat_age_seconds);
      if (bound && out.memory.primary_last_healthy_at) {
        const Duration lost_for = o.at - *out.memory.primary_last_healthy_at;
        *bound = *bound > lost_for ? *bound - lost_for : Duration(0);
        out.lag_source = "at most: last replayed heartbeat to the primary's loss";
      } else if (bound) {
        out.lag_source = "at most: age of the last replayed heartbeat";
      }
      if (bound && out.memory.lag_while_healthy) {
        bound = std::max(*bound, *out.memory.lag_while_healthy);
      }
      s.replica_lag = bound;
      if (!bound) out.lag_source = "unknown: primary unreachable and no heartbeat on the standby";
    }
  }

  s.dr_holds_primary_release = o.dr_holds_primary_release.holds;
  s.dr_compute_can_scale = o.dr_compute_can_scale.holds;
  s.dns_secondary_exists = o.dns_secondary_exists.holds;
  s.old_primary_reachable = o.old_primary.reachable;
  s.old_primary_writable = o.old_primary.writable();
  s.dr_writable = o.dr.writable();
  s.primary_lease_expires_at = o.primary_lease_expires_at;
  return out;
}

namespace {

int64_t Nanos(WallTime t) { return t.time_since_epoch().count(); }
WallTime FromNanos(int64_t n) { return WallTime(Duration(n)); }

}  // namespace

std::string ObserverMemoryToJson(const ObserverMemory& m) {
  using nlohmann::json;
  json samples = json::array();
  for (const pg::PrimaryWalSample& x : m.primary_wal.samples) {
    samples.push_back({{"lsn", pg::FormatLsn(x.lsn)}, {"at_ns", Nanos(x.at)},
                       {"at", FormatTime(x.at)}});
  }
  json j = {{"version", 1},
            {"was_streaming", m.was_streaming},
            {"streaming_detail", m.streaming_detail},
            {"primary_wal", samples}};
  if (m.primary_last_healthy_at) {
    j["primary_last_healthy_at_ns"] = Nanos(*m.primary_last_healthy_at);
    j["primary_last_healthy_at"] = FormatTime(*m.primary_last_healthy_at);
  }
  if (m.lag_while_healthy) j["lag_while_healthy_ns"] = m.lag_while_healthy->count();
  if (m.primary_wal.unreachable_since) {
    j["primary_unreachable_since_ns"] = Nanos(*m.primary_wal.unreachable_since);
    j["primary_unreachable_since"] = FormatTime(*m.primary_wal.unreachable_since);
  }
  return j.dump(1) + "\n";
}

ObserverMemory ObserverMemoryFromJson(const std::string& text, std::string* error) {
  using nlohmann::json;
  ObserverMemory m;
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  auto fail = [&](const std::string& why) {
    if (error) *error = why;
    return ObserverMemory{};
  };
  if (!j.is_object()) return fail("not a JSON object");
  if (j.value("version", 0) != 1) return fail("unknown version (want 1)");
  auto ns = [&](const char* key) -> std::optional<int64_t> {
    auto it = j.find(key);
    if (it == j.end() || !it->is_number_integer()) return std::nullopt;
    return it->get<int64_t>();
  };
  if (auto v = j.find("was_streaming"); v != j.end() && v->is_boolean()) {
    m.was_streaming = v->get<bool>();
  }
  if (auto v = j.find("streaming_detail"); v != j.end() && v->is_string()) {
    m.streaming_detail = v->get<std::string>();
  }
  if (auto n = ns("primary_last_healthy_at_ns")) m.primary_last_healthy_at = FromNanos(*n);
  if (auto n = ns("lag_while_healthy_ns")) m.lag_while_healthy = Duration(*n);
  auto samples = j.find("primary_wal");
  if (samples != j.end() && samples->is_array()) {
    for (const json& x : *samples) {
      if (!x.is_object() || !x.contains("lsn") || !x["lsn"].is_string() ||
          !x.contains("at_ns") || !x["at_ns"].is_number_integer()) {
        return fail("primary_wal: each sample needs \"lsn\" (text) and \"at_ns\" (integer)");
      }
      std::optional<pg::Lsn> lsn = pg::ParseLsn(x["lsn"].get<std::string>());
      if (!lsn) return fail("primary_wal: bad lsn '" + x["lsn"].get<std::string>() + "'");
      m.primary_wal.Add({*lsn, FromNanos(x["at_ns"].get<int64_t>())});
    }
  }
  if (auto n = ns("primary_unreachable_since_ns")) m.primary_wal.unreachable_since = FromNanos(*n);
  return m;
}

}  // namespace pilotlight::controller
