// `runbooks`: named sequences of steps, each checked against its kind's row of
// the step table (config/runbook_steps.h).
#include <algorithm>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config_reader.h"
#include "config/runbook_steps.h"
#include "config/values.h"
#include "core/duration.h"
#include "dns/zonefile/zone_file.h"

namespace pilotlight::config {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr std::string_view kStepKeys[] = {"name",    "kind",    "timeout",
                                          "retries", "backoff", "params"};
constexpr NamePattern kRunbookName{"a-z", "a-z0-9_.-", 62,
                                   "a runbook name matching [a-z][a-z0-9_.-]{0,62}"};

// The kinds of the step table, in its order (for ReadChoice and the message).
const std::vector<std::string_view>& StepKindNames() {
  static const std::vector<std::string_view> names = [] {
    std::vector<std::string_view> out;
    for (const StepKind& k : StepKinds()) out.push_back(k.name);
    return out;
  }();
  return names;
}

}  // namespace

void ConfigReader::ReadRunbooks(const Field& f, Config& config) {
  if (IsEmptySection(f.value)) return;
  if (!f.value.IsMap()) {
    Report(At(f), f.path, "a mapping from runbook names to sequences of steps", Describe(f.value));
    return;
  }
  for (const auto& [key, value] : f.value.Entries()) {
    const Field item{Child(f.path, key.IsScalar() ? Escape(key.Scalar()) : "?"), key, value};
    if (!key.IsScalar() || !Matches(key.Scalar(), kRunbookName)) {
      Report(key.Mark(), item.path, std::string(kRunbookName.what), Describe(key));
      continue;
    }
    if (config.FindRunbook(key.Scalar()) != nullptr) {
      Report(key.Mark(), item.path, "each runbook name once", "a second " + Quote(key.Scalar()));
      continue;
    }
    RunbookConfig rb;
    rb.name = key.Scalar();
    rb.where = Where(key.Mark());
    const std::optional<std::vector<Field>> steps =
        Elements(item, "a non-empty sequence of steps {name, kind, params, ...}");
    if (!steps) continue;
    if (steps->empty()) {
      Report(At(item), item.path, "a non-empty sequence of steps", "an empty sequence");
      continue;
    }
    std::map<std::string, std::string> names;
    for (const Field& s : *steps) {
      if (std::optional<RunbookStepConfig> step = ReadStep(s, config, names)) {
        rb.steps.push_back(std::move(*step));
      }
    }
    config.runbooks.push_back(std::move(rb));
  }
}

std::optional<RunbookStepConfig> ConfigReader::ReadStep(const Field& item, const Config& config,
                                                        std::map<std::string, std::string>& names) {
  const std::optional<Mapping> m =
      FieldMapping(item, "a step mapping with name and kind", kStepKeys);
  if (!m) return std::nullopt;
  RunbookStepConfig step;
  step.where = Where(At(item));
  bool ok = true;
  if (const Field* n = Require(*m, "name", "a non-empty step name")) {
    if (auto name = ReadFreeName(*n, "a non-empty step name")) {
      const size_t before = errors_.size();
      Define(names, *name, item.path, *n, "a step name");
      ok = ok && errors_.size() == before;
      step.name = *name;
    } else {
      ok = false;
    }
  } else {
    ok = false;
  }
  std::optional<size_t> kind;
  const std::vector<std::string_view>& kinds = StepKindNames();
  if (const Field* k = Require(*m, "kind", "a step kind: one of " + JoinKeys(kinds))) {
    kind = ReadChoice(*k, kinds, "a step kind");
  }
  if (!kind) ok = false;
  if (const Field* t = m->Find("timeout")) {
    if (auto d = ReadDuration(*t, std::chrono::milliseconds(100), std::chrono::hours(24),
                              "a duration from 100ms to 24h")) {
      step.timeout = *d;
    } else {
      ok = false;
    }
  }
  if (const Field* r = m->Find("retries")) {
    if (auto n = ReadInteger(*r, 0, 100, "an integer 0-100")) {
      step.retries = static_cast<int>(*n);
    } else {
      ok = false;
    }
  }
  if (const Field* b = m->Find("backoff")) {
    if (auto d = ReadDuration(*b, Duration(0), std::chrono::hours(1), "a duration from 0 to 1h")) {
      step.backoff = *d;
    } else {
      ok = false;
    }
  }
  if (!kind) {
    return std::nullopt;
  }
  step.kind = std::string(kinds[*kind]);
  const StepKind& row = StepKinds()[*kind];
  std::vector<std::string_view> allowed;
  for (const StepParam& p : row.params) allowed.push_back(p.name);
  std::optional<Mapping> params;
  if (const Field* p = m->Find("params")) {
    if (p->value.IsNull() || (p->value.IsMap() && p->value.size() == 0)) {
      params = Mapping{p->path, p->key.Mark(), {}};
    } else if (allowed.empty()) {
      Report(At(*p), p->path, "no params: an " + step.kind + " step takes none",
             Describe(p->value));
      return std::nullopt;
    } else {
      params = FieldMapping(
          *p, "a mapping of the " + step.kind + " step's parameters: " + JoinKeys(allowed),
          allowed);
    }
  } else {
    params = Mapping{Child(item.path, "params"), m->mark, {}};
  }
  if (!params) return std::nullopt;
  const size_t before = errors_.size();
  for (const Field& p : params->fields) {
    if (std::optional<std::string> value = ReadScalar(p, "a scalar value")) {
      step.params.emplace_back(p.key.Scalar(), std::move(*value));
    }
  }
  if (errors_.size() == before) CheckStepParams(row, *params, config);
  if (errors_.size() != before) ok = false;
  return ok ? std::optional<RunbookStepConfig>(std::move(step)) : std::nullopt;
}

