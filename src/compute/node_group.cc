#include "compute/node_group.h"

#include <cmath>

namespace pilotlight::compute {

int DesiredSize(const ScalingPolicy& policy, double requests_per_second) {
  const int lo = std::max(0, policy.min_size);
  const int hi = std::max(lo, policy.max_size);
  if (policy.target_requests_per_instance <= 0 || !(requests_per_second > 0)) return lo;
  const double want = std::ceil(requests_per_second / policy.target_requests_per_instance);
  if (want >= hi) return hi;
  return std::max(lo, static_cast<int>(want));
}

Result<int> ResolveSize(const NodeGroupSpec& group, const std::string& size) {
  if (size == "production") return group.production_size;
  if (size == "pilot_light" || size == "pilot-light") return group.pilot_light_size;
  if (size.empty() || size.size() > 6 || size.find_first_not_of("0123456789") != std::string::npos) {
    return Status::InvalidArgument("node group " + group.name + ": size \"" + size +
                                   "\": expected production, pilot_light or a whole number");
  }
  return std::stoi(size);
}

const char* ReadyWhenName(ReadyWhen when) {
  return when == ReadyWhen::kReady ? "ready" : "answering";
}

Result<ReadyWhen> ParseReadyWhen(const std::string& text) {
  if (text.empty() || text == "ready") return ReadyWhen::kReady;
  if (text == "answering") return ReadyWhen::kAnswering;
  return Status::InvalidArgument("until \"" + text + "\": expected ready or answering");
}

Status ScaleAndWait(NodeGroups& groups, const std::string& region, const std::string& group,
                    int size, ReadyWhen when, MonoTime deadline) {
  Result<int> current = groups.Size(region, group);
  if (!current.ok()) return current.status();
  if (*current != size) PL_RETURN_IF_ERROR(groups.SetSize(region, group, size));
  Result<GroupReadiness> r = groups.Readiness(region, group, when, deadline);
  if (!r.ok()) return r.status();
  if (r->AllUp()) return Status::OK();
  return Status::Timeout("node group " + group + " of region " + region + ": " +
                         std::to_string(r->up.size()) + " of " + std::to_string(r->desired) +
                         " instances " + ReadyWhenName(when) + " by the deadline" +
                         (r->detail.empty() ? "" : " (" + r->detail + ")"));
}

std::vector<NodeGroupSpec> NodeGroupsOf(const config::Config& config) {
  std::vector<NodeGroupSpec> out;
  for (const config::RegionSpec& r : config.regions) {
    for (const config::NodeGroupSpec& g : r.node_groups) {
      NodeGroupSpec s;
      s.region = r.name;
      s.name = g.name;
      s.pilot_light_size = g.pilot_light_size;
      s.production_size = g.production_size;
      s.scaling.min_size = g.pilot_light_size;
      s.scaling.max_size = std::max(g.production_size, g.pilot_light_size);
      out.push_back(s);
    }
  }
  return out;
}

}  // namespace pilotlight::compute
