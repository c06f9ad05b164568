// The runbooks section, checked against the step table (config/runbook_steps.h).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config/loader.h"
#include "config/loader_test_util.h"
#include "config/runbook_steps.h"

namespace pilotlight::config {
namespace {

using namespace loader_test;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

// The built-in events topic and the regions' default of each kind need no definition.
TEST(RunbookSchemaTest, RunbookStepsMayLeaveDefaultsOut) {
  const LoadResult r =
      ParseConfig(Rb("    - {name: a, kind: fence}\n    - {name: b, kind: promote}\n"
                     "    - {name: c, kind: notify, params: {topic: controller}}\n"
                     "    - {name: d, kind: dns}\n    - {name: e, kind: approve, params: {}}\n"),
                  "d.yaml");
  ASSERT_TRUE(r.ok()) << AllErrors(r);
  ASSERT_EQ(r.config->runbooks.size(), 1u);
  EXPECT_EQ(r.config->runbooks[0].steps.size(), 5u);
}

// A failback runbook written out with every failback step kind.
TEST(RunbookSchemaTest, FailbackStepKindsLoad) {
  const LoadResult r = ParseConfig(
      Tail("runbooks:\n  failback:\n"
           "    - {name: a, kind: rejoin, params: {region: east, from: west}}\n"
           "    - {name: b, kind: sync_objects, params: {from: west, to: east}}\n"
           "    - {name: c, kind: validate_standby, params: {region: east}}\n"
           "    - {name: d, kind: switchover, params: {from: west, to: east}}\n"
           "    - {name: e, kind: dns_shift, params: {steps: '25,50,100', pause: 30s}}\n"),
      "f.yaml");
  ASSERT_TRUE(r.ok()) << AllErrors(r);
  ASSERT_EQ(r.config->runbooks.size(), 1u);
  ASSERT_EQ(r.config->runbooks[0].steps.size(), 5u);
  EXPECT_EQ(r.config->runbooks[0].steps[4].kind, "dns_shift");
  const auto& params = r.config->runbooks[0].steps[4].params;
  ASSERT_FALSE(params.empty());
  EXPECT_EQ(params[0], (std::pair<std::string, std::string>("steps", "25,50,100")));
}

// Each row holds exactly one mistake and must yield exactly one error.
const std::vector<BadCase>& BadCases() {
  static const std::vector<BadCase> cases = {
      {"unknown step kind", Rb("    - {name: s, kind: scael}\n"), "runbooks.failover[0].kind", 11,
       23, "did you mean 'scale'?"},
      {"scale step names an unknown group",
       Rb("    - {name: s, kind: scale, params: {group: web}}\n"),
       "runbooks.failover[0].params.group", 11, 46, "a node group of region west"},
      {"scale step without group", Rb("    - {name: s, kind: scale, params: {size: 3}}\n"),
       "runbooks.failover[0].params.group", 11, 38, "no 'group' parameter"},
      {"promote step names an unknown region",
       Rb("    - {name: s, kind: promote, params: {region: north}}\n"),
       "runbooks.failover[0].params.region", 11, 49, "a region name (east, west)"},
      {"dns step names an unknown record",
       Zone("runbooks:\n  failover:\n    - {name: s, kind: dns, params: {record: www, to: "
            "secondary}}\n"),
       "runbooks.failover[0].params.record", 17, 45, "a record of the zones under dns.zones (ns1)"},
      {"dns step with a bad target", Rb("    - {name: s, kind: dns, params: {to: sideways}}\n"),
       "runbooks.failover[0].params.to", 11, 41, "weights:ID=N"},
      {"notify step names an unknown topic",
       Rb("    - {name: s, kind: notify, params: {topic: pager}}\n"),
       "runbooks.failover[0].params.topic", 11, 47, "a topic defined under topics"},
      {"notify names the built-in topic after a rename",
       Tail("topics:\n  - {name: ops, subscribers: []}\ncontroller: {events_topic: "
            "ops}\nrunbooks:\n  failover:\n    - {name: s, kind: notify, params: {topic: "
            "controller}}\n"),
       "runbooks.failover[0].params.topic", 14, 47, "'controller'"},
      {"step timeout without unit", Rb("    - {name: s, kind: fence, timeout: 5}\n"),
       "runbooks.failover[0].timeout", 11, 39, "needs a unit"},
      {"negative step retries", Rb("    - {name: s, kind: fence, retries: -1}\n"),
       "runbooks.failover[0].retries", 11, 39, "an integer 0-100"},
      {"duplicate step names", Rb("    - {name: s, kind: fence}\n    - {name: s, kind: promote}\n"),
       "runbooks.failover[1].name", 12, 14, "a step name used once"},
      {"misspelt step parameter", Rb("    - {name: s, kind: fence, params: {regoin: west}}\n"),
       "runbooks.failover[0].params.regoin", 11, 39, "did you mean 'region'?"},
      {"exec step without command",
       Rb("    - {name: s, kind: exec, params: {done_check: 'true'}}\n"),
       "runbooks.failover[0].params.command", 11, 37, "no 'command' parameter"},
      {"replicate step with a bad action",
       Rb("    - {name: s, kind: replicate, params: {action: flip, command: x}}\n"),
       "runbooks.failover[0].params.action", 11, 51, "reverse, pause or resume"},
      {"switchover names an unknown region",
       Rb("    - {name: s, kind: switchover, params: {from: west, to: south}}\n"),
       "runbooks.failover[0].params.to", 11, 60, "a region name (east, west)"},
      {"dns_shift steps that do not end at 100",
       Rb("    - {name: s, kind: dns_shift, params: {steps: '25,50'}}\n"),
       "runbooks.failover[0].params.steps", 11, 50, "ending at 100"},
      {"dns_shift steps that fall",
       Rb("    - {name: s, kind: dns_shift, params: {steps: '50,25,100'}}\n"),
       "runbooks.failover[0].params.steps", 11, 50, "rising percentages"},
      {"rejoin with a misspelt parameter",
       Rb("    - {name: s, kind: rejoin, params: {form: east}}\n"),
       "runbooks.failover[0].params.form", 11, 40, "did you mean 'from'?"},
      {"step parameter is a sequence",
       Rb("    - {name: s, kind: fence, params: {region: [west]}}\n"),
       "runbooks.failover[0].params.region", 11, 47, "a sequence"},
      {"approve step with params", Rb("    - {name: s, kind: approve, params: {by: ops}}\n"),
       "runbooks.failover[0].params", 11, 40, "takes none"},
      {"empty runbook", Tail("runbooks:\n  failover: []\n"), "runbooks.failover", 10, 13,
       "a non-empty sequence of steps"},
      {"runbooks is a sequence", Tail("runbooks:\n  - name: x\n"), "runbooks", 10, 3,
       "a mapping from runbook names"},
  };
  return cases;
}

TEST(RunbookSchemaTest, ReportsEachKindOfBadInputWithItsLocation) {
  ASSERT_GE(BadCases().size(), 20u);
  ExpectOneErrorEach(BadCases());
}

// The step table is the schema: what follows holds for every row, so a new step
// kind is tested by adding its row.

// A value each parameter type accepts in the config below (region west has the
// node group web; without dns.zones any record name will do).
std::string ValidValue(StepParamType type) {
  switch (type) {
    case StepParamType::kStepRegion:
      return "west";
    case StepParamType::kRegion:
      return "east";
    case StepParamType::kNodeGroup:
      return "web";
    case StepParamType::kGroupSize:
      return "production";
    case StepParamType::kReadyWhen:
      return "answering";
    case StepParamType::kUrl:
      return "http://127.0.2.1:8080/health";
    case StepParamType::kRecord:
      return "api";
    case StepParamType::kRoutingTarget:
      return "secondary";
    case StepParamType::kShiftSteps:
      return "'50,100'";
    case StepParamType::kPause:
      return "2s";
    case StepParamType::kReplicatorAction:
      return "pause";
    case StepParamType::kTopic:
      return "controller";
    case StepParamType::kCommand:
      return "'true'";
    case StepParamType::kText:
      return "x";
  }
  return "";
}

std::string WithWebGroup(const std::string& tail) {
  return std::string(kHead) + kEast + kWest + "    node_groups: [{name: web}]\n" + tail;
}

TEST(RunbookSchemaTest, EveryStepKindLoadsWithEveryParameterOfTheTable) {
  std::string steps;
  for (const StepKind& kind : StepKinds()) {
    steps += "    - {name: " + std::string(kind.name) + ", kind: " + std::string(kind.name);
    std::string params;
    for (const StepParam& p : kind.params) {
      params += (params.empty() ? "" : ", ") + std::string(p.name) + ": " + ValidValue(p.type);
    }
    if (!params.empty()) steps += ", params: {" + params + "}";
    steps += "}\n";
  }
  const LoadResult r = ParseConfig(WithWebGroup("runbooks:\n  failover:\n" + steps), "all.yaml");
  ASSERT_TRUE(r.ok()) << AllErrors(r);
  const RunbookConfig* rb = r.config->FindRunbook("failover");
  ASSERT_NE(rb, nullptr);
  ASSERT_EQ(rb->steps.size(), StepKinds().size());
  for (size_t i = 0; i < rb->steps.size(); ++i) {
    EXPECT_EQ(rb->steps[i].kind, StepKinds()[i].name);
    EXPECT_EQ(rb->steps[i].params.size(), StepKinds()[i].params.size()) << rb->steps[i].kind;
  }
}

TEST(RunbookSchemaTest, EachKindRefusesAParameterOutsideItsRow) {
  for (const StepKind& kind : StepKinds()) {
    SCOPED_TRACE(std::string(kind.name));
    const LoadResult r = ParseConfig(
        Rb("    - {name: s, kind: " + std::string(kind.name) + ", params: {bogus: 1}}\n"),
        "b.yaml");
    ASSERT_FALSE(r.errors.empty());
    if (kind.params.empty()) {
      const ConfigError& e = r.errors[0];
      EXPECT_EQ(e.field, "runbooks.failover[0].params");
      EXPECT_NE(e.expected.find("takes none"), std::string::npos) << e.ToString();
      continue;
    }
    // Missing required parameters are reported too; find the one about bogus.
    const ConfigError* bogus = nullptr;
    for (const ConfigError& x : r.errors) {
      if (x.field == "runbooks.failover[0].params.bogus") bogus = &x;
    }
    ASSERT_NE(bogus, nullptr) << AllErrors(r);
    for (const StepParam& p : kind.params) {
      EXPECT_NE(bogus->expected.find(std::string(p.name)), std::string::npos)
          << bogus->ToString();
    }
  }
}

TEST(RunbookSchemaTest, EachRequiredParameterOfTheTableIsRequired) {
  int required = 0;
  for (const StepKind& kind : StepKinds()) {
    const LoadResult r = ParseConfig(WithWebGroup("runbooks:\n  failover:\n    - {name: s, kind: " +
                                                  std::string(kind.name) + "}\n"),
                                     "r.yaml");
    for (const StepParam& p : kind.params) {
      if (!p.required) continue;
      ++required;
      const std::string field = "runbooks.failover[0].params." + std::string(p.name);
      bool reported = false;
      for (const ConfigError& e : r.errors) {
        reported = reported ||
                   (e.field == field && e.found == "no '" + std::string(p.name) + "' parameter");
      }
      EXPECT_TRUE(reported) << kind.name << "." << p.name << AllErrors(r);
    }
  }
  EXPECT_GE(required, 4);  // scale.group, replicate.action and .command, exec.command
}

TEST(RunbookSchemaTest, AnUnknownKindListsTheTable) {
  const LoadResult r = ParseConfig(Rb("    - {name: s, kind: reboot}\n"), "k.yaml");
  ASSERT_EQ(r.errors.size(), 1u) << AllErrors(r);
  for (const StepKind& kind : StepKinds()) {
    EXPECT_NE(r.errors[0].expected.find(std::string(kind.name)), std::string::npos)
        << r.errors[0].ToString();
  }
}

TEST(RunbookSchemaTest, TheReferenceAndTheDefaultsComeFromTheTable) {
  const std::string reference = StepKindsReference();
  for (const StepKind& kind : StepKinds()) {
    EXPECT_NE(reference.find("| `" + std::string(kind.name) + "` |"), std::string::npos);
    for (const StepParam& p : kind.params) {
      EXPECT_NE(reference.find("`" + std::string(p.name) + "`"), std::string::npos);
      EXPECT_EQ(StepParamDefault(kind.name, p.name), p.default_value);
    }
  }
  EXPECT_EQ(StepParamDefault("scale", "size"), "production");
  EXPECT_EQ(StepParamDefault("dns", "to"), "secondary");
  EXPECT_EQ(StepParamDefault("scale", "nonsense"), "");
  EXPECT_EQ(StepParamDefault("reboot", "size"), "");
  EXPECT_EQ(FindStepKind("reboot"), nullptr);
}

}  // namespace
}  // namespace pilotlight::config
