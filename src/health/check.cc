#include "health/check.h"

#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include "core/duration.h"

namespace pilotlight::health {

const char* ProbeKindName(ProbeKind kind) {
  switch (kind) {
    case ProbeKind::kHttp:
      return "http";
    case ProbeKind::kTcp:
      return "tcp";
    case ProbeKind::kPostgres:
      return "postgres";
    case ProbeKind::kDns:
      return "dns";
    case ProbeKind::kCalculated:
      return "calculated";
  }
  return "?";
}

const char* HealthStatusName(HealthStatus status) {
  switch (status) {
    case HealthStatus::kUnknown:
      return "unknown";
    case HealthStatus::kHealthy:
      return "healthy";
    case HealthStatus::kUnhealthy:
      return "unhealthy";
  }
  return "?";
}

ProbeVerdict VerdictOf(const ProbeResult& r) {
  if (r.ok) return ProbeVerdict::kHealthy;
  if (r.late) return ProbeVerdict::kLate;
  return r.timed_out_after ? ProbeVerdict::kTimedOut : ProbeVerdict::kFailed;
}

const char* ProbeVerdictName(ProbeVerdict verdict) {
  switch (verdict) {
    case ProbeVerdict::kHealthy:
      return "healthy";
    case ProbeVerdict::kFailed:
      return "failed";
    case ProbeVerdict::kTimedOut:
      return "timed out";
    case ProbeVerdict::kLate:
      return "late";
  }
  return "?";
}

Duration LateTolerance(const CheckSpec& spec) {
  return std::max<Duration>(std::chrono::milliseconds(100), spec.timeout / 4);
}

bool IsLateProbe(const CheckSpec& spec, const ProbeResult& r) {
  if (r.ok || !r.timed_out_after) return false;
  const Duration tolerance = LateTolerance(spec);
  return r.lateness > tolerance || r.latency > *r.timed_out_after + tolerance;
}

std::vector<VantageSpec> EffectiveVantages(const CheckSpec& spec) {
  if (spec.kind == ProbeKind::kCalculated) return {};
  if (spec.vantages.empty()) return {VantageSpec{"local", "", 0, "", ""}};
  return spec.vantages;
}

int EffectiveQuorum(const CheckSpec& spec) {
  const int n = static_cast<int>(EffectiveVantages(spec).size());
  return spec.unhealthy_quorum > 0 ? spec.unhealthy_quorum : n / 2 + 1;
}

Status ValidateChecks(const std::vector<CheckSpec>& specs) {
  std::vector<std::string> errors;
  std::map<std::string, const CheckSpec*> by_name;
  for (size_t i = 0; i < specs.size(); ++i) {
    const CheckSpec& s = specs[i];
    const std::string where =
        "health_checks[" + std::to_string(i) + "]" + (s.name.empty() ? "" : " (" + s.name + ")");
    auto bad = [&](const std::string& field, const std::string& what) {
      errors.push_back(where + "." + field + ": " + what);
    };
    if (s.name.empty()) bad("name", "expected a non-empty name");
    if (!by_name.emplace(s.name, &s).second) bad("name", "duplicate check name '" + s.name + "'");
    if (s.kind == ProbeKind::kCalculated) {
      if (s.children.empty()) bad("children", "a calculated check needs at least one child");
      if (s.min_healthy_children < 0 ||
          s.min_healthy_children > static_cast<int>(s.children.size())) {
        bad("min_healthy", "expected 0..number of children (" +
                               std::to_string(s.children.size()) + "), found " +
                               std::to_string(s.min_healthy_children));
      }
      continue;
    }
    if (s.host.empty()) bad("host", "expected a host name or address");
    if (s.port == 0) bad("port", "expected a port 1-65535");
    if (s.interval < kMinInterval) {
      bad("interval", "expected at least 100ms, found " + FormatDuration(s.interval));
    }
    if (s.timeout <= Duration::zero() || s.timeout > s.interval) {
      bad("timeout", "expected more than 0 and at most the interval (" +
                         FormatDuration(s.interval) + "), found " + FormatDuration(s.timeout));
    }
    if (s.connect_timeout <= Duration::zero() || s.connect_timeout > s.timeout) {
      bad("connect_timeout", "expected more than 0 and at most the timeout, found " +
                                 FormatDuration(s.connect_timeout));
    }
    if (s.jitter < Duration::zero()) bad("jitter", "expected a duration >= 0");
    if (s.failure_threshold < 1) bad("failure_threshold", "expected at least 1");
    if (s.success_threshold < 1) bad("success_threshold", "expected at least 1");
    if (s.kind == ProbeKind::kHttp && (s.status_min < 100 || s.status_max > 599 ||
                                       s.status_min > s.status_max)) {
      bad("status", "expected 100 <= status_min <= status_max <= 599");
    }
    if (s.kind == ProbeKind::kHttp && (s.path.empty() || s.path[0] != '/')) {
      bad("path", "expected a path starting with '/'");
    }
    if (s.kind == ProbeKind::kHttp && s.body_contains.size() > kHttpBodySearchBytes) {
      bad("body_contains", "expected at most 5120 bytes");
    }
    if (s.kind == ProbeKind::kDns && s.dns_name.empty()) bad("name", "expected a DNS name");
    const int n = static_cast<int>(EffectiveVantages(s).size());
    if (s.unhealthy_quorum < 0 || s.unhealthy_quorum > n) {
      bad("unhealthy_quorum", "expected 0 (majority) to " + std::to_string(n) + ", found " +
                                  std::to_string(s.unhealthy_quorum));
    }
    std::set<std::string> vantage_names;
    for (const VantageSpec& v : s.vantages) {
      if (v.name.empty() || !vantage_names.insert(v.name).second) {
        bad("vantages", "expected unique non-empty vantage names, found '" + v.name + "'");
      }
    }
  }
  // Children exist, and calculated checks form no cycle.
  for (const CheckSpec& s : specs) {
    if (s.kind != ProbeKind::kCalculated) continue;
    for (const std::string& c : s.children) {
      if (by_name.count(c) == 0) {
        errors.push_back("health_checks (" + s.name + ").children: no check named '" + c + "'");
      }
    }
  }
  std::map<std::string, int> mark;  // 1 = visiting, 2 = done
  std::function<bool(const std::string&)> cyclic = [&](const std::string& name) {
    auto it = by_name.find(name);
    if (it == by_name.end()) return false;
    if (mark[name] == 1) return true;
    if (mark[name] == 2) return false;
    mark[name] = 1;
    for (const std::string& c : it->second->children) {
      if (cyclic(c)) return true;
    }
    mark[name] = 2;
    return false;
  };
  for (const CheckSpec& s : specs) {
    if (s.kind == ProbeKind::kCalculated && cyclic(s.name)) {
      errors.push_back("health_checks (" + s.name + ").children: calculated checks form a cycle");
      break;
    }
  }
  if (errors.empty()) return Status::OK();
  std::string msg = std::to_string(errors.size()) + " error(s) in health checks:";
  for (const std::string& e : errors) msg += "\n  " + e;
  return Status::InvalidArgument(msg);
}

}  // namespace pilotlight::health
