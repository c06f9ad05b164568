#include "drill/measure.h"

#include <time.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/duration.h"

namespace pilotlight::drill {
namespace {

using json = nlohmann::json;

double Seconds(Duration d) { return std::round(ToSeconds(d) * 1000) / 1000; }

std::string Fmt(double seconds) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.3f", seconds);
  return buf;
}

std::string Str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

// Splits into lines and parses each as a JSON object; calls `each` with it.
template <typename F>
Status ForEachJsonLine(const std::string& text, const std::string& what, F each) {
  std::istringstream in(text);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object()) {
      return Status::InvalidArgument(what + " line " + std::to_string(n) +
                                     ": not a JSON object");
    }
    Status st = each(j, n);
    if (!st.ok()) return st.Annotate(what + " line " + std::to_string(n));
  }
  return Status::OK();
}

Result<WallTime> TimeField(const json& j, const char* key) {
  const std::string s = Str(j, key);
  if (s.empty()) return Status::InvalidArgument(std::string("missing \"") + key + "\"");
  return ParseTime(s);
}

}  // namespace

Result<WallTime> ParseTime(const std::string& text) {
  int y, mo, d, h, mi, s, consumed = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &s,
                  &consumed) != 6 ||
      consumed != 19) {
    return Status::InvalidArgument("\"" + text + "\": expected a time like 2026-11-26T00:17:34.123Z");
  }
  std::string rest = text.substr(19);
  int64_t nanos = 0;
  if (!rest.empty() && rest[0] == '.') {
    size_t i = 1;
    int64_t scale = 100'000'000;
    while (i < rest.size() && isdigit(static_cast<unsigned char>(rest[i]))) {
      nanos += (rest[i] - '0') * scale;
      scale /= 10;
      ++i;
    }
    if (i == 1) return Status::InvalidArgument("\"" + text + "\": empty fraction of a second");
    rest = rest.substr(i);
  }
  if (rest != "Z") {
    return Status::InvalidArgument("\"" + text + "\": expected UTC (a trailing Z)");
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) {
    return Status::InvalidArgument("\"" + text + "\": a field is out of range");
  }
  tm t{};
  t.tm_year = y - 1900;
  t.tm_mon = mo - 1;
  t.tm_mday = d;
  t.tm_hour = h;
  t.tm_min = mi;
  t.tm_sec = s;
  const time_t secs = timegm(&t);
  return WallTime(std::chrono::seconds(secs)) + std::chrono::nanoseconds(nanos);
}

Result<std::vector<Ack>> ParseAckJournal(const std::string& text) {
  std::vector<Ack> out;
  Status st = ForEachJsonLine(text, "acknowledgement journal", [&](const json& j, int) {
    Ack a;
    a.client_order_id = Str(j, "client_order_id");
    if (a.client_order_id.empty()) return Status::InvalidArgument("missing \"client_order_id\"");
    auto id = j.find("order_id");
    if (id == j.end() || !id->is_number_integer()) {
      return Status::InvalidArgument("missing integer \"order_id\"");
    }
    a.order_id = id->get<int64_t>();
    Result<WallTime> t = TimeField(j, "ack_time");
    if (!t.ok()) return t.status();
    a.ack_time = *t;
    a.region = Str(j, "region");
    out.push_back(std::move(a));
    return Status::OK();
  });
  if (!st.ok()) return st;
  return out;
}

Result<std::vector<ControllerEvent>> ParseEvents(const std::string& text) {
  std::vector<ControllerEvent> out;
  Status st = ForEachJsonLine(text, "controller events", [&](const json& j, int) {
    ControllerEvent e;
    e.event = Str(j, "event");
    const char* key = j.contains("at") ? "at" : j.contains("started_at") ? "started_at" : nullptr;
    if (e.event.empty() || key == nullptr) return Status::OK();  // not a controller event
    Result<WallTime> t = TimeField(j, key);
    if (!t.ok()) return t.status();
    e.at = *t;
    e.plan = Str(j, "plan");
    e.reason = Str(j, "reason");
    out.push_back(std::move(e));
    return Status::OK();
  });
  if (!st.ok()) return st;
  return out;
}

