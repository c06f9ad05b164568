#include "health/site_report.h"

#include <nlohmann/json.hpp>

#include "core/duration.h"

namespace pilotlight::health {

using json = nlohmann::json;

namespace {

double Ms(Duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

Duration FromMs(double ms) {
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double, std::milli>(ms));
}

std::optional<HealthStatus> StatusNamed(const std::string& name) {
  for (HealthStatus s : {HealthStatus::kUnknown, HealthStatus::kHealthy, HealthStatus::kUnhealthy}) {
    if (name == HealthStatusName(s)) return s;
  }
  return std::nullopt;
}

std::optional<ProbeVerdict> VerdictNamed(const std::string& name) {
  for (ProbeVerdict v : {ProbeVerdict::kHealthy, ProbeVerdict::kFailed, ProbeVerdict::kTimedOut,
                         ProbeVerdict::kLate}) {
    if (name == ProbeVerdictName(v)) return v;
  }
  return std::nullopt;
}

}  // namespace

const SiteObservation* SiteReport::Find(const std::string& check,
                                        const std::string& vantage) const {
  for (const SiteObservation& o : observations) {
    if (o.check == check && o.vantage == vantage) return &o;
  }
  return nullptr;
}

SiteReport MakeSiteReport(const std::string& site, const std::vector<CheckState>& checks,
                          WallTime now) {
  SiteReport r;
  r.site = site;
  r.at = FormatTime(now);
  for (const CheckState& c : checks) {
    for (const VantageState& v : c.vantages) {
      SiteObservation o;
      o.check = c.name;
      o.vantage = v.name;
      o.site = v.site.empty() ? site : v.site;
      o.status = v.threshold.status;
      const bool probed = v.last.at != WallTime{};
      o.verdict = VerdictOf(v.last);
      o.detail = probed ? v.last.detail : "no probe result yet";
      if (probed) {
        o.probed_at = FormatTime(v.last.at);
        o.age = now > v.last.at ? now - v.last.at : Duration(0);
      }
      o.lateness = v.last.lateness;
      o.late = v.last.late;
      o.late_probes = v.late_probes;
      r.observations.push_back(std::move(o));
    }
  }
  return r;
}

std::string SiteReportJson(const SiteReport& r) {
  json out = {{"site", r.site}, {"at", r.at}, {"observations", json::array()}};
  for (const SiteObservation& o : r.observations) {
    out["observations"].push_back({{"check", o.check},
                                   {"vantage", o.vantage},
                                   {"site", o.site},
                                   {"status", HealthStatusName(o.status)},
                                   {"verdict", ProbeVerdictName(o.verdict)},
                                   {"detail", o.detail},
                                   {"probed_at", o.probed_at},
                                   {"age_ms", o.age ? json(Ms(*o.age)) : json(nullptr)},
                                   {"lateness_ms", Ms(o.lateness)},
                                   {"late", o.late},
                                   {"late_probes", o.late_probes}});
  }
  return out.dump();
}

Result<SiteReport> ParseSiteReport(std::string_view text) {
  const json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  auto bad = [](const std::string& what) {
    return Status::InvalidArgument("not a probe agent's report: " + what);
  };
  if (!j.is_object()) return bad("expected a JSON object");
  if (!j.contains("site") || !j["site"].is_string()) return bad("\"site\" must be a string");
  if (!j.contains("observations") || !j["observations"].is_array()) {
    return bad("\"observations\" must be an array");
  }
  SiteReport r;
  r.site = j["site"].get<std::string>();
  if (j.contains("at") && j["at"].is_string()) r.at = j["at"].get<std::string>();
  for (size_t i = 0; i < j["observations"].size(); ++i) {
    const json& o = j["observations"][i];
    const std::string at = "observations[" + std::to_string(i) + "]";
    if (!o.is_object()) return bad(at + " must be an object");
    for (const char* key : {"check", "vantage", "site", "status", "verdict", "detail"}) {
      if (!o.contains(key) || !o[key].is_string()) {
        return bad(at + "." + key + " must be a string");
      }
    }
    SiteObservation s;
    s.check = o["check"].get<std::string>();
    s.vantage = o["vantage"].get<std::string>();
    s.site = o["site"].get<std::string>();
    const std::optional<HealthStatus> status = StatusNamed(o["status"].get<std::string>());
    if (!status) return bad(at + ".status must be unknown, healthy or unhealthy");
    s.status = *status;
    const std::optional<ProbeVerdict> verdict = VerdictNamed(o["verdict"].get<std::string>());
    if (!verdict) return bad(at + ".verdict must be healthy, failed, timed out or late");
    s.verdict = *verdict;
    s.detail = o["detail"].get<std::string>();
    if (o.contains("probed_at") && o["probed_at"].is_string()) {
      s.probed_at = o["probed_at"].get<std::string>();
    }
    if (!o.contains("age_ms") || !(o["age_ms"].is_null() || o["age_ms"].is_number())) {
      return bad(at + ".age_ms must be a number or null");
    }
    if (o["age_ms"].is_number()) {
      const double ms = o["age_ms"].get<double>();
      if (!(ms >= 0) || ms > 1e12) return bad(at + ".age_ms must be a non-negative number");
      s.age = FromMs(ms);
    }
    if (o.contains("lateness_ms") && o["lateness_ms"].is_number()) {
      s.lateness = FromMs(o["lateness_ms"].get<double>());
    }
    if (o.contains("late") && o["late"].is_boolean()) s.late = o["late"].get<bool>();
    if (o.contains("late_probes") && o["late_probes"].is_number_unsigned()) {
      s.late_probes = o["late_probes"].get<uint64_t>();
    }
    r.observations.push_back(std::move(s));
  }
  return r;
}

}  // namespace pilotlight::health
