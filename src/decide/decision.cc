#include "decide/decision.h"

#include <algorithm>
#include <cstdio>

namespace pilotlight::decide {
namespace {

// "2.1 s": one decimal is what an operator reads in a decision.
std::string Secs(Duration d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(d.count()) / 1e9);
  return buf;
}

std::string Votes(const Reason& r) {
  return std::to_string(r.unhealthy_votes) + " of " + std::to_string(r.total_votes) +
         (r.total_votes == 1 ? " site" : " sites");
}

// "; no vote from 1 (dr late)" when some counted sites did not vote.
std::string NoVotes(const Reason& r) {
  if (r.no_votes == 0) return "";
  return "; no vote from " + std::to_string(r.no_votes) + " (" + r.no_vote_detail + ")";
}

std::string Joined(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& s : items) out += (out.empty() ? "" : "; ") + s;
  return out;
}

// "; WAL at risk: 123 bytes of WAL not received by the standby (...)".
std::string WalWords(const Reason& r) {
  if (!r.wal_at_risk || !r.wal_at_risk->bytes) return "";
  return "; WAL at risk: " + r.wal_at_risk->detail;
}

// The part of a failover reason shared by the modes that would fail over.
std::string FailoverClause(const Reason& r) {
  std::string out = "primary unhealthy from " + Votes(r) + " for " + Secs(r.unhealthy_for);
  if (r.forced) {
    out += "; FORCED past: " + Joined(r.failed_gates);
  } else {
    out += "; DR ready";
  }
  if (r.replica_lag) out += "; replica lag " + Secs(*r.replica_lag);
  if (r.data_at_risk) out += "; data at risk: up to " + Secs(*r.data_at_risk) + " of writes";
  if (r.forced && !r.data_at_risk) {
    out += r.wal_at_risk && r.wal_at_risk->bytes ? "; data at risk: span unknown"
                                                 : "; data at risk: unknown (replica lag unknown)";
  }
  out += WalWords(r);
  if (r.fence_first) {
    out += "; fencing the old primary first";
  } else if (r.lease_seen) {
    out += "; old primary unreachable and its write lease expired";
  } else {
    out += "; old primary unreachable with no lease seen (operator vouches it is fenced)";
  }
  return out;
}

}  // namespace

const char* VoteName(Vote vote) {
  switch (vote) {
    case Vote::kUp: return "up";
    case Vote::kDown: return "down";
    case Vote::kLate: return "late";
    case Vote::kStale: return "stale";
    case Vote::kUnknown: return "unknown";
  }
  return "?";
}

VoteTally TallyVotes(const std::vector<SiteVote>& sites, const Policy& p) {
  VoteTally t;
  for (const SiteVote& v : sites) {
    if (v.in_primary_region) continue;
    ++t.sites;
    switch (v.vote) {
      case Vote::kUp: ++t.up; break;
      case Vote::kDown: ++t.down; break;
      case Vote::kLate: ++t.late; break;
      case Vote::kStale: ++t.stale; break;
      case Vote::kUnknown: ++t.unknown; break;
    }
  }
  // The denominator is every site that should vote, not those that did: a
  // silent site cannot shrink the quorum.
  t.quorum = p.quorum > 0 ? p.quorum : t.sites / 2 + 1;
  if (!p.allow_single_site) t.quorum = std::max(t.quorum, 2);
  return t;
}

const char* ModeName(Mode mode) {
  switch (mode) {
    case Mode::kAutomatic: return "automatic";
    case Mode::kApproval: return "approval";
    case Mode::kObserveOnly: return "observe-only";
  }
  return "?";
}

const char* PhaseName(ControllerState::Phase phase) {
  switch (phase) {
    case ControllerState::Phase::kNormal: return "normal";
    case ControllerState::Phase::kFailingOver: return "failing-over";
    case ControllerState::Phase::kFailedOver: return "failed-over";
  }
  return "?";
}

const char* PlanKindName(PlanKind kind) {
  switch (kind) {
    case PlanKind::kNone: return "none";
    case PlanKind::kFailover: return "failover";
    case PlanKind::kResumeFailover: return "resume-failover";
    case PlanKind::kAwaitApproval: return "await-approval";
    case PlanKind::kWaitForLease: return "wait-for-lease";
    case PlanKind::kFenceOldPrimary: return "fence-old-primary";
  }
  return "?";
}

