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
      return Status::InvalidArgument(what + " line " + std::to_string(n) + ": not a JSON object");
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
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &s, &consumed) !=
          6 ||
      consumed != 19) {
    return Status::InvalidArgument("\"" + text +
                                   "\": expected a time like 2026-11-26T00:17:34.123Z");
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

Result<FailoverRun> ParseFailoverRun(const std::string& history_json, const std::string& runbook) {
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
          run.promoted_at = t.start + std::chrono::duration_cast<Duration>(
                                          std::chrono::duration<double>(*t.duration_seconds));
        }
      }
    }
    for (auto& [index, t] : by_index) run.steps.push_back(std::move(t));
    break;
  }
  return run;
}

Result<LoadFigures> ParseLoadReport(const std::string& load_json) {
  const json j = json::parse(load_json, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return Status::InvalidArgument("load report: not a JSON object");
  auto number = [&](const json& o, const char* key) -> std::optional<double> {
    auto it = o.find(key);
    if (it == o.end() || !it->is_number()) return std::nullopt;
    return it->get<double>();
  };
  LoadFigures f;
  const std::optional<double> throughput = number(j, "throughput");
  const auto latency = j.find("latency_ms");
  const std::optional<double> p99 =
      latency != j.end() && latency->is_object() ? number(*latency, "p99") : std::nullopt;
  const std::optional<double> acked = number(j, "acked");
  if (!throughput || !p99 || !acked) {
    return Status::InvalidArgument(
        "load report: expected numbers throughput, acked and "
        "latency_ms.p99 (pilotlight load --json)");
  }
  f.orders_per_second = *throughput;
  f.p99_ms = *p99;
  // `errors` counts by kind ({"connect": 2, "503": 1}); a plain number is taken too.
  if (auto errors = j.find("errors"); errors != j.end() && errors->is_object()) {
    for (const auto& [kind, n] : errors->items()) {
      if (n.is_number_integer()) f.errors += n.get<int64_t>();
    }
  } else {
    f.errors = static_cast<int64_t>(number(j, "errors").value_or(0));
  }
  f.sent = static_cast<int64_t>(*acked + number(j, "rejected").value_or(0) +
                                number(j, "gave_up").value_or(0));
  return f;
}

const char* ExpectName(Expect e) {
  switch (e) {
    case Expect::kFailover:
      return "failover";
    case Expect::kNoFailover:
      return "no-failover";
    case Expect::kRefused:
      return "refused";
  }
  return "?";
}

namespace {

// The first decision after the fault that reacts to it.
const ControllerEvent* FirstReaction(const DrillInputs& in) {
  for (const ControllerEvent& e : in.events) {
    if (e.event != "decision" || e.at < in.fault_at) continue;
    if (e.plan != "none" || e.reason.find("primary unhealthy") != std::string::npos) return &e;
  }
  return nullptr;
}

// Whether a failover run started at or after the fault.
bool FailoverStarted(const DrillInputs& in) {
  return in.run.found && in.run.started_at >= in.fault_at;
}

// Items acknowledged but absent in DR, and the window they cover.
RpoFigure LostItems(const std::map<std::string, WallTime>& acknowledged,
                    const std::set<std::string>& present, WallTime fault_at) {
  RpoFigure f;
  std::optional<WallTime> earliest;
  for (const auto& [id, written_at] : acknowledged) {
    if (present.count(id) != 0) continue;
    ++f.items_lost;
    if (!earliest || written_at < *earliest) earliest = written_at;
  }
  if (earliest && *earliest < fault_at) f.seconds = Seconds(fault_at - *earliest);
  return f;
}

std::string LoadText(const LoadFigures& f) {
  char buf[160];
  std::snprintf(buf, sizeof(buf), "%.1f orders/s, p99 %.1f ms, %lld error(s) of %lld sent",
                f.orders_per_second, f.p99_ms, static_cast<long long>(f.errors),
                static_cast<long long>(f.sent));
  return buf;
}

std::string Ratio(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f", v);
  return buf;
}

}  // namespace

DrillResult Measure(const DrillInputs& in) {
  DrillResult r;
  r.expect = in.expect;
  r.steps = in.run.steps;
  auto add = [&](std::string name, bool passed, std::string detail) {
    r.checks.push_back({std::move(name), passed, std::move(detail)});
  };
  const bool failover = in.expect == Expect::kFailover;

  const ControllerEvent* reaction = FirstReaction(in);
  if (reaction) r.detection_seconds = Seconds(reaction->at - in.fault_at);
  if (failover) {
    add("detected", r.detection_seconds.has_value(),
        r.detection_seconds ? "first reaction " +
                                  FormatDuration(std::chrono::milliseconds(
                                      std::llround(*r.detection_seconds * 1000))) +
                                  " after the fault"
                            : "no controller decision reacted to the fault");
    add("failover succeeded", in.run.found && in.run.outcome == "succeeded",
        in.run.found ? "failover run " + in.run.outcome : "no failover run in the journal");
  } else {
    const bool started = FailoverStarted(in);
    add("no failover", !started,
        started ? "a failover run started at " + FormatTime(in.run.started_at) + " (" +
                      in.run.outcome + "); the scenario expects none"
                : "no failover run started after the fault, as expected");
  }
  if (in.expect == Expect::kRefused) {
    const ControllerEvent* refusal = nullptr;
    for (const ControllerEvent& e : in.events) {
      // Refused for what DR lacks: its lag, or (no WAL receiver) the WAL at risk.
      if (e.event == "decision" && e.at >= in.fault_at && e.reason.rfind("blocked:", 0) == 0 &&
          (e.reason.find("lag") != std::string::npos ||
           e.reason.find("WAL at risk") != std::string::npos ||
           e.reason.find("replica was not streaming") != std::string::npos)) {
        refusal = &e;
        break;
      }
    }
    add("failover refused for replica lag", refusal != nullptr,
        refusal ? "at " + FormatTime(refusal->at) + ": " + refusal->reason
                : "no decision after the fault was blocked for replica lag");
  }

  // Client-perceived RTO: the first order a client got acknowledged by DR
  // (kNoFailover: by any region) after the fault.
  std::optional<WallTime> first_after;
  for (const Ack& a : in.acks) {
    if (a.ack_time < in.fault_at) {
      ++r.acks_before_fault;
      continue;
    }
    ++r.acks_after_fault;
    const bool counts = in.expect == Expect::kNoFailover || a.region == in.dr_region;
    if (counts && (!first_after || a.ack_time < *first_after)) first_after = a.ack_time;
  }
  if (first_after && in.expect != Expect::kRefused) {
    r.rto_seconds = Seconds(*first_after - in.fault_at);
  }
  if (in.expect != Expect::kRefused) {
    const double rto_limit = ToSeconds(in.objectives.rto);
    const std::string who =
        in.expect == Expect::kNoFailover ? "any region" : "region " + in.dr_region;
    add("rto", r.rto_seconds && *r.rto_seconds <= rto_limit,
        r.rto_seconds
            ? Fmt(*r.rto_seconds) + " s (objective " + FormatDuration(in.objectives.rto) + ")"
            : "no order was acknowledged by " + who + " after the fault");
  }

  // Duplicates: one client_order_id acknowledged with two order ids.
  std::map<std::string, std::set<int64_t>> ids;
  std::map<std::string, WallTime> first_ack;  // client_order_id -> earliest acknowledgement
  for (const Ack& a : in.acks) {
    ids[a.client_order_id].insert(a.order_id);
    auto it = first_ack.find(a.client_order_id);
    if (it == first_ack.end() || a.ack_time < it->second) first_ack[a.client_order_id] = a.ack_time;
  }
  for (const auto& [cid, set] : ids) {
    if (set.size() > 1) ++r.duplicates;
  }
  add("no duplicates", r.duplicates == 0,
      std::to_string(r.duplicates) + " client_order_id(s) executed more than once among " +
          std::to_string(ids.size()));

  // Split brain: the old primary acknowledging after DR took over.
  if (failover) {
    if (in.run.promoted_at) {
      for (const Ack& a : in.acks) {
        if (a.region == in.primary_region && a.ack_time > *in.run.promoted_at) {
          ++r.split_brain_writes;
        }
      }
    }
    add("no split brain", in.run.promoted_at.has_value() && r.split_brain_writes == 0,
        in.run.promoted_at
            ? std::to_string(r.split_brain_writes) + " order(s) acknowledged by " +
                  in.primary_region + " after the promotion at " + FormatTime(*in.run.promoted_at)
            : "no succeeded promote step: cannot tell");
  }
  if (in.old_primary_fenced) {
    add("old primary fenced itself", *in.old_primary_fenced,
        *in.old_primary_fenced ? "the cut-off primary refused writes"
                               : "the cut-off primary did not fence itself");
  }

  // RPO (database): acknowledged orders the serving database does not have.
  if (in.dr_client_order_ids) {
    r.rpo_database = LostItems(first_ack, *in.dr_client_order_ids, in.fault_at);
    const std::string where =
        in.expect == Expect::kNoFailover ? "the primary database" : "the promoted database";
    const std::string detail = std::to_string(r.rpo_database->items_lost) +
                               " acknowledged order(s) missing in " + where + ", a window of " +
                               Fmt(r.rpo_database->seconds) + " s (objective " +
                               FormatDuration(in.objectives.rpo_database) + ")";
    if (in.expect == Expect::kFailover) {
      add("rpo database", r.rpo_database->seconds <= ToSeconds(in.objectives.rpo_database), detail);
    } else if (in.expect == Expect::kNoFailover) {
      add("no acknowledged order lost", r.rpo_database->items_lost == 0, detail);
    }
  } else if (in.expect != Expect::kRefused) {
    add(in.expect == Expect::kFailover ? "rpo database" : "no acknowledged order lost", false,
        "the database could not be read: " + in.dr_database_error);
  }
  auto keyed = [&](const std::optional<KeyedRpoInput>& input, std::optional<RpoFigure>& out,
                   const std::string& type, const std::string& items, Duration objective) {
    if (!input) return;
    if (!input->error.empty()) {
      add("rpo " + type, false, "DR's " + items + " could not be read: " + input->error);
      return;
    }
    out = LostItems(input->acknowledged, input->present_in_dr, in.fault_at);
    add("rpo " + type, out->seconds <= ToSeconds(objective),
        std::to_string(out->items_lost) + " of " + std::to_string(input->acknowledged.size()) +
            " acknowledged " + items + " missing in DR, a window of " + Fmt(out->seconds) +
            " s (objective " + FormatDuration(objective) + ")");
  };
  keyed(in.sessions, r.rpo_sessions, "sessions", "session(s)", in.objectives.rpo_sessions);
  keyed(in.confirmations, r.rpo_objects, "objects", "trade confirmation(s)",
        in.objectives.rpo_objects);

  // Capacity: DR at the production rate against the primary's baseline.
  if (in.baseline && in.dr_capacity) {
    r.baseline = in.baseline;
    r.dr_capacity = in.dr_capacity;
    const std::string name =
        "DR capacity >= " + Ratio(in.objectives.min_capacity_ratio) + " of baseline";
    if (in.baseline->orders_per_second > 0) {
      r.capacity_ratio =
          std::round(in.dr_capacity->orders_per_second / in.baseline->orders_per_second * 1000) /
          1000;
      add(name, *r.capacity_ratio >= in.objectives.min_capacity_ratio,
          "ratio " + Fmt(*r.capacity_ratio) + ": DR " + LoadText(*in.dr_capacity) + "; baseline " +
              LoadText(*in.baseline));
    } else {
      add(name, false, "the baseline acknowledged no order: " + LoadText(*in.baseline));
    }
  }

  add("load acknowledged before the fault", r.acks_before_fault > 0,
      std::to_string(r.acks_before_fault) + " order(s)");

  r.passed = std::all_of(r.checks.begin(), r.checks.end(), [](const Check& c) { return c.passed; });
  return r;
}

namespace {

json RpoJson(const std::optional<RpoFigure>& f) {
  if (!f) return nullptr;
  return {{"seconds", f->seconds}, {"items_lost", f->items_lost}};
}

json LoadJson(const std::optional<LoadFigures>& f) {
  if (!f) return nullptr;
  return {{"orders_per_second", f->orders_per_second},
          {"p99_ms", f->p99_ms},
          {"errors", f->errors},
          {"sent", f->sent}};
}

}  // namespace

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
  json j = {{"schema_version", kReportSchemaVersion},
            {"scenario", scenario},
            {"expect", ExpectName(r.expect)},
            {"passed", r.passed},
            {"rto_seconds", opt(r.rto_seconds)},
            {"detection_seconds", opt(r.detection_seconds)},
            {"rpo",
             {{"database", RpoJson(r.rpo_database)},
              {"sessions", RpoJson(r.rpo_sessions)},
              {"objects", RpoJson(r.rpo_objects)}}},
            {"duplicates", r.duplicates},
            {"split_brain_writes", r.split_brain_writes},
            {"acks_before_fault", r.acks_before_fault},
            {"acks_after_fault", r.acks_after_fault},
            {"steps", steps},
            {"capacity_ratio", opt(r.capacity_ratio)},
            {"capacity", {{"baseline", LoadJson(r.baseline)}, {"dr", LoadJson(r.dr_capacity)}}},
            {"checks", checks}};
  return j.dump(2) + "\n";
}

