#include "controller/autoscaler.h"

#include "core/log.h"

namespace pilotlight::controller {

compute::ScalingPolicy PolicyOf(const config::ScalingConfig& s) {
  compute::ScalingPolicy p;
  p.min_size = s.min;
  p.max_size = s.max;
  p.target_requests_per_instance = s.target_requests_per_instance;
  p.scale_down_stabilization = s.scale_down_stabilization;
  return p;
}

Autoscaler::Autoscaler(const ControllerSpec& spec, compute::NodeGroups& groups,
                       compute::GroupLoadSource& load)
    : spec_(spec), groups_(groups), load_(load) {
  for (const config::ScalingConfig& s : spec.compute.scaling) {
    policies_.emplace_back(s.group, PolicyOf(s));
  }
}

std::vector<GroupScaling> Autoscaler::Step(const DurableState& durable,
                                           const std::string& runbook_running, bool observe_only,
                                           WallTime now,
                                           const std::function<Status()>& before_change) {
  std::optional<Status> may_change;  // before_change's answer, asked once
  using Phase = decide::ControllerState::Phase;
  const Phase phase = durable.state.phase;
  std::string running = runbook_running;
  if (running.empty() && phase == Phase::kFailingOver) running = "an unfinished failover run";
  std::vector<GroupScaling> out;
  for (const auto& [group, policy] : policies_) {
    for (const std::string& region : {spec_.primary_region, spec_.dr_region}) {
      if (spec_.FindNodeGroup(region, group) == nullptr) continue;
      GroupScaling g;
      g.region = region;
      g.group = group;
      g.policy = policy;
      Memory& mem = memory_[{region, group}];
      compute::ScaleInput in;
      in.region = region;
      in.group = group;
      const bool primary = region == spec_.primary_region;
      in.serving =
          (phase == Phase::kNormal && primary) || (phase == Phase::kFailedOver && !primary);
      in.not_serving = primary ? "failed over to " + spec_.dr_region : "DR in pilot light";
      if (phase == Phase::kFailingOver) in.not_serving = "failing over to " + spec_.dr_region;
      in.runbook_running = running;
      if (in.serving && running.empty()) {
        Result<int> size = groups_.Size(region, group);
        if (size.ok()) {
          in.current = *size;
          Result<compute::GroupLoad> load = load_.Load(region, group, now);
          if (load.ok()) {
            in.requests_per_second = load->requests_per_second;
            g.requests_per_second = load->requests_per_second;
            g.instances_reporting = load->instances_reporting;
            g.load_source = load->source;
          } else {
            in.load_problem = load.status().message();
          }
        } else {
          g.error = size.status().message();
          in.load_problem = "size unknown: " + g.error;
        }
      }
      const compute::ScaleStep step = compute::DecideScale(policy, in, mem.scale, now);
      mem.scale = step.memory;
      g.decision = step.decision;
      if (g.decision.action != compute::ScaleAction::kNone) {
        if (observe_only) {
          g.decision.reason = "observe-only: would " + g.decision.reason;
          // Said once per proposed change, not every cycle.
          const std::string would =
              std::to_string(g.decision.from) + "->" + std::to_string(g.decision.to);
          if (would != mem.last_would) {
            LogInfo(g.decision.reason);
            g.changed = true;
            mem.last_would = would;
            mem.last_change_at = now;
            mem.last_change = g.decision.reason;
          }
        } else {
          if (!may_change) may_change = before_change ? before_change() : Status::OK();
          Status st =
              may_change->ok() ? groups_.SetSize(region, group, g.decision.to) : *may_change;
          if (st.ok()) {
            g.applied = true;
            g.changed = true;
            mem.last_change_at = now;
            mem.last_change = g.decision.reason;
            LogInfo(g.decision.reason);
          } else {
            g.error = st.message();
            LogWarn(g.decision.reason + ": FAILED: " + g.error);
          }
        }
      }
      if (g.decision.action == compute::ScaleAction::kNone) mem.last_would.clear();
      g.last_change_at = mem.last_change_at;
      g.last_change = mem.last_change;
      out.push_back(std::move(g));
    }
  }
  return out;
}

}  // namespace pilotlight::controller
