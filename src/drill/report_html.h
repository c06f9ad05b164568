// The drill's HTML report: one self-contained page (inline CSS and SVG, no
// scripts, no external URLs) that a browser opens from disk or a CI artifact
// store: the summary figures, the checks, the runbook steps, and a timeline
// chart on an axis in seconds from the fault (negative before it) with the
// phases and steps as bars and the acknowledged orders per second of each
// region as a line. Every text from the journals is HTML-escaped.
//
// Pure string building: thread-safe.
#pragma once

#include <string>

#include "drill/measure.h"

namespace pilotlight::drill {

// `timeline` is BuildTimeline(inputs, result).
std::string ReportHtml(const std::string& scenario, const DrillResult& result,
                       const Timeline& timeline);

// &, <, >, " and ' as entities; control characters but tab and newline as U+FFFD.
std::string HtmlEscape(const std::string& text);

}  // namespace pilotlight::drill