std::string ReportMarkdown(const std::string& scenario, const DrillResult& r) {
  auto opt = [](const std::optional<double>& v) {
    return v ? Fmt(*v) + " s" : std::string("not measured");
  };
  auto rpo = [](const std::optional<RpoFigure>& f, const std::string& items) {
    return f ? Fmt(f->seconds) + " s, " + std::to_string(f->items_lost) + " " + items + " lost"
             : std::string("not measured");
  };
  std::string capacity = "not measured";
  if (r.capacity_ratio) {
    char buf[160];
    std::snprintf(buf, sizeof(buf),
                  "%.3f (DR %.1f orders/s, p99 %.1f ms; baseline %.1f "
                  "orders/s, p99 %.1f ms)",
                  *r.capacity_ratio, r.dr_capacity->orders_per_second, r.dr_capacity->p99_ms,
                  r.baseline->orders_per_second, r.baseline->p99_ms);
    capacity = buf;
  }
  std::ostringstream o;
  o << "# Drill " << scenario << ": " << (r.passed ? "PASSED" : "FAILED") << "\n\n"
    << "Expected: " << ExpectName(r.expect) << "\n\n"
    << "| figure | value |\n|---|---|\n"
    << "| detection | " << opt(r.detection_seconds) << " |\n"
    << "| client-perceived RTO | " << opt(r.rto_seconds) << " |\n"
    << "| RPO database | " << rpo(r.rpo_database, "acknowledged order(s)") << " |\n"
    << "| RPO sessions | " << rpo(r.rpo_sessions, "session(s)") << " |\n"
    << "| RPO objects | " << rpo(r.rpo_objects, "trade confirmation(s)") << " |\n"
    << "| duplicates | " << r.duplicates << " |\n"
    << "| split-brain writes | " << r.split_brain_writes << " |\n"
    << "| capacity ratio | " << capacity << " |\n\n## Runbook steps\n\n"
    << "| step | start | duration | outcome |\n|---|---|---|---|\n";
  for (const StepTiming& s : r.steps) {
    o << "| " << s.name << " | " << FormatTime(s.start) << " | " << opt(s.duration_seconds) << " | "
      << s.outcome << " |\n";
  }
  o << "\n## Checks\n\n";
  for (const Check& c : r.checks) {
    o << "- [" << (c.passed ? "x" : " ") << "] " << c.name << ": " << c.detail << "\n";
  }
  return o.str();
}

