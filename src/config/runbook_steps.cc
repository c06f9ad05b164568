#include "config/runbook_steps.h"

namespace pilotlight::config {
namespace {

using T = StepParamType;

constexpr char kTheDr[] = "the DR region";
constexpr char kThePrimary[] = "the primary region";
constexpr char kRegionName[] = "a region name";

constexpr StepParam kScale[] = {
    {"region", T::kStepRegion, false, kRegionName, "", kTheDr},
    {"group", T::kNodeGroup, true, "a node group name", "", ""},
    {"size", T::kGroupSize, false, "production, pilot_light or a whole number 0-10000",
     "production", ""},
    {"until", T::kReadyWhen, false, "ready or answering", "ready", ""},
};
constexpr StepParam kFence[] = {{"region", T::kStepRegion, false, kRegionName, "", kThePrimary}};
constexpr StepParam kPromote[] = {{"region", T::kStepRegion, false, kRegionName, "", kTheDr}};
constexpr StepParam kDns[] = {
    {"record", T::kRecord, false, "a DNS record name such as api", "", "the controller's record"},
    {"to", T::kRoutingTarget, false, "primary, secondary, auto or weights:ID=N,...", "secondary",
     ""},
};
constexpr StepParam kReplicate[] = {
    {"replicator", T::kText, false, "the replicator's name, for messages", "", ""},
    {"action", T::kReplicatorAction, true, "reverse, pause or resume", "", ""},
    {"command", T::kCommand, true, "the shell command that controls the replicator", "", ""},
    {"done_check", T::kCommand, false, "a shell command that exits 0 when already done", "", ""},
};
constexpr StepParam kNotify[] = {
    {"topic", T::kTopic, false, "a topic", "", "the controller's events topic"},
    {"message", T::kText, false, "the message", "", "the step's name"},
};
constexpr StepParam kExec[] = {
    {"command", T::kCommand, true, "a shell command", "", ""},
    {"done_check", T::kCommand, false, "a shell command that exits 0 when already done", "", ""},
};
constexpr StepParam kWaitHealthy[] = {
    {"region", T::kStepRegion, false, kRegionName, "", kTheDr},
    {"group", T::kNodeGroup, false, "a node group", "", ""},
    {"url", T::kUrl, false, "an http://HOST:PORT/PATH URL", "", ""},
};
constexpr StepParam kRegionFrom[] = {
    {"region", T::kStepRegion, false, kRegionName, "", kThePrimary},
    {"from", T::kRegion, false, kRegionName, "", "the other region"},
};
constexpr StepParam kFromTo[] = {
    {"from", T::kRegion, false, kRegionName, "", kTheDr},
    {"to", T::kRegion, false, kRegionName, "", "the other region"},
};
constexpr StepParam kDnsShift[] = {
    {"record", T::kRecord, false, "a DNS record name such as api", "", "the controller's record"},
    {"steps", T::kShiftSteps, false, "rising percentages ending at 100, such as 25,50,100", "100",
     ""},
    {"pause", T::kPause, false, "a duration such as 30s", "0", ""},
};

constexpr StepKind kKinds[] = {
    {"scale", "scales a node group and waits until it is ready", kScale},
    {"fence", "makes the old primary database refuse writes", kFence, RegionRole::kPrimary},
    {"promote", "promotes the DR replica (refused while the old primary may write)", kPromote},
    {"dns", "routes a DNS record", kDns},
    {"replicate", "reverses, pauses or resumes a replicator through its command", kReplicate},
    {"notify", "publishes a message to a topic", kNotify},
    {"exec", "runs a shell command", kExec},
    {"wait_healthy", "waits until every instance of a group is ready, or a URL answers 2xx",
     kWaitHealthy, RegionRole::kDr, "group", "url"},
    {"approve", "waits for `pilotlight approve`", {}},
    {"rejoin", "turns the region's server into a standby of `from`", kRegionFrom,
     RegionRole::kPrimary, "", "", true},
    {"sync_objects", "copies every shared bucket from `from` to `to`", kFromTo, RegionRole::kDr, "",
     "", true},
    {"validate_standby", "waits until the standby streams with a lag under the limit", kRegionFrom,
     RegionRole::kPrimary, "", "", true},
    {"switchover", "fences `from`, waits for `to` to replay it all, promotes `to`", kFromTo,
     RegionRole::kDr, "", "", true},
    {"dns_shift", "moves a record's weight back in steps, with a pause between", kDnsShift,
     RegionRole::kDr, "", "", true},
};

}  // namespace

std::span<const StepKind> StepKinds() { return kKinds; }

const StepKind* FindStepKind(std::string_view kind) {
  for (const StepKind& k : kKinds) {
    if (k.name == kind) return &k;
  }
  return nullptr;
}

const StepParam* FindStepParam(const StepKind& kind, std::string_view param) {
  for (const StepParam& p : kind.params) {
    if (p.name == param) return &p;
  }
  return nullptr;
}

std::string_view StepParamDefault(std::string_view kind, std::string_view param) {
  const StepKind* k = FindStepKind(kind);
  const StepParam* p = k == nullptr ? nullptr : FindStepParam(*k, param);
  return p == nullptr ? std::string_view() : p->default_value;
}

std::string StepKindsReference() {
  std::string out = "| kind | what it does | parameters |\n| --- | --- | --- |\n";
  for (const StepKind& k : kKinds) {
    std::string params;
    for (const StepParam& p : k.params) {
      if (!params.empty()) params += "; ";
      params += "`" + std::string(p.name) + "`" + (p.required ? " (required)" : "") + ": " +
                std::string(p.expected);
      if (!p.default_value.empty()) params += ", default " + std::string(p.default_value);
      if (!p.default_note.empty()) params += ", default " + std::string(p.default_note);
    }
    if (!k.either.empty()) {
      params += "; `" + std::string(k.either) + "` or `" + std::string(k.or_else) + "` required";
    }
    if (params.empty()) params = "none";
    out += "| `" + std::string(k.name) + "` | " + std::string(k.summary) +
           (k.failback ? " (failback)" : "") + " | " + params + " |\n";
  }
  return out;
}

}  // namespace pilotlight::config
