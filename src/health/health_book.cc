#include "health/health_book.h"

#include <algorithm>
#include <functional>

#include "health/quorum.h"

namespace pilotlight::health {
namespace {

std::string Plural(int n, const char* word) {
  return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

}  // namespace

Result<HealthBook> HealthBook::Create(std::vector<CheckSpec> specs, size_t history_limit) {
  PL_RETURN_IF_ERROR(ValidateChecks(specs));
  HealthBook book;
  book.history_limit_ = history_limit;
  book.specs_ = std::move(specs);
  const size_t n = book.specs_.size();
  book.states_.resize(n);
  book.quorum_.resize(n);
  book.children_.resize(n);
  book.parents_.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const CheckSpec& s = book.specs_[i];
    CheckState& st = book.states_[i];
    st.name = s.name;
    st.kind = s.kind;
    st.reason = "no probe result yet";
    for (const VantageSpec& v : EffectiveVantages(s)) {
      VantageState vs;
      vs.name = v.name;
      vs.site = v.site;
      st.vantages.push_back(std::move(vs));
    }
    book.quorum_[i] = EffectiveQuorum(s);
    for (const std::string& c : s.children) {
      const size_t ci = static_cast<size_t>(book.Find(c));
      book.children_[i].push_back(ci);
      book.parents_[ci].push_back(i);
    }
  }
  // Children before parents (validation has ruled out cycles).
  std::vector<bool> placed(n, false);
  std::function<void(size_t)> place = [&](size_t i) {
    if (placed[i]) return;
    placed[i] = true;
    for (size_t c : book.children_[i]) place(c);
    if (book.specs_[i].kind == ProbeKind::kCalculated) book.calculated_order_.push_back(i);
  };
  for (size_t i = 0; i < n; ++i) place(i);
  return book;
}

int HealthBook::Find(const std::string& name) const {
  for (size_t i = 0; i < specs_.size(); ++i) {
    if (specs_[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

void HealthBook::Emit(CheckTransition t, std::vector<CheckTransition>& out) {
  history_.push_back(t);
  while (history_.size() > history_limit_) history_.pop_front();
  out.push_back(std::move(t));
}

std::vector<CheckTransition> HealthBook::Record(size_t check, size_t vantage,
                                                const ProbeResult& result, WallTime now) {
  std::vector<CheckTransition> out;
  const CheckSpec& spec = specs_[check];
  CheckState& state = states_[check];
  VantageState& v = state.vantages[vantage];
  v.last = result;
  if (result.late) {
    // Our own checker was too slow to judge: not evidence about the target.
    ++v.late_probes;
    return out;
  }
  v.recent.push_back(result);
  const size_t keep =
      static_cast<size_t>(std::max(spec.failure_threshold, spec.success_threshold));
  while (v.recent.size() > keep) v.recent.pop_front();

  const HealthStatus before = v.threshold.status;
  const ThresholdOutcome outcome =
      ApplyProbe(v.threshold, result.ok, {spec.failure_threshold, spec.success_threshold});
  if (outcome != ThresholdOutcome::kChanged) return out;

  CheckTransition vt;
  vt.check = spec.name;
  vt.vantage = v.name;
  vt.from = before;
  vt.to = v.threshold.status;
  vt.at = now;
  const int count = result.ok ? v.threshold.consecutive_successes
                              : v.threshold.consecutive_failures;
  vt.reason = Plural(count, result.ok ? "consecutive success" : "consecutive failure") +
              " (threshold " +
              std::to_string(result.ok ? spec.success_threshold : spec.failure_threshold) +
              "): " + result.detail;
  vt.evidence.assign(v.recent.end() - std::min<size_t>(count, v.recent.size()), v.recent.end());
  Emit(std::move(vt), out);

  std::vector<HealthStatus> statuses;
  for (const VantageState& vs : state.vantages) statuses.push_back(vs.threshold.status);
  Combined combined = QuorumStatus(statuses, quorum_[check]);
  if (combined.status != state.status) {
    CheckTransition ct;
    ct.check = spec.name;
    ct.from = state.status;
    ct.to = combined.status;
    ct.at = now;
    ct.reason = combined.reason;
    for (const VantageState& vs : state.vantages) {
      ct.reason += "; " + vs.name + ": " + HealthStatusName(vs.threshold.status);
      if (vs.threshold.status != HealthStatus::kUnknown) ct.reason += " (" + vs.last.detail + ")";
      ct.evidence.push_back(vs.last);
    }
    state.status = combined.status;
    state.since = now;
    state.reason = ct.reason;
    Emit(std::move(ct), out);
    Recalculate(check, now, out);
  } else {
    state.reason = combined.reason;
  }
  return out;
}

void HealthBook::Recalculate(size_t changed, WallTime now, std::vector<CheckTransition>& out) {
  std::vector<bool> affected(specs_.size(), false);
  std::vector<size_t> stack = {changed};
  while (!stack.empty()) {
    const size_t i = stack.back();
    stack.pop_back();
    for (size_t p : parents_[i]) {
      if (!affected[p]) {
        affected[p] = true;
        stack.push_back(p);
      }
    }
  }
  for (size_t parent : calculated_order_) {
    if (!affected[parent]) continue;
    const CheckSpec& spec = specs_[parent];
    CheckState& state = states_[parent];
    std::vector<HealthStatus> statuses;
    for (size_t c : children_[parent]) statuses.push_back(states_[c].status);
    const int need = spec.min_healthy_children > 0 ? spec.min_healthy_children
                                                   : static_cast<int>(statuses.size());
    Combined combined = CalculatedStatus(statuses, need, spec.inverted);
    if (combined.status == state.status) {
      state.reason = combined.reason;
      continue;
    }
    CheckTransition t;
    t.check = spec.name;
    t.from = state.status;
    t.to = combined.status;
    t.at = now;
    t.reason = combined.reason + " after " + states_[changed].name + " became " +
               HealthStatusName(states_[changed].status);
    state.status = combined.status;
    state.since = now;
    state.reason = t.reason;
    Emit(std::move(t), out);
  }
}

}  // namespace pilotlight::health
