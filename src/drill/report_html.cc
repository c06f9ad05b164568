#include "drill/report_html.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "core/duration.h"

namespace pilotlight::drill {
namespace {

// Chart geometry, in SVG user units.
constexpr double kWidth = 960;
constexpr double kLeft = 200;  // phase labels sit left of the plot
constexpr double kRight = 20;
constexpr double kTop = 20;
constexpr double kRowHeight = 18;
constexpr double kRateHeight = 160;
constexpr double kAxisHeight = 40;

std::string Num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f", v);
  return buf;
}

std::string Secs(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.3f s", v);
  return buf;
}

std::string Opt(const std::optional<double>& v) { return v ? Secs(*v) : "not measured"; }

std::string Rpo(const std::optional<RpoFigure>& f, const std::string& items) {
  if (!f) return "not measured";
  return Secs(f->seconds) + ", " + std::to_string(f->items_lost) + " " + items + " lost";
}

// A tick spacing that puts at most about ten ticks on `span` seconds.
double TickStep(double span) {
  for (double step : {1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0}) {
    if (span / step <= 10) return step;
  }
  return 3600;
}

std::string RegionColor(const std::string& region, size_t index) {
  if (region == "primary") return "#1f6fb4";
  if (region == "dr") return "#c0392b";
  static const char* kOthers[] = {"#2e8b57", "#8e44ad", "#d35400", "#7f8c8d"};
  return kOthers[index % 4];
}

std::string PhaseColor(const TimelinePhase& p) {
  if (p.kind == "step") {
    if (p.outcome == "succeeded") return "#27ae60";
    if (p.outcome == "skipped") return "#95a5a6";
    return "#e74c3c";
  }
  if (p.name == "baseline") return "#85c1e9";
  if (p.name == "detection") return "#f5b041";
  return "#34495e";
}

std::string Chart(const Timeline& t) {
  double lo = t.min_seconds, hi = t.max_seconds;
  if (hi - lo < 1) hi = lo + 1;
  const double plot_w = kWidth - kLeft - kRight;
  auto x = [&](double s) { return kLeft + (s - lo) / (hi - lo) * plot_w; };
  const double phases_h = kRowHeight * static_cast<double>(t.phases.size());
  const double rate_top = kTop + phases_h + 10;
  const double rate_bottom = rate_top + kRateHeight;
  const double height =
      rate_bottom + kAxisHeight + 20 + kRowHeight * static_cast<double>(t.acks_per_second.size());

  std::ostringstream o;
  // Inline SVG in HTML needs no xmlns: the page names no URL at all.
  o << "<svg class=\"timeline\" width=\"" << Num(kWidth) << "\" height=\"" << Num(height)
    << "\" viewBox=\"0 0 " << Num(kWidth) << " " << Num(height) << "\" data-axis-min=\"" << Num(lo)
    << "\" data-axis-max=\"" << Num(hi) << "\" role=\"img\">\n<title>Drill timeline from "
    << Num(lo) << " s to " << Num(hi) << " s around the fault</title>\n";

  // Grid and axis.
  const double step = TickStep(hi - lo);
  for (double s = std::ceil(lo / step) * step; s <= hi + 1e-9; s += step) {
    o << "<line class=\"grid\" stroke=\"#e5e5e5\" x1=\"" << Num(x(s)) << "\" y1=\"" << Num(kTop)
      << "\" x2=\"" << Num(x(s)) << "\" y2=\"" << Num(rate_bottom) << "\"/>\n"
      << "<text class=\"tick\" x=\"" << Num(x(s)) << "\" y=\"" << Num(rate_bottom + 16)
      << "\" text-anchor=\"middle\">" << Num(s) << "</text>\n";
  }
  o << "<text class=\"axis-label\" x=\"" << Num(kLeft + plot_w / 2) << "\" y=\""
    << Num(rate_bottom + 34) << "\" text-anchor=\"middle\">seconds from the fault</text>\n";
  o << "<line class=\"fault\" stroke=\"#c0392b\" stroke-dasharray=\"4 3\" x1=\"" << Num(x(0))
    << "\" y1=\"" << Num(kTop) << "\" x2=\"" << Num(x(0)) << "\" y2=\"" << Num(rate_bottom)
    << "\"/>\n";

  // Phases and steps: one row each.
  double y = kTop;
  for (const TimelinePhase& p : t.phases) {
    const std::string name = HtmlEscape(p.name);
    o << "<g class=\"phase " << HtmlEscape(p.kind) << "\"><title>" << name << ": "
      << Num(p.start_seconds) << " s to " << Num(p.end_seconds) << " s"
      << (p.outcome.empty() ? "" : " (" + HtmlEscape(p.outcome) + ")") << "</title>";
    o << "<text class=\"phase-label\" x=\"" << Num(kLeft - 6) << "\" y=\""
      << Num(y + kRowHeight - 5) << "\" text-anchor=\"end\">" << name << "</text>";
    if (p.kind == "marker") {
      o << "<circle cx=\"" << Num(x(p.start_seconds)) << "\" cy=\"" << Num(y + kRowHeight / 2)
        << "\" r=\"5\" fill=\"" << PhaseColor(p) << "\"/>";
    } else {
      const double w = std::max(2.0, x(p.end_seconds) - x(p.start_seconds));
      o << "<rect x=\"" << Num(x(p.start_seconds)) << "\" y=\"" << Num(y + 2) << "\" width=\""
        << Num(w) << "\" height=\"" << Num(kRowHeight - 4) << "\" fill=\"" << PhaseColor(p)
        << "\"/>";
    }
    o << "</g>\n";
    y += kRowHeight;
  }

  // Acknowledged orders per second, per region.
  int64_t peak = 1;
  for (const auto& [region, counts] : t.acks_per_second) {
    for (int64_t c : counts) peak = std::max(peak, c);
  }
  o << "<text class=\"tick\" x=\"" << Num(kLeft - 6) << "\" y=\"" << Num(rate_top + 10)
    << "\" text-anchor=\"end\">" << peak << " acks/s</text>\n"
    << "<text class=\"tick\" x=\"" << Num(kLeft - 6) << "\" y=\"" << Num(rate_bottom)
    << "\" text-anchor=\"end\">0</text>\n"
    << "<line class=\"axis\" stroke=\"#888\" x1=\"" << Num(kLeft) << "\" y1=\"" << Num(rate_bottom)
    << "\" x2=\"" << Num(kWidth - kRight) << "\" y2=\"" << Num(rate_bottom) << "\"/>\n";
  size_t index = 0;
  double legend_y = rate_bottom + kAxisHeight + 10;
  for (const auto& [region, counts] : t.acks_per_second) {
    const std::string color = RegionColor(region, index++);
    std::ostringstream points;
    points << Num(x(static_cast<double>(t.first_second))) << "," << Num(rate_bottom);
    // A step per second: the count holds for the whole of its bin.
    for (size_t i = 0; i < counts.size(); ++i) {
      const double s = static_cast<double>(t.first_second + static_cast<int64_t>(i));
      const double v =
          rate_bottom - static_cast<double>(counts[i]) / static_cast<double>(peak) * kRateHeight;
      points << " " << Num(x(s)) << "," << Num(v) << " " << Num(x(s + 1)) << "," << Num(v);
    }
    points << " " << Num(x(static_cast<double>(t.last_second + 1))) << "," << Num(rate_bottom);
    o << "<polygon class=\"rate\" data-region=\"" << HtmlEscape(region) << "\" points=\""
      << points.str() << "\" fill=\"" << color << "\" fill-opacity=\"0.25\" stroke=\"" << color
      << "\"/>\n";
    o << "<rect x=\"" << Num(kLeft) << "\" y=\"" << Num(legend_y - 10) << "\" width=\"12\" "
      << "height=\"12\" fill=\"" << color << "\"/><text class=\"legend\" x=\"" << Num(kLeft + 18)
      << "\" y=\"" << Num(legend_y) << "\">acknowledged orders per second, region "
      << HtmlEscape(region) << "</text>\n";
    legend_y += kRowHeight;
  }
  o << "</svg>\n";
  return o.str();
}

constexpr char kStyle[] = R"(body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 10px;text-align:left}
.passed{color:#1e8449;font-weight:bold}.failed{color:#c0392b;font-weight:bold}
ul.checks{list-style:none;padding:0}ul.checks li{margin:3px 0}
svg.timeline{border:1px solid #ddd;background:#fff}
svg .grid{stroke:#eee}svg .axis{stroke:#888}svg .fault{stroke:#c0392b;stroke-dasharray:4 3}
svg text{font-size:11px;fill:#333})";

}  // namespace

std::string HtmlEscape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        if ((static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') || c == 0x7f) {
          out += "\xEF\xBF\xBD";
        } else {
          out += c;
        }
    }
  }
  return out;
}

std::string ReportHtml(const std::string& scenario, const DrillResult& r, const Timeline& t) {
  const std::string title =
      "Drill " + HtmlEscape(scenario) + ": " + (r.passed ? "PASSED" : "FAILED");
  std::string capacity = "not measured";
  if (r.capacity_ratio && r.baseline && r.dr_capacity) {
    char buf[200];
    std::snprintf(buf, sizeof(buf),
                  "%.3f (DR %.1f orders/s, p99 %.1f ms; baseline %.1f orders/s, p99 %.1f ms)",
                  *r.capacity_ratio, r.dr_capacity->orders_per_second, r.dr_capacity->p99_ms,
                  r.baseline->orders_per_second, r.baseline->p99_ms);
    capacity = buf;
  }
  std::ostringstream o;
  o << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" << title
    << "</title>\n<style>" << kStyle << "</style>\n</head>\n<body>\n<h1>Drill "
    << HtmlEscape(scenario) << ": <span class=\""
    << (r.passed ? "passed\">PASSED" : "failed\">FAILED")
    << "</span></h1>\n<p>Expected: " << ExpectName(r.expect) << "</p>\n"
    << "<h2>Summary</h2>\n<table class=\"summary\">\n<tr><th>figure</th><th>value</th></tr>\n";
  auto row = [&](const std::string& k, const std::string& v) {
    o << "<tr><td>" << HtmlEscape(k) << "</td><td>" << HtmlEscape(v) << "</td></tr>\n";
  };
  row("detection", Opt(r.detection_seconds));
  row("client-perceived RTO", Opt(r.rto_seconds));
  row("RPO database", Rpo(r.rpo_database, "acknowledged order(s)"));
  row("RPO sessions", Rpo(r.rpo_sessions, "session(s)"));
  row("RPO objects", Rpo(r.rpo_objects, "trade confirmation(s)"));
  row("duplicates", std::to_string(r.duplicates));
  row("split-brain writes", std::to_string(r.split_brain_writes));
  row("acknowledged before / after the fault",
      std::to_string(r.acks_before_fault) + " / " + std::to_string(r.acks_after_fault));
  row("capacity ratio", capacity);
  o << "</table>\n<h2>Checks</h2>\n<ul class=\"checks\">\n";
  for (const Check& c : r.checks) {
    o << "<li class=\"" << (c.passed ? "passed" : "failed") << "\">"
      << (c.passed ? "&#10003; " : "&#10007; ") << HtmlEscape(c.name) << ": <span class=\"detail\">"
      << HtmlEscape(c.detail) << "</span></li>\n";
  }
  o << "</ul>\n<h2>Timeline</h2>\n"
    << Chart(t) << "<h2>Runbook steps</h2>\n"
    << "<table class=\"steps\">\n<tr><th>step</th><th>start</th><th>duration</th>"
    << "<th>outcome</th></tr>\n";
  for (const StepTiming& s : r.steps) {
    o << "<tr><td>" << HtmlEscape(s.name) << "</td><td>" << HtmlEscape(FormatTime(s.start))
      << "</td><td>" << HtmlEscape(Opt(s.duration_seconds)) << "</td><td>" << HtmlEscape(s.outcome)
      << "</td></tr>\n";
  }
  o << "</table>\n</body>\n</html>\n";
  return o.str();
}

}  // namespace pilotlight::drill
