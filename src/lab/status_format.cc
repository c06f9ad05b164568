// Status rendering: the only translation unit of the lab that includes nlohmann/json.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "lab/lab.h"

namespace pilotlight::lab {
namespace {

template <typename T>
nlohmann::json OrNull(const std::optional<T>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

std::string Bytes(const std::optional<int64_t>& v) {
  return v ? std::to_string(*v) + " B" : "?";
}

std::string Seconds(const std::optional<double>& v) {
  if (!v) return "?";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f s", *v);
  return buf;
}

}  // namespace

std::string FormatStatusJson(const LabStatus& st) {
  nlohmann::json j;
  j["dir"] = st.dir;
  j["config"] = st.config_file;
  j["all_up"] = st.all_up;
  j["regions"] = nlohmann::json::array();
  for (const RegionStatus& r : st.regions) {
    nlohmann::json region;
    region["name"] = r.name;
    region["role"] = r.role;
    region["buckets"] = r.buckets;
    region["components"] = nlohmann::json::array();
    for (const ComponentStatus& c : r.components) {
      region["components"].push_back({{"name", c.name},
                                       {"address", c.address},
                                       {"up", c.up},
                                       {"pid", c.pid},
                                       {"detail", c.detail}});
    }
    j["regions"].push_back(region);
  }
  j["site"] = {{"components", nlohmann::json::array()}};
  for (const ComponentStatus& c : st.site) {
    j["site"]["components"].push_back(
        {{"name", c.name}, {"address", c.address}, {"up", c.up}, {"pid", c.pid},
         {"detail", c.detail}});
  }
  const pg::ReplicationStatus& rep = st.replication;
  j["replication"] = {
      {"primary_reachable", rep.primary_reachable},
      {"standby_reachable", rep.standby_reachable},
      {"standby_in_recovery", rep.standby_in_recovery},
      {"streaming", rep.streaming},
      {"state", rep.state},
      {"write_lag_bytes", OrNull(rep.write_lag_bytes)},
      {"flush_lag_bytes", OrNull(rep.flush_lag_bytes)},
      {"replay_lag_bytes", OrNull(rep.replay_lag_bytes)},
      {"replay_lag_seconds", OrNull(rep.replay_lag_seconds)},
      {"heartbeat_age_seconds", OrNull(rep.heartbeat_age_seconds)},
      {"standby_timeline", OrNull(rep.standby_timeline)},
      {"problem", rep.problem},
  };
  return j.dump(2) + "\n";
}

std::string FormatStatusText(const LabStatus& st) {
  std::string out = "lab " + st.dir + " (config " + st.config_file + ")\n\n";
  char line[256];
  std::snprintf(line, sizeof line, "%-10s %-8s %-11s %-22s %-8s %s\n", "REGION", "ROLE",
                "COMPONENT", "ADDRESS", "PID", "STATE");
  out += line;
  for (const RegionStatus& r : st.regions) {
    for (const ComponentStatus& c : r.components) {
      std::snprintf(line, sizeof line, "%-10s %-8s %-11s %-22s %-8s %s\n", r.name.c_str(),
                    r.role.c_str(), c.name.c_str(), c.address.empty() ? "-" : c.address.c_str(),
                    c.up ? std::to_string(c.pid).c_str() : "-",
                    c.up ? ("up" + (c.detail.empty() ? "" : ", " + c.detail)).c_str()
                         : c.detail.c_str());
      out += line;
    }
  }
  for (const ComponentStatus& c : st.site) {
    std::snprintf(line, sizeof line, "%-10s %-8s %-11s %-22s %-8s %s\n", "site", "-",
                  c.name.c_str(), c.address.c_str(), c.up ? std::to_string(c.pid).c_str() : "-",
                  c.up ? "up" : c.detail.c_str());
    out += line;
  }
  const pg::ReplicationStatus& rep = st.replication;
  out += "\nreplication (PostgreSQL, primary -> dr)\n";
  out += "  streaming:    " + std::string(rep.streaming ? "yes" : "no") +
         (rep.state.empty() ? "" : " (" + rep.state + ")") + "\n";
  out += "  lag bytes:    write " + Bytes(rep.write_lag_bytes) + ", flush " +
         Bytes(rep.flush_lag_bytes) + ", replay " + Bytes(rep.replay_lag_bytes) + "\n";
  out += "  replay lag:   " + Seconds(rep.replay_lag_seconds) + "\n";
  out += "  heartbeat age on standby: " + Seconds(rep.heartbeat_age_seconds) + "\n";
  if (!rep.problem.empty()) out += "  note: " + rep.problem + "\n";
  return out;
}

}  // namespace pilotlight::lab
