// The primary's write lease: how "the primary side fences itself when it loses
// the controller" (DESIGN.md safety rule 1) is made provable.
//
// The controller grants the primary region's agent a time-bounded write lease;
// the agent renews it every duration/3. Both sides keep time on their own
// clocks and neither trusts the other's:
//  * the agent (LeaseKeeper) measures a grant from the moment it SENT the
//    renewal, on its monotonic clock, so the lease it believes it holds always
//    ends no later than the one the controller granted; it starts fencing its
//    PostgreSQL `fence_lead` before that end unless a renewal came back in time,
//    and at once when the controller refuses a renewal, or when it answers that
//    the lease is revoked for good (a failover happened) even if the keeper
//    holds none (an old primary restarted after the failover);
//  * the controller (LeaseGrantor) counts the lease from the moment it granted
//    it, and decide::Decide adds policy.lease_safety_margin (clock-rate error,
//    the time a fence takes) before it treats an unreachable primary as stopped.
// The grantor stops granting as soon as the controller commits to a failover
// (SetGranting(false)), so the lease runs out within one duration; once a
// failover runbook has begun it never grants again (Revoke) until a failback run
// has succeeded (Rearm).
//
// Both classes are pure state machines: time comes in as arguments, effects go
// out as return values; the HTTP transport and the fencing are in lease_http.h.
// Thread-compatible: callers serialize access (the transport holds a mutex).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/clock.h"

namespace pilotlight::controller {

struct LeaseAnswer {
  bool granted = false;
  Duration duration{0};
  uint64_t epoch = 0;  // grows with every grant, for logs
  std::string reason;  // why refused, or "granted"
  // Refused for good (the controller failed over): the holder must stop writes
  // even if it holds no lease now (e.g. an old primary restarted after a failover).
  bool fence_now = false;
  // Not a decision but a failure of the controller (it could not record the
  // grant): the transport answers it as "no answer" (503), so the keeper keeps
  // the lease it holds until it runs out instead of fencing at once.
  bool unrecorded = false;
};

class LeaseGrantor {
 public:
  // Only `holder` (the primary region's name) may hold the lease.
  LeaseGrantor(std::string holder, Duration duration);

  // After a restart: the latest expiry granted by an earlier process (from its
  // state file), so a lease granted before the crash is still waited out.
  void Restore(WallTime expires_at);

  // The controller's standing decision: grant renewals, or let the lease run out
  // (`why` is sent to the keeper). Ignored once revoked.
  void SetGranting(bool granting, const std::string& why);
  // Never grant again (a failover runbook began, or the controller failed over).
  void Revoke(const std::string& why);
  // Undo Revoke after a failback run succeeded (the primary region takes writes
  // again and automatic failover is re-armed): grant renewals again. Only the
  // controller calls it, from the journal's word that the failback succeeded.
  void Rearm();

  LeaseAnswer Renew(const std::string& holder, WallTime now);

  // When the latest granted lease ends on the controller's clock; unset when no
  // lease was ever granted (or restored).
  std::optional<WallTime> ExpiresAt() const { return expires_at_; }
  bool granting() const { return granting_ && !revoked_; }
  bool revoked() const { return revoked_; }
  const std::string& holder() const { return holder_; }
  Duration duration() const { return duration_; }
  const std::string& refusal() const { return why_not_; }

 private:
  std::string holder_;
  Duration duration_;
  bool granting_ = true;
  bool revoked_ = false;
  std::string why_not_;
  uint64_t epoch_ = 0;
  std::optional<WallTime> expires_at_;
};

// The agent's side. Drive it with Next(now) and report what happened.
class LeaseKeeper {
 public:
  enum class State {
    kNoLease,   // never held one: nothing to fence, keep asking
    kHeld,      // a valid lease: writes allowed
    kMustFence, // lost it (expired or refused): fence now
    kFenced,    // fenced itself; asks again, and unfences when granted
  };
  enum class Action { kWait, kRenew, kFence, kUnfence };

  struct Options {
    // Before the first grant, and after a failed request, ask this often.
    Duration retry_every = std::chrono::seconds(1);
  };

  LeaseKeeper() : LeaseKeeper(Options{}) {}
  explicit LeaseKeeper(Options options) : options_(options) {}

  // What to do at `now`. kRenew: send a renewal and report it with
  // Answered/Failed, passing the instant it was sent.
  Action Next(MonoTime now) const;
  // When Next() may next return something other than kWait (for sleeping).
  MonoTime NextWakeup(MonoTime now) const;

  void Answered(MonoTime sent_at, const LeaseAnswer& answer, MonoTime now);
  void Failed(MonoTime sent_at, MonoTime now);
  // The fence (or unfence) finished, successfully or not.
  void FenceDone(bool ok, MonoTime now);
  void UnfenceDone(bool ok, MonoTime now);

  State state() const { return state_; }
  // The end of the lease as the keeper counts it (sent_at + duration).
  std::optional<MonoTime> valid_until() const { return valid_until_; }
  // Start fencing this long before valid_until (duration/6 of the last grant).
  Duration fence_lead() const { return fence_lead_; }
  const std::string& last_refusal() const { return last_refusal_; }

 private:
  Options options_;
  State state_ = State::kNoLease;
  std::optional<MonoTime> valid_until_;
  Duration renew_every_{0};
  Duration fence_lead_{0};
  MonoTime last_attempt_{};
  bool attempted_ = false;
  bool last_failed_ = false;
  MonoTime fence_retry_at_{};
  bool want_unfence_ = false;
  MonoTime unfence_retry_at_{};
  std::string last_refusal_;
};

const char* KeeperStateName(LeaseKeeper::State state);
const char* KeeperActionName(LeaseKeeper::Action action);

}  // namespace pilotlight::controller