std::string Reason::ToString() const {
  switch (code) {
    case Code::kPrimaryHealthy:
      if (total_votes > 0 && no_votes >= total_votes) {
        // Nobody down, but nobody up either: not "healthy" (a caller waiting
        // for a steady controller must not take the first cycle for one).
        return "no action: primary health not known yet (0 of " + std::to_string(total_votes) +
               (total_votes == 1 ? " site sees" : " sites see") + " it down" + NoVotes(*this) +
               ")";
      }
      return "no action: primary healthy (0 of " + std::to_string(total_votes) +
             (total_votes == 1 ? " site sees" : " sites see") + " it down" + NoVotes(*this) + ")";
    case Code::kNoVantageReports:
      return "no action: no site outside the primary region votes on the primary (add a "
             "vantage point with a site and a probe agent there)";
    case Code::kNoQuorum: {
      std::string out = "no action: primary unhealthy from " + Votes(*this) + " only; quorum is " +
                        std::to_string(quorum) + NoVotes(*this);
      if (quorum > total_votes) {
        out += "; only " + std::to_string(total_votes) +
               (total_votes == 1 ? " site votes" : " sites vote") +
               " outside the primary region, so no failover can be automatic: add a vantage "
               "point in another site (one site alone never triggers a failover)";
      }
      return out;
    }
    case Code::kConfirming:
      return "waiting: primary unhealthy from " + Votes(*this) + " for " + Secs(unhealthy_for) +
             "; confirming for " + Secs(wait) + " more";
    case Code::kFailedOverAlready:
      return "no action: failed over to DR; failback is deliberate (run `pilotlight failback`)";
    case Code::kFailoverInProgress:
      return "resume: a failover runbook was interrupted; resuming it from the journal";
    case Code::kHoldDown:
      return "no action: primary unhealthy from " + Votes(*this) +
             ", but in hold-down after the last " +
             (hold_down_from_failback ? "failback" : "failover") + " for " + Secs(wait) + " more";
    case Code::kNotReady: {
      std::string out = "blocked: primary unhealthy from " + Votes(*this) + " for " +
                        Secs(unhealthy_for) + ", but DR is not ready: " + Joined(failed_gates);
      out += data_at_risk ? "; `pilotlight failover --force` would put up to " +
                                Secs(*data_at_risk) + " of writes at risk"
             : wal_at_risk && wal_at_risk->bytes
                 ? "; `pilotlight failover --force` overrides"
                 : "; `pilotlight failover --force` overrides (data at risk unknown)";
      return out + WalWords(*this);
    }
    case Code::kObserveOnly:
      return "observe-only: would fail over: " + FailoverClause(*this);
    case Code::kAwaitingApproval:
      return "awaiting approval (run `pilotlight approve`): would fail over: " +
             FailoverClause(*this);
    case Code::kLeaseNotExpired:
      if (wait.count() > 0) {
        return "waiting: primary unhealthy from " + Votes(*this) +
               "; old primary unreachable and its write lease expires in " + Secs(wait);
      }
      return "blocked: primary unhealthy from " + Votes(*this) +
             "; old primary unreachable and no write lease of it was ever seen, so nothing "
             "proves it stopped writing; fence it by hand, then `pilotlight failover --force`";
    case Code::kFailover:
      return "failover: " + FailoverClause(*this);
    case Code::kSplitBrain:
      return "fence now: both the old primary and DR accept writes";
  }
  return "?";
}

std::vector<std::string> FailedGates(const Snapshot& s, const Policy& p) {
  std::vector<std::string> failed;
  if (p.gate_replica_streaming && !s.replica_streaming) {
    failed.push_back("replica was not streaming" + (s.replica_streaming_detail.empty()
                                                        ? std::string()
                                                        : ": " + s.replica_streaming_detail));
  }
  if (p.gate_replica_lag) {
    if (!s.replica_lag) {
      failed.push_back("replica lag unknown");
    } else if (*s.replica_lag > p.max_lag_on_failover) {
      failed.push_back("replica lag " + Secs(*s.replica_lag) + " over the " +
                       Secs(p.max_lag_on_failover) + " limit");
    }
  }
  if (p.gate_release && !s.dr_holds_primary_release) {
    failed.push_back("DR does not hold the primary's release");
  }
  if (p.gate_compute && !s.dr_compute_can_scale) failed.push_back("DR compute cannot scale");
  if (p.gate_dns && !s.dns_secondary_exists) failed.push_back("no DNS secondary record");
  return failed;
}

