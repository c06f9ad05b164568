#include "drill/report_html.h"

#include <gtest/gtest.h>

#include <regex>
#include <vector>

namespace pilotlight::drill {
namespace {

WallTime T(const std::string& s) { return *ParseTime(s); }

Ack MakeAck(const std::string& cid, int64_t id, const std::string& at, const std::string& region) {
  return {cid, id, T(at), region};
}

// A failover whose runbook has a step with a hostile name.
DrillInputs Inputs() {
  DrillInputs in;
  in.fault_at = T("2026-11-26T00:00:10.000Z");
  in.acks = {MakeAck("a", 1, "2026-11-26T00:00:05.200Z", "primary"),
             MakeAck("b", 2, "2026-11-26T00:00:09.500Z", "primary"),
             MakeAck("c", 3, "2026-11-26T00:00:21.000Z", "dr"),
             MakeAck("d", 4, "2026-11-26T00:00:22.500Z", "dr")};
  in.events = {{"decision", T("2026-11-26T00:00:11.000Z"), "none", "primary unhealthy"}};
  in.run.found = true;
  in.run.outcome = "succeeded";
  in.run.started_at = T("2026-11-26T00:00:12.000Z");
  in.run.steps = {{"scale up", T("2026-11-26T00:00:12.000Z"), 1.0, "succeeded"},
                  {"promote <script>alert('x')</script> & \"co\"", T("2026-11-26T00:00:13.000Z"),
                   0.5, "succeeded"},
                  {"switch dns", T("2026-11-26T00:00:14.000Z"), 2.0, "failed"}};
  in.run.promoted_at = T("2026-11-26T00:00:13.500Z");
  in.dr_client_order_ids = std::set<std::string>{"a", "b", "c", "d"};
  return in;
}

// Every element opened is closed in order; void elements and self-closed
// SVG elements excepted.
bool WellFormed(const std::string& html, std::string* why) {
  static const std::regex kTag(R"(<(/?)([a-zA-Z][a-zA-Z0-9]*)([^>]*)>)");
  const std::set<std::string> kVoid = {"meta"};
  std::vector<std::string> stack;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), kTag);
       it != std::sregex_iterator(); ++it) {
    const std::string name = (*it)[2];
    const std::string attrs = (*it)[3];
    if ((*it)[1] == "/") {
      if (stack.empty() || stack.back() != name) {
        *why = "</" + name + "> closes " + (stack.empty() ? "nothing" : "<" + stack.back() + ">");
        return false;
      }
      stack.pop_back();
    } else if (kVoid.count(name) == 0 && (attrs.empty() || attrs.back() != '/')) {
      stack.push_back(name);
    }
  }
  if (!stack.empty()) {
    *why = "<" + stack.back() + "> never closed";
    return false;
  }
  return true;
}

TEST(ReportHtmlTest, IsOneWellFormedSelfContainedPage) {
  DrillInputs in = Inputs();
  DrillResult r = Measure(in);
  const std::string html = ReportHtml("region-outage", r, BuildTimeline(in, r));
  std::string why;
  EXPECT_TRUE(WellFormed(html, &why)) << why;
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_EQ(html.find("<script"), std::string::npos);  // the hostile step name too
  EXPECT_EQ(html.find("http"), std::string::npos);     // no external URL of any kind
  EXPECT_EQ(html.find("src="), std::string::npos);
  EXPECT_EQ(html.find("href="), std::string::npos);
  EXPECT_NE(html.find("<style>"), std::string::npos);
  EXPECT_NE(html.find("<svg"), std::string::npos);
  ASSERT_TRUE(r.passed);
  EXPECT_NE(html.find("<span class=\"passed\">PASSED</span>"), std::string::npos);
  in.run.outcome = "failed";
  r = Measure(in);
  EXPECT_NE(ReportHtml("region-outage", r, BuildTimeline(in, r))
                .find("<span class=\"failed\">FAILED</span>"),
            std::string::npos);
  // The well-formedness check itself catches a broken page.
  EXPECT_FALSE(WellFormed("<html><body><p></body></html>", &why));
}

TEST(ReportHtmlTest, EscapesEveryTextFromTheJournals) {
  DrillInputs in = Inputs();
  DrillResult r = Measure(in);
  const std::string html = ReportHtml("<b>x</b>", r, BuildTimeline(in, r));
  EXPECT_EQ(html.find("<b>x</b>"), std::string::npos);
  EXPECT_NE(html.find("&lt;b&gt;x&lt;/b&gt;"), std::string::npos);
  EXPECT_NE(
      html.find("promote &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;co&quot;"),
      std::string::npos);
  EXPECT_EQ(HtmlEscape(std::string("a\x01z\n")), "a\xEF\xBF\xBDz\n");
}

TEST(ReportHtmlTest, EveryStepAndRegionIsOnTheChart) {
  DrillInputs in = Inputs();
  DrillResult r = Measure(in);
  const std::string html = ReportHtml("region-outage", r, BuildTimeline(in, r));
  const size_t svg = html.find("<svg");
  const size_t svg_end = html.find("</svg>");
  ASSERT_NE(svg, std::string::npos);
  const std::string chart = html.substr(svg, svg_end - svg);
  for (const StepTiming& s : in.run.steps) {
    EXPECT_NE(chart.find(">" + HtmlEscape(s.name) + "</text>"), std::string::npos) << s.name;
  }
  for (const char* phase : {">baseline</text>", ">detection</text>", ">first DR ack</text>"}) {
    EXPECT_NE(chart.find(phase), std::string::npos) << phase;
  }
  EXPECT_NE(chart.find("data-region=\"primary\""), std::string::npos);
  EXPECT_NE(chart.find("data-region=\"dr\""), std::string::npos);
}

TEST(ReportHtmlTest, AxisBoundsComeFromTheData) {
  struct Row {
    std::string name;
    std::vector<Ack> acks;
    std::string min, max;
  } rows[] = {
      // 05.2 is 4.8 s before the fault: bin -5; the last ack 22.5 is in bin 12 -> 13.
      {"acks on both sides", Inputs().acks, "-5.0", "13.0"},
      // Without acks the steps bound the axis: the fault at 0, switch dns ends at 6 s.
      {"steps only", {}, "0.0", "6.0"},
      {"a long tail", {MakeAck("a", 1, "2026-11-26T00:00:09.000Z", "primary"),
                       MakeAck("z", 9, "2026-11-26T00:01:50.000Z", "dr")}, "-1.0", "101.0"},
  };
  for (const Row& row : rows) {
    DrillInputs in = Inputs();
    in.acks = row.acks;
    DrillResult r = Measure(in);
    const std::string html = ReportHtml("region-outage", r, BuildTimeline(in, r));
    EXPECT_NE(html.find("data-axis-min=\"" + row.min + "\""), std::string::npos)
        << row.name << "\n" << html.substr(html.find("<svg"), 200);
    EXPECT_NE(html.find("data-axis-max=\"" + row.max + "\""), std::string::npos) << row.name;
  }
}

}  // namespace
}  // namespace pilotlight::drill
