// The runbook step kinds and the parameters each one reads: the one table that
// the loader validates `runbooks:` against (config/schema_runbooks.cc), the
// controller's action set takes its kinds and literal defaults from
// (controller/actions.cc) and the reference documentation is rendered from
// (StepKindsReference). Adding a step kind is a row here and an action.
//
// Pure data: constant, thread-safe.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "config/model.h"

namespace pilotlight::config {

// What a parameter's value must be; the loader checks each type.
enum class StepParamType {
  kStepRegion,        // the region the step acts on (default: StepKind::region_default)
  kRegion,            // a region name
  kNodeGroup,         // a node group of the step's region
  kGroupSize,         // production | pilot_light | 0-10000
  kReadyWhen,         // ready | answering
  kUrl,               // http://HOST:PORT/PATH
  kRecord,            // a record of dns.zones (any DNS name when the config has no zones)
  kRoutingTarget,     // primary | secondary | auto | weights:ID=N,...
  kShiftSteps,        // rising percentages ending at 100, e.g. 25,50,100
  kPause,             // a duration, e.g. 30s
  kReplicatorAction,  // reverse | pause | resume
  kTopic,             // a topic under topics, or the controller's events topic
  kCommand,           // a shell command (/bin/sh -c)
  kText,              // any text
};

struct StepParam {
  std::string_view name;
  StepParamType type;
  bool required;              // absent or empty is an error
  std::string_view expected;  // what a value is, as errors and the reference word it
  // The action's value when the parameter is absent or empty: a literal
  // ("production"), or empty when the default depends on the controller's spec
  // (then `default_note` says which, for the reference).
  std::string_view default_value;
  std::string_view default_note;
};

struct StepKind {
  std::string_view name;
  std::string_view summary;  // what the step does, one line
  std::span<const StepParam> params;
  // The region a kStepRegion parameter defaults to.
  RegionRole region_default = RegionRole::kDr;
  // One of two parameters must be given (wait_healthy: group or url); empty: none.
  std::string_view either;
  std::string_view or_else;
  bool failback = false;  // an action of controller/failback_actions.cc
};

// Every step kind, in the order the reference lists them.
std::span<const StepKind> StepKinds();
// nullptr for an unknown kind or parameter.
const StepKind* FindStepKind(std::string_view kind);
const StepParam* FindStepParam(const StepKind& kind, std::string_view param);
// The literal default of a kind's parameter; "" when it has none.
std::string_view StepParamDefault(std::string_view kind, std::string_view param);
// The reference as Markdown: a table with one row per step kind.
std::string StepKindsReference();

}  // namespace pilotlight::config