Result<FailoverRun> ParseFailoverRun(const std::string& history_json,
                                     const std::string& runbook) {
  json h = json::parse(history_json, nullptr, /*allow_exceptions=*/false);
  if (!h.is_array()) return Status::InvalidArgument("runbook history: expected a JSON array");
  FailoverRun run;
  for (const json& r : h) {  // newest first: the first failover run is the latest
    if (!r.is_object() || Str(r, "runbook") != runbook) continue;
    run.found = true;
    run.outcome = Str(r, "outcome");
    Result<WallTime> started = TimeField(r, "started_at");
    if (!started.ok()) return started.status().Annotate("runbook history");
    run.started_at = *started;
    if (r.contains("finished_at") && r["finished_at"].is_string()) {
      Result<WallTime> f = TimeField(r, "finished_at");
      if (!f.ok()) return f.status().Annotate("runbook history");
      run.finished_at = *f;
    }
    // Attempts of a step share its index; the last one is the one that counts.
    std::map<int, StepTiming> by_index;
    if (r.contains("steps") && r["steps"].is_array()) {
      for (const json& s : r["steps"]) {
        if (!s.is_object() || !s.contains("index") || !s["index"].is_number_integer()) {
          return Status::InvalidArgument("runbook history: a step without an index");
        }
        StepTiming t;
        t.name = Str(s, "name");
        t.outcome = Str(s, "outcome");
        Result<WallTime> start = TimeField(s, "intent_at");
        if (!start.ok()) return start.status().Annotate("runbook history step " + t.name);
        t.start = *start;
        if (s.contains("duration_ms") && s["duration_ms"].is_number()) {
          t.duration_seconds = s["duration_ms"].get<double>() / 1000.0;
        }
        const int index = s["index"].get<int>();
        auto it = by_index.find(index);
        if (it == by_index.end() || it->second.start <= t.start) by_index[index] = t;
        if (t.outcome == "succeeded" && t.name.find("promote") != std::string::npos &&
            t.duration_seconds) {
          run.promoted_at =
              t.start + std::chrono::duration_cast<Duration>(
                            std::chrono::duration<double>(*t.duration_seconds));
        }
      }
    }
    for (auto& [index, t] : by_index) run.steps.push_back(std::move(t));
    break;
  }
  return run;
}

DrillResult Measure(const DrillInputs& in) {
  DrillResult r;
  r.steps = in.run.steps;
  auto add = [&](std::string name, bool passed, std::string detail) {
    r.checks.push_back({std::move(name), passed, std::move(detail)});
  };

  // Detection: the first decision after the fault that reacts to it.
  for (const ControllerEvent& e : in.events) {
    if (e.event != "decision" || e.at < in.fault_at) continue;
    if (e.plan != "none" || e.reason.find("primary unhealthy") != std::string::npos) {
      r.detection_seconds = Seconds(e.at - in.fault_at);
      break;
    }
  }
  add("detected", r.detection_seconds.has_value(),
      r.detection_seconds ? "first reaction " + FormatDuration(std::chrono::milliseconds(
                                                    std::llround(*r.detection_seconds * 1000))) +
                                " after the fault"
                          : "no controller decision reacted to the fault");

  add("failover succeeded", in.run.found && in.run.outcome == "succeeded",
      in.run.found ? "failover run " + in.run.outcome : "no failover run in the journal");

  // Client-perceived RTO: the first order a client got acknowledged by DR.
  std::optional<WallTime> first_dr;
  for (const Ack& a : in.acks) {
    if (a.ack_time < in.fault_at) {
      ++r.acks_before_fault;
      continue;
    }
    ++r.acks_after_fault;
    if (a.region == in.dr_region && (!first_dr || a.ack_time < *first_dr)) first_dr = a.ack_time;
  }
  if (first_dr) r.rto_seconds = Seconds(*first_dr - in.fault_at);
  const double rto_limit = ToSeconds(in.objectives.rto);
  add("rto", r.rto_seconds && *r.rto_seconds <= rto_limit,
      r.rto_seconds ? Fmt(*r.rto_seconds) + " s (objective " +
                          FormatDuration(in.objectives.rto) + ")"
                    : "no order was acknowledged by region " + in.dr_region + " after the fault");

  // Duplicates: one client_order_id acknowledged with two order ids.
  std::map<std::string, std::set<int64_t>> ids;
  for (const Ack& a : in.acks) ids[a.client_order_id].insert(a.order_id);
  for (const auto& [cid, set] : ids) {
    if (set.size() > 1) ++r.duplicates;
  }
  add("no duplicates", r.duplicates == 0,
      std::to_string(r.duplicates) + " client_order_id(s) executed more than once among " +
          std::to_string(ids.size()));

  // Split brain: the old primary acknowledging after DR took over.
  if (in.run.promoted_at) {
    for (const Ack& a : in.acks) {
      if (a.region == in.primary_region && a.ack_time > *in.run.promoted_at) ++r.split_brain_writes;
    }
  }
  add("no split brain", in.run.promoted_at.has_value() && r.split_brain_writes == 0,
      in.run.promoted_at ? std::to_string(r.split_brain_writes) +
                               " order(s) acknowledged by " + in.primary_region +
                               " after the promotion at " + FormatTime(*in.run.promoted_at)
                         : "no succeeded promote step: cannot tell");

  // RPO (database): acknowledged orders the promoted database does not have.
  if (in.dr_client_order_ids) {
    std::optional<WallTime> earliest_lost;
    for (const auto& [cid, set] : ids) {
      if (in.dr_client_order_ids->count(cid) != 0) continue;
      ++r.items_lost;
      for (const Ack& a : in.acks) {
        if (a.client_order_id == cid && (!earliest_lost || a.ack_time < *earliest_lost)) {
          earliest_lost = a.ack_time;
        }
      }
    }
    if (earliest_lost && *earliest_lost < in.fault_at) {
      r.rpo_database_seconds = Seconds(in.fault_at - *earliest_lost);
    }
    add("rpo database", r.rpo_database_seconds <= ToSeconds(in.objectives.rpo_database),
        std::to_string(r.items_lost) + " acknowledged order(s) missing in the promoted database, " +
            "a window of " + Fmt(r.rpo_database_seconds) + " s (objective " +
            FormatDuration(in.objectives.rpo_database) + ")");
  } else {
    add("rpo database", false, "the promoted database could not be read: " + in.dr_database_error);
  }
  add("load acknowledged before the fault", r.acks_before_fault > 0,
      std::to_string(r.acks_before_fault) + " order(s)");

  r.passed = std::all_of(r.checks.begin(), r.checks.end(), [](const Check& c) { return c.passed; });
  return r;
}