void ConfigReader::CheckStepParams(const StepKind& kind, const Mapping& params,
                                   const Config& config) {
  std::map<std::string, std::string> regions;
  for (const RegionSpec& s : config.regions) regions.emplace(s.name, "");
  const auto report_region = [&](const Field& f) {
    Report(At(f), f.path, WithHint(Known("a region name", regions), f.value.Scalar(), regions),
           Quote(f.value.Scalar()));
  };
  // The region the step acts on: its kStepRegion parameter, else the kind's default.
  const RegionSpec* region = nullptr;
  for (const StepParam& p : kind.params) {
    if (p.type != StepParamType::kStepRegion) continue;
    if (const Field* r = params.Find(p.name)) {
      region = config.FindRegion(r->value.Scalar());
      if (region == nullptr) {
        report_region(*r);
        return;
      }
    }
  }
  if (region == nullptr) {
    for (const RegionSpec& s : config.regions) {
      if (s.role == kind.region_default) region = &s;
    }
  }
  if (!kind.either.empty() && params.Find(kind.either) == nullptr &&
      params.Find(kind.or_else) == nullptr) {
    const StepParam* either = FindStepParam(kind, kind.either);
    Report(params.mark, Child(params.path, kind.either),
           std::string(either->expected) + " (or a " + std::string(kind.or_else) + ")",
           "neither '" + std::string(kind.either) + "' nor '" + std::string(kind.or_else) + "'");
  }
  for (const StepParam& p : kind.params) {
    const Field* f = params.Find(p.name);
    if (p.required && f == nullptr) {
      Report(params.mark, Child(params.path, p.name), std::string(p.expected),
             "no '" + std::string(p.name) + "' parameter");
      continue;
    }
    if (f == nullptr) continue;
    const std::string& v = f->value.Scalar();
    if (p.required && v.empty()) {
      Report(At(*f), f->path, std::string(p.expected), "''");
      continue;
    }
    const auto refuse = [&] { Report(At(*f), f->path, std::string(p.expected), Quote(v)); };
    switch (p.type) {
      case StepParamType::kStepRegion:  // checked above
      case StepParamType::kCommand:
      case StepParamType::kText:
        break;
      case StepParamType::kRegion:
        if (config.FindRegion(v) == nullptr) report_region(*f);
        break;
      case StepParamType::kNodeGroup: {
        if (region == nullptr) break;
        std::map<std::string, std::string> groups;
        for (const NodeGroupSpec& s : region->node_groups) groups.emplace(s.name, "");
        if (groups.count(v) == 0) {
          Report(At(*f), f->path,
                 WithHint(Known("a node group of region " + region->name, groups), v, groups),
                 Quote(v));
        }
        break;
      }
      case StepParamType::kGroupSize: {
        const std::optional<int64_t> n = ParseInteger(v);
        if (v != "production" && v != "pilot_light" && v != "pilot-light" &&
            !(n && *n >= 0 && *n <= kMaxGroupSize && v[0] != '-')) {
          refuse();
        }
        break;
      }
      case StepParamType::kReadyWhen:
        if (v != "ready" && v != "answering") refuse();
        break;
      case StepParamType::kUrl:
        if (!WebhookUrlProblem(v).empty() || v.find(':', 7) == std::string::npos) refuse();
        break;
      case StepParamType::kRecord: {
        std::string record;
        ReadControllerRecord(*f, config, record);
        break;
      }
      case StepParamType::kRoutingTarget:
        if (!dns::ParseRoutingTarget(v).ok()) refuse();
        break;
      case StepParamType::kShiftSteps: {
        // Percentages for the primary, rising, ending at 100: "25,50,100".
        int last = 0;
        bool good = !v.empty();
        std::stringstream in(v);
        for (std::string part; good && std::getline(in, part, ',');) {
          const std::optional<int64_t> n = ParseInteger(part);
          good = n && *n > last && *n <= 100;
          if (good) last = static_cast<int>(*n);
        }
        if (!good || last != 100) refuse();
        break;
      }
      case StepParamType::kPause: {
        Result<Duration> d = ParseDuration(v);
        if (!d.ok() || *d < Duration::zero()) refuse();
        break;
      }
      case StepParamType::kReplicatorAction:
        if (v != "reverse" && v != "pause" && v != "resume") refuse();
        break;
      case StepParamType::kTopic:
        if (!KnownTopic(v, config)) Report(At(*f), f->path, TopicExpectation(v), Quote(v));
        break;
    }
  }
}

}  // namespace pilotlight::config
