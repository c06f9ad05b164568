#include "controller/lease.h"

#include <algorithm>

namespace pilotlight::controller {

LeaseGrantor::LeaseGrantor(std::string holder, Duration duration)
    : holder_(std::move(holder)), duration_(duration) {}

void LeaseGrantor::Restore(WallTime expires_at) {
  if (!expires_at_ || *expires_at_ < expires_at) expires_at_ = expires_at;
}

void LeaseGrantor::SetGranting(bool granting, const std::string& why) {
  if (revoked_) return;
  granting_ = granting;
  why_not_ = granting ? "" : why;
}

void LeaseGrantor::Revoke(const std::string& why) {
  if (!revoked_) why_not_ = why;
  revoked_ = true;
  granting_ = false;
}

void LeaseGrantor::Rearm() {
  revoked_ = false;
  granting_ = true;
  why_not_.clear();
}

LeaseAnswer LeaseGrantor::Renew(const std::string& holder, WallTime now) {
  LeaseAnswer a;
  if (holder != holder_) {
    a.reason = "region '" + holder + "' may not hold the write lease; only '" + holder_ + "' may";
    return a;
  }
  if (revoked_ || !granting_) {
    a.reason = why_not_.empty() ? "the controller is not granting the write lease" : why_not_;
    a.fence_now = revoked_;
    return a;
  }
  a.granted = true;
  a.duration = duration_;
  a.epoch = ++epoch_;
  a.reason = "granted";
  const WallTime until = now + duration_;
  if (!expires_at_ || *expires_at_ < until) expires_at_ = until;
  return a;
}

LeaseKeeper::Action LeaseKeeper::Next(MonoTime now) const {
  switch (state_) {
    case State::kMustFence:
      return now >= fence_retry_at_ ? Action::kFence : Action::kWait;
    case State::kHeld:
      if (valid_until_ && now >= *valid_until_ - fence_lead_) return Action::kFence;
      if (want_unfence_ && now >= unfence_retry_at_) return Action::kUnfence;
      return now >= last_attempt_ + (last_failed_ ? std::min(options_.retry_every, renew_every_)
                                                  : renew_every_)
                 ? Action::kRenew
                 : Action::kWait;
    case State::kNoLease:
    case State::kFenced:
      return !attempted_ || now >= last_attempt_ + options_.retry_every ? Action::kRenew
                                                                        : Action::kWait;
  }
  return Action::kWait;
}

MonoTime LeaseKeeper::NextWakeup(MonoTime now) const {
  if (Next(now) != Action::kWait) return now;
  switch (state_) {
    case State::kMustFence:
      return fence_retry_at_;
    case State::kHeld: {
      MonoTime t = last_attempt_ + (last_failed_ ? std::min(options_.retry_every, renew_every_)
                                                 : renew_every_);
      if (valid_until_) t = std::min(t, *valid_until_ - fence_lead_);
      if (want_unfence_) t = std::min(t, unfence_retry_at_);
      return t;
    }
    case State::kNoLease:
    case State::kFenced:
      return last_attempt_ + options_.retry_every;
  }
  return now;
}

void LeaseKeeper::Answered(MonoTime sent_at, const LeaseAnswer& answer, MonoTime now) {
  attempted_ = true;
  last_attempt_ = std::max(last_attempt_, sent_at);
  last_failed_ = false;
  if (!answer.granted) {
    last_refusal_ = answer.reason;
    if (state_ == State::kHeld || (answer.fence_now && state_ == State::kNoLease)) {
      state_ = State::kMustFence;  // told it lost the lease: do not wait for the clock
      fence_retry_at_ = now;
      valid_until_.reset();
    }
    return;
  }
  const MonoTime until = sent_at + answer.duration;
  if (until <= now) return;  // the answer came too late to be of use
  renew_every_ = answer.duration / 3;
  fence_lead_ = answer.duration / 6;
  if (state_ == State::kMustFence) return;  // a lost lease is fenced first, then regained
  if (state_ == State::kFenced) want_unfence_ = true;
  if (!valid_until_ || *valid_until_ < until) valid_until_ = until;
  state_ = State::kHeld;
}

void LeaseKeeper::Failed(MonoTime sent_at, MonoTime now) {
  attempted_ = true;
  last_attempt_ = std::max(last_attempt_, sent_at);
  last_failed_ = true;
  (void)now;
}

void LeaseKeeper::FenceDone(bool ok, MonoTime now) {
  if (state_ != State::kMustFence && state_ != State::kHeld) return;
  if (ok) {
    state_ = State::kFenced;
    valid_until_.reset();
    want_unfence_ = false;
  } else {
    state_ = State::kMustFence;  // keep trying: it may be down, or come back
    fence_retry_at_ = now + options_.retry_every;
    valid_until_.reset();
  }
}

void LeaseKeeper::UnfenceDone(bool ok, MonoTime now) {
  if (ok) {
    want_unfence_ = false;
  } else {
    unfence_retry_at_ = now + options_.retry_every;
  }
}

const char* KeeperStateName(LeaseKeeper::State state) {
  switch (state) {
    case LeaseKeeper::State::kNoLease: return "no-lease";
    case LeaseKeeper::State::kHeld: return "held";
    case LeaseKeeper::State::kMustFence: return "must-fence";
    case LeaseKeeper::State::kFenced: return "fenced";
  }
  return "?";
}

const char* KeeperActionName(LeaseKeeper::Action action) {
  switch (action) {
    case LeaseKeeper::Action::kWait: return "wait";
    case LeaseKeeper::Action::kRenew: return "renew";
    case LeaseKeeper::Action::kFence: return "fence";
    case LeaseKeeper::Action::kUnfence: return "unfence";
  }
  return "?";
}

}  // namespace pilotlight::controller