Timeline BuildTimeline(const DrillInputs& in, const DrillResult& r) {
  Timeline t;
  auto rel = [&](WallTime w) { return ToSeconds(w - in.fault_at); };
  auto bin = [&](WallTime w) {
    const int64_t ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(w - in.fault_at).count();
    return ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);  // floor
  };
  double lo = 0, hi = 0;  // the fault itself is always on the axis
  auto extend = [&](double s) {
    lo = std::min(lo, s);
    hi = std::max(hi, s);
  };
  std::optional<WallTime> first_ack, last_ack;
  for (const Ack& a : in.acks) {
    if (!first_ack || a.ack_time < *first_ack) first_ack = a.ack_time;
    if (!last_ack || a.ack_time > *last_ack) last_ack = a.ack_time;
  }
  if (first_ack) {
    t.first_second = std::min<int64_t>(bin(*first_ack), 0);
    t.last_second = std::max<int64_t>(bin(*last_ack), 0);
    const size_t bins = static_cast<size_t>(t.last_second - t.first_second + 1);
    for (const Ack& a : in.acks) {
      std::vector<int64_t>& counts = t.acks_per_second[a.region.empty() ? "?" : a.region];
      counts.resize(bins, 0);
      ++counts[static_cast<size_t>(bin(a.ack_time) - t.first_second)];
    }
    extend(rel(*first_ack));
    extend(rel(*last_ack));
    extend(static_cast<double>(t.last_second + 1));
    extend(static_cast<double>(t.first_second));
  }
  if (first_ack && *first_ack < in.fault_at) {
    t.phases.push_back({"baseline", "phase", rel(*first_ack), 0, ""});
  }
  t.phases.push_back({"fault", "marker", 0, 0, ""});
  if (r.detection_seconds) {
    t.phases.push_back({"detection", "phase", 0, *r.detection_seconds, ""});
    extend(*r.detection_seconds);
  }
  for (const StepTiming& s : in.run.steps) {
    const double start = rel(s.start);
    const double end = start + s.duration_seconds.value_or(0);
    t.phases.push_back({s.name, "step", start, end, s.outcome});
    extend(start);
    extend(end);
  }
  if (r.rto_seconds) {
    t.phases.push_back(
        {r.expect == Expect::kNoFailover ? "first ack after the fault" : "first DR ack", "marker",
         *r.rto_seconds, *r.rto_seconds, ""});
    extend(*r.rto_seconds);
  }
  t.min_seconds = lo;
  t.max_seconds = hi;
  return t;
}

}  // namespace pilotlight::drill
