// SiteReport: what a probe agent (`pilotlight probe run --site S`) serves about
// its site's view of the checks, and what the controller reads back as that
// site's votes: for each (check, vantage point) the status after thresholds,
// the verdict and detail of the last probe, how old that probe result is and how
// late it started.
//
// The age is measured on the agent's own clock when the report is made, so
// the controller never compares clocks of two sites; it adds the time its fetch
// took. Wire format (JSON):
//   {"site": "dr", "at": "2026-...Z", "observations": [{"check": "primary-postgres",
//    "vantage": "dr", "site": "dr", "status": "healthy", "verdict": "healthy",
//    "detail": "SELECT 1 ok (primary)", "probed_at": "2026-...Z", "age_ms": 120.0,
//    "lateness_ms": 2.5, "late": false, "late_probes": 0}]}
// "age_ms" is null before the first probe result. Pure values and functions:
// thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "health/health_book.h"

namespace pilotlight::health {

struct SiteObservation {
  std::string check;
  std::string vantage;
  std::string site;
  HealthStatus status = HealthStatus::kUnknown;  // after thresholds
  ProbeVerdict verdict = ProbeVerdict::kFailed;  // of the last probe
  std::string detail;                            // of the last probe
  std::string probed_at;                         // FormatTime of the last probe; "" before one
  std::optional<Duration> age;                   // of the last probe, when the report was made
  Duration lateness{};                           // the last probe's scheduling lateness
  bool late = false;                             // the last probe was inconclusive
  uint64_t late_probes = 0;
};

struct SiteReport {
  std::string site;
  std::string at;  // FormatTime when it was made
  std::vector<SiteObservation> observations;
  // The observation of `check` from `vantage`, or null.
  const SiteObservation* Find(const std::string& check, const std::string& vantage) const;
};

// The report of `site` from the agent's check states at `now`. A vantage point
// without a site is reported as in `site`.
SiteReport MakeSiteReport(const std::string& site, const std::vector<CheckState>& checks,
                          WallTime now);

std::string SiteReportJson(const SiteReport& report);
// Rejects anything but the format above, saying which field is wrong.
Result<SiteReport> ParseSiteReport(std::string_view json);

}  // namespace pilotlight::health