Decision Decide(const Snapshot& s, const ControllerState& state, const Policy& p, WallTime now) {
  Decision d;
  Reason& r = d.reason;
  r.replica_lag = s.replica_lag;
  const VoteTally tally = TallyVotes(s.sites, p);
  r.total_votes = tally.sites;
  r.unhealthy_votes = tally.down;
  r.quorum = tally.quorum;
  r.no_votes = tally.late + tally.stale + tally.unknown;
  for (const SiteVote& v : s.sites) {
    if (v.in_primary_region || v.vote == Vote::kUp || v.vote == Vote::kDown) continue;
    r.no_vote_detail += (r.no_vote_detail.empty() ? "" : ", ") + v.site + " " + VoteName(v.vote);
  }

  // Two writable primaries is the one state worse than an outage: fence first.
  if (s.dr_writable && s.old_primary_reachable && s.old_primary_writable) {
    r.code = Reason::Code::kSplitBrain;
    if (p.mode != Mode::kObserveOnly) d.plan.kind = PlanKind::kFenceOldPrimary;
    return d;
  }
  if (state.phase == ControllerState::Phase::kFailingOver) {
    r.code = Reason::Code::kFailoverInProgress;
    d.plan.kind = PlanKind::kResumeFailover;
    return d;
  }
  if (state.phase == ControllerState::Phase::kFailedOver) {
    r.code = Reason::Code::kFailedOverAlready;
    return d;
  }
  if (tally.sites == 0) {
    r.code = Reason::Code::kNoVantageReports;
    return d;
  }
  if (r.unhealthy_votes == 0) {
    r.code = Reason::Code::kPrimaryHealthy;
    return d;
  }
  if (r.unhealthy_votes < r.quorum) {
    r.code = Reason::Code::kNoQuorum;
    return d;
  }
  const WallTime since = s.primary_unhealthy_since.value_or(now);
  r.unhealthy_for = now > since ? now - since : Duration(0);
  if (r.unhealthy_for < p.confirm_for) {
    r.code = Reason::Code::kConfirming;
    r.wait = p.confirm_for - r.unhealthy_for;
    return d;
  }
  // Hold-down counts from the later of the last failover and the last failback.
  std::optional<WallTime> settled_at = state.last_failover_at;
  if (state.last_failback_at && (!settled_at || *state.last_failback_at > *settled_at)) {
    settled_at = state.last_failback_at;
    r.hold_down_from_failback = true;
  }
  if (settled_at && now - *settled_at < p.hold_down) {
    r.code = Reason::Code::kHoldDown;
    r.wait = p.hold_down - (now - *settled_at);
    return d;
  }
  r.hold_down_from_failback = false;

  r.failed_gates = FailedGates(s, p);
  const bool lag_gate_failed =
      p.gate_replica_lag && (!s.replica_lag || *s.replica_lag > p.max_lag_on_failover);
  if (lag_gate_failed && s.replica_lag) r.data_at_risk = s.replica_lag;
  if (!r.failed_gates.empty()) {
    // Whichever gate failed, forcing past it loses what the standby lacks.
    r.wal_at_risk = s.wal_at_risk;
    if (!r.data_at_risk && s.replica_lag && s.wal_at_risk.bytes) r.data_at_risk = s.replica_lag;
    if (!state.force_requested) {
      r.code = Reason::Code::kNotReady;
      return d;
    }
    r.forced = true;
    d.plan.forced = true;
  }

  r.fence_first = s.old_primary_reachable;
  d.plan.fence_first = s.old_primary_reachable;
  r.lease_seen = s.primary_lease_expires_at.has_value();
  if (!s.old_primary_reachable) {
    // Unreachable: only its own lease can prove it stopped taking writes. A known
    // lease is always waited out (seconds); with none ever seen, only an operator
    // who fenced it by hand may force past.
    if (s.primary_lease_expires_at) {
      const WallTime safe_at = *s.primary_lease_expires_at + p.lease_safety_margin;
      if (now < safe_at) {
        r.code = Reason::Code::kLeaseNotExpired;
        r.wait = safe_at - now;
        d.plan.kind = PlanKind::kWaitForLease;
        return d;
      }
    } else if (!state.force_requested) {
      r.code = Reason::Code::kLeaseNotExpired;
      d.plan.kind = PlanKind::kWaitForLease;
      return d;
    }
  }

  if (p.mode == Mode::kObserveOnly) {
    r.code = Reason::Code::kObserveOnly;
    d.plan = Plan{};
    return d;
  }
  if (p.mode == Mode::kApproval && !state.approval_granted) {
    r.code = Reason::Code::kAwaitingApproval;
    d.plan.kind = PlanKind::kAwaitApproval;
    return d;
  }
  r.code = Reason::Code::kFailover;
  d.plan.kind = PlanKind::kFailover;
  return d;
}

}  // namespace pilotlight::decide
