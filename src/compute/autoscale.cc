#include "compute/autoscale.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace pilotlight::compute {
namespace {

// "412 req/s", "3.5 req/s": a decimal only where it matters.
std::string Rate(double rps) {
  char buf[48];
  std::snprintf(buf, sizeof buf, rps >= 10 || rps == std::floor(rps) ? "%.0f req/s" : "%.1f req/s",
                rps);
  return buf;
}

std::string Num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, v == std::floor(v) ? "%.0f" : "%.1f", v);
  return buf;
}

std::string Secs(Duration d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", std::chrono::duration<double>(d).count());
  return buf;
}

std::string Instances(int n) { return std::to_string(n) + (n == 1 ? " instance" : " instances"); }

}  // namespace

const char* ScaleActionName(ScaleAction action) {
  switch (action) {
    case ScaleAction::kNone:
      return "none";
    case ScaleAction::kScaleUp:
      return "scale-up";
    case ScaleAction::kScaleDown:
      return "scale-down";
  }
  return "?";
}

ScaleStep DecideScale(const ScalingPolicy& policy, const ScaleInput& in, const ScaleMemory& memory,
                      WallTime now) {
  ScaleStep step;
  ScaleDecision& d = step.decision;
  d.from = d.to = d.recommended = in.current;
  const std::string what = in.group + " in " + in.region;
  if (!in.serving) {
    d.reason = "not auto-scaled: " + what + " does not serve traffic" +
               (in.not_serving.empty() ? "" : " (" + in.not_serving + ")");
    return step;  // memory cleared: a new series starts when it serves
  }
  if (!in.runbook_running.empty()) {
    d.reason = "hold " + what + " at " + std::to_string(in.current) + ": " + in.runbook_running +
               " is running; the size it set stands";
    return step;
  }
  d.active = true;
  step.memory = memory;
  if (!in.requests_per_second) {
    d.reason = "hold " + what + " at " + std::to_string(in.current) + ": load unknown" +
               (in.load_problem.empty() ? "" : " (" + in.load_problem + ")");
    return step;
  }
  const double rps = std::max(0.0, *in.requests_per_second);
  const int lo = std::max(0, policy.min_size);
  const int hi = std::max(lo, policy.max_size);
  int rec = DesiredSize(policy, rps);
  // Within tolerance of the target per instance: the current size is right.
  if (in.current >= lo && in.current <= hi && in.current > 0 &&
      policy.target_requests_per_instance > 0) {
    const double ratio = rps / (in.current * policy.target_requests_per_instance);
    if (std::fabs(ratio - 1.0) <= policy.tolerance) rec = in.current;
  }
  d.recommended = rec;

  ScaleMemory& m = step.memory;
  if (!m.since) m.since = now;
  m.recommendations.emplace_back(now, rec);
  const WallTime from = now - policy.scale_down_stabilization;
  while (!m.recommendations.empty() && m.recommendations.front().first < from) {
    m.recommendations.pop_front();
  }
  const std::string load = Rate(rps) + " over " + Instances(in.current) + ", target " +
                           Num(policy.target_requests_per_instance) + "/instance";
  auto scale = [&](ScaleAction action, int to, const std::string& why) {
    d.action = action;
    d.to = to;
    d.reason = "scale " + what + " " + std::to_string(in.current) + " -> " + std::to_string(to) +
               ": " + why;
  };
  if (in.current < lo) {
    scale(ScaleAction::kScaleUp, std::max(lo, rec),
          load + "; below the minimum " + std::to_string(lo));
    return step;
  }
  if (in.current > hi) {
    scale(ScaleAction::kScaleDown, hi, load + "; above the maximum " + std::to_string(hi));
    return step;
  }
  if (rec > in.current) {
    scale(ScaleAction::kScaleUp, rec, load);
    return step;
  }
  if (rec < in.current) {
    int stabilized = rec;
    for (const auto& [at, r] : m.recommendations) stabilized = std::max(stabilized, r);
    const Duration collected = now - *m.since;
    if (collected >= policy.scale_down_stabilization && stabilized < in.current) {
      scale(ScaleAction::kScaleDown, stabilized,
            load + "; at most " + std::to_string(stabilized) + " wanted for the last " +
                Secs(policy.scale_down_stabilization));
      return step;
    }
    // Wait until the highest recommendation still in the window ages out.
    Duration left = policy.scale_down_stabilization - collected;
    for (const auto& [at, r] : m.recommendations) {
      if (r >= in.current) left = std::max(left, at + policy.scale_down_stabilization - now);
    }
    d.reason = "hold " + what + " at " + std::to_string(in.current) + ": " + load + " wants " +
               std::to_string(rec) + "; scale-down once that holds for " +
               Secs(policy.scale_down_stabilization) + " (" + Secs(left) + " more)";
    return step;
  }
  d.reason = "steady " + what + " at " + std::to_string(in.current) + ": " + load;
  return step;
}

}  // namespace pilotlight::compute
