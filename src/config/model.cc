#include "config/model.h"

namespace pilotlight::config {

const char* RoleName(RegionRole role) {
  return role == RegionRole::kPrimary ? "primary" : "dr";
}

const RegionSpec& Config::Primary() const {
  for (const RegionSpec& r : regions) {
    if (r.role == RegionRole::kPrimary) return r;
  }
  return regions.front();
}

const RegionSpec& Config::Dr() const {
  for (const RegionSpec& r : regions) {
    if (r.role == RegionRole::kDr) return r;
  }
  return regions.back();
}

const RegionSpec* Config::FindRegion(const std::string& name) const {
  for (const RegionSpec& r : regions) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

const RunbookConfig* Config::FindRunbook(const std::string& name) const {
  for (const RunbookConfig& r : runbooks) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

std::string ListenAddress::ToString() const {
  const bool v6 = address.find(':') != std::string::npos;
  return (v6 ? "[" + address + "]" : address) + ":" + std::to_string(port);
}

std::string Config::ControllerSite() const {
  return controller.site.empty() ? "witness" : controller.site;
}

std::vector<ProbeAgentConfig> Config::ProbeAgents() const {
  if (!controller.probe_agents.empty()) return controller.probe_agents;
  ProbeAgentConfig dr;
  dr.site = Dr().name;
  dr.listen.address = Dr().address;
  dr.listen.port = kDefaultProbeAgentPort;
  return {dr};
}

}  // namespace pilotlight::config