std::string ReportJson(const std::string& scenario, const DrillResult& r) {
  auto opt = [](const std::optional<double>& v) { return v ? json(*v) : json(nullptr); };
  json steps = json::array();
  for (const StepTiming& s : r.steps) {
    steps.push_back({{"name", s.name},
                     {"start", FormatTime(s.start)},
                     {"duration_seconds", opt(s.duration_seconds)},
                     {"outcome", s.outcome}});
  }
  json checks = json::array();
  for (const Check& c : r.checks) {
    checks.push_back({{"name", c.name}, {"passed", c.passed}, {"detail", c.detail}});
  }
  json j = {{"scenario", scenario},
            {"passed", r.passed},
            {"rto_seconds", opt(r.rto_seconds)},
            {"detection_seconds", opt(r.detection_seconds)},
            {"rpo", {{"database", {{"seconds", r.rpo_database_seconds},
                                   {"items_lost", r.items_lost}}}}},
            {"duplicates", r.duplicates},
            {"split_brain_writes", r.split_brain_writes},
            {"acks_before_fault", r.acks_before_fault},
            {"acks_after_fault", r.acks_after_fault},
            {"steps", steps},
            {"capacity_ratio", nullptr},
            {"checks", checks}};
  return j.dump(2) + "\n";
}

std::string ReportMarkdown(const std::string& scenario, const DrillResult& r) {
  auto opt = [](const std::optional<double>& v) {
    return v ? Fmt(*v) + " s" : std::string("not measured");
  };
  std::ostringstream o;
  o << "# Drill " << scenario << ": " << (r.passed ? "PASSED" : "FAILED") << "\n\n"
    << "| figure | value |\n|---|---|\n"
    << "| detection | " << opt(r.detection_seconds) << " |\n"
    << "| client-perceived RTO | " << opt(r.rto_seconds) << " |\n"
    << "| RPO database | " << Fmt(r.rpo_database_seconds) << " s, " << r.items_lost
    << " acknowledged order(s) lost |\n"
    << "| duplicates | " << r.duplicates << " |\n"
    << "| split-brain writes | " << r.split_brain_writes << " |\n"
    << "| capacity ratio | not measured |\n\n## Runbook steps\n\n"
    << "| step | start | duration | outcome |\n|---|---|---|---|\n";
  for (const StepTiming& s : r.steps) {
    o << "| " << s.name << " | " << FormatTime(s.start) << " | " << opt(s.duration_seconds)
      << " | " << s.outcome << " |\n";
  }
  o << "\n## Checks\n\n";
  for (const Check& c : r.checks) {
    o << "- [" << (c.passed ? "x" : " ") << "] " << c.name << ": " << c.detail << "\n";
  }
  return o.str();
}

}  // namespace pilotlight::drill
