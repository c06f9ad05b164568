#include "compute/lab_node_groups.h"

#include <unistd.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "lab/lab.h"
#include "trader/http_client.h"

namespace pilotlight::compute {

using namespace std::chrono_literals;

LabNodeGroups::LabNodeGroups(config::Config config, std::string lab_dir, std::string self_exe,
                             Clock& clock)
    : config_(std::move(config)), lab_dir_(std::move(lab_dir)), self_exe_(std::move(self_exe)),
      clock_(clock), lab_(std::make_unique<lab::Lab>(config_, lab_dir_, self_exe_)) {}

LabNodeGroups::~LabNodeGroups() = default;

Result<std::pair<const config::RegionSpec*, const config::NodeGroupSpec*>> LabNodeGroups::Find(
    const std::string& region, const std::string& group) const {
  const config::RegionSpec* r = config_.FindRegion(region);
  if (r == nullptr) return Status::NotFound("no region named '" + region + "' in " + config_.file);
  for (const config::NodeGroupSpec& g : r->node_groups) {
    if (g.name == group) return std::make_pair(r, &g);
  }
  return Status::NotFound("region " + region + " has no node group named '" + group + "' in " +
                          config_.file);
}

Result<int> LabNodeGroups::Size(const std::string& region, const std::string& group) {
  auto found = Find(region, group);
  if (!found.ok()) return found.status();
  return lab_->DesiredSize(*found->first, *found->second);
}

Status LabNodeGroups::SetSize(const std::string& region, const std::string& group, int size) {
  return lab_->ScaleNodeGroup(region, group, size);
}

Result<GroupReadiness> LabNodeGroups::Readiness(const std::string& region,
                                                const std::string& group, ReadyWhen when,
                                                MonoTime deadline) {
  auto found = Find(region, group);
  if (!found.ok()) return found.status();
  const config::RegionSpec& r = *found->first;
  const config::NodeGroupSpec& g = *found->second;
  GroupReadiness out;
  out.desired = lab_->DesiredSize(r, g);
  std::set<std::string> wanted;
  for (int i = 1; i <= out.desired; ++i) wanted.insert(g.name + "-" + std::to_string(i));
  std::set<std::string> up;
  std::map<std::string, std::string> last_word;  // instance (or "connect") -> what it said
  trader::HttpClient client(r.address, g.port, 1s);
  while (up.size() < wanted.size()) {
    // A fresh connection per request, so the kernel may pick another instance.
    client.Close();
    Result<trader::HttpResult> res = client.Request("GET", "/readyz");
    if (!res.ok()) {
      last_word["connect"] = res.status().message();
    } else {
      nlohmann::json j = nlohmann::json::parse(res->body, nullptr, /*allow_exceptions=*/false);
      if (j.is_object() && j.contains("instance") && j["instance"].is_string()) {
        const std::string name = j["instance"].get<std::string>();
        const bool ready = res->status == 200;
        if (wanted.count(name) && (ready || when == ReadyWhen::kAnswering)) {
          up.insert(name);
          last_word.erase(name);
        } else if (wanted.count(name)) {
          last_word[name] = j.value("message", "HTTP " + std::to_string(res->status));
        }
      } else {
        last_word["reply"] = "HTTP " + std::to_string(res->status) + " without an instance name";
      }
    }
    if (up.size() >= wanted.size() || clock_.Monotonic() >= deadline) break;
    clock_.SleepFor(20ms);  // polling the instances, bounded by the deadline
  }
  out.up.assign(up.begin(), up.end());
  for (const std::string& name : wanted) {
    if (up.count(name) == 0 && last_word.count(name) == 0) last_word[name] = "not heard from";
  }
  for (const auto& [who, said] : last_word) {
    if (who == "connect" || who == "reply" || (wanted.count(who) && !up.count(who))) {
      out.detail += (out.detail.empty() ? "" : "; ") + who + ": " + said;
    }
  }
  return out;
}

Status LabNodeGroups::CanScale(const std::string& region, const std::string& group) {
  auto found = Find(region, group);
  if (!found.ok()) return found.status();
  if (!std::filesystem::exists(lab_dir_ + "/config.yaml")) {
    return Status::FailedPrecondition("no lab in " + lab_dir_ + ": run `pilotlight lab up`");
  }
  if (access(self_exe_.c_str(), X_OK) != 0) {
    return Status::FailedPrecondition("the instance binary " + self_exe_ + " is not executable");
  }
  if (found->second->production_size <= 0) {
    return Status::FailedPrecondition("node group " + group + " has production_size 0");
  }
  return Status::OK();
}

}  // namespace pilotlight::compute
