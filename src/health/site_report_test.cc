// SiteReport: a probe agent's observations, byte in / byte out.
#include "health/site_report.h"

#include <gtest/gtest.h>

namespace pilotlight::health {
namespace {

using namespace std::chrono_literals;

const WallTime kNow = WallTime(std::chrono::seconds(1'800'000'000));

std::vector<CheckState> States() {
  CheckState c;
  c.name = "primary-postgres";
  c.status = HealthStatus::kUnhealthy;
  VantageState dr;
  dr.name = "dr";
  dr.site = "dr";
  dr.threshold.status = HealthStatus::kUnhealthy;
  dr.last.ok = false;
  dr.last.detail = "timed out after 400ms; late";
  dr.last.timed_out_after = 400ms;
  dr.last.late = true;
  dr.last.lateness = 250ms;
  dr.last.at = kNow - 300ms;
  dr.late_probes = 4;
  VantageState fresh;  // never probed yet
  fresh.name = "dr-2";
  c.vantages = {dr, fresh};
  return {c};
}

TEST(SiteReportTest, RoundTripsEveryField) {
  const SiteReport made = MakeSiteReport("dr", States(), kNow);
  Result<SiteReport> back = ParseSiteReport(SiteReportJson(made));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->site, "dr");
  ASSERT_EQ(back->observations.size(), 2u);
  const SiteObservation* o = back->Find("primary-postgres", "dr");
  ASSERT_NE(o, nullptr);
  EXPECT_EQ(o->status, HealthStatus::kUnhealthy);
  EXPECT_EQ(o->verdict, ProbeVerdict::kLate);
  EXPECT_TRUE(o->late);
  EXPECT_EQ(o->age, 300ms);
  EXPECT_EQ(o->lateness, 250ms);
  EXPECT_EQ(o->late_probes, 4u);
  EXPECT_EQ(o->detail, "timed out after 400ms; late");
  const SiteObservation* never = back->Find("primary-postgres", "dr-2");
  ASSERT_NE(never, nullptr);
  EXPECT_EQ(never->site, "dr") << "a vantage point without a site is in the agent's";
  EXPECT_FALSE(never->age) << "no probe result yet: no age, so no vote";
  EXPECT_EQ(never->status, HealthStatus::kUnknown);
}

TEST(SiteReportTest, RejectsWhatIsNotAReport) {
  const char* bad[] = {
      "",
      "[]",
      "{\"site\": 3, \"observations\": []}",
      "{\"site\": \"dr\"}",
      "{\"site\": \"dr\", \"observations\": [1]}",
      "{\"site\": \"dr\", \"observations\": [{\"check\": \"c\", \"vantage\": \"v\", \"site\": "
      "\"dr\", \"status\": \"down\", \"verdict\": \"healthy\", \"detail\": \"\", \"age_ms\": 1}]}",
      "{\"site\": \"dr\", \"observations\": [{\"check\": \"c\", \"vantage\": \"v\", \"site\": "
      "\"dr\", \"status\": \"healthy\", \"verdict\": \"healthy\", \"detail\": \"\", \"age_ms\": "
      "-5}]}",
      "{\"site\": \"dr\", \"observations\": [{\"check\": \"c\", \"vantage\": \"v\", \"site\": "
      "\"dr\", \"status\": \"healthy\", \"verdict\": \"healthy\", \"detail\": \"\"}]}",
  };
  for (const char* text : bad) {
    Result<SiteReport> r = ParseSiteReport(text);
    EXPECT_FALSE(r.ok()) << text;
  }
}

}  // namespace
}  // namespace pilotlight::health
