// The failover's `dns` step and the failback's `dns_shift` step against a real Knot
// DNS named in `dns.publishers` (RFC 2136 with a TSIG key from its secret_file):
// the config is loaded as the controller loads it, the steps run through the
// runbook executor and its journal, and dig asks Knot what it answers.
//
// On main the dns step only wrote the embedded server's override file and was
// journaled as succeeded while Knot still answered the old primary; here Knot
// must answer the DR address when the step succeeds, and a publisher with the
// wrong TSIG key fails the step (every attempt, none skipped) with Knot's
// address in the journal.
#include <gtest/gtest.h>

#include <fstream>

#include "config/loader.h"
#include "controller/actions.h"
#include "controller/spec.h"
#include "knot_fixture.h"
#include "runbook/executor.h"
#include "runbook/journal.h"

namespace pilotlight {
namespace {

using testing::Dig;
using testing::DigSection;
using testing::KnotServer;
using testing::LastFields;

// Documentation addresses: nothing needs to listen on them.
constexpr const char* kPrimary = "192.0.2.10";
constexpr const char* kDr = "198.51.100.10";

constexpr const char* kKnotZone =
    "$ORIGIN pilotlight.test.\n"
    "$TTL 60\n"
    "@   SOA ns1 hostmaster 1 3600 600 604800 30\n"
    "@   NS  ns1\n"
    "ns1 A   127.0.0.1\n"
    "api A   192.0.2.10\n";

class DnsPublishStepTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Status started = knot_.Start("pilotlight.test", kKnotZone);
    ASSERT_TRUE(started.ok()) << started.ToString();
  }
  void TearDown() override {
    if (HasFailure()) std::cerr << "knotd log:\n" << knot_.Log();
    knot_.Stop();
  }

  // The controller's spec from a config whose dns.publishers names Knot, with
  // `secret` in the TSIG secret file.
  controller::ControllerSpec Spec(const std::string& secret) {
    std::ofstream(dir_.Join("tsig.key")) << secret << "\n";
    const std::string path = dir_.Join("pilotlight.yaml");
    std::ofstream(path) << "platform: dns-publish-test\n"
                           "regions:\n"
                           "  - {name: east, role: primary, address: "
                        << kPrimary
                        << "}\n"
                           "  - {name: west, role: dr, address: "
                        << kDr
                        << "}\n"
                           "dns:\n"
                           "  zones:\n"
                           "    - origin: pilotlight.test.\n"
                           "      ns: [ns1]\n"
                           "      records:\n"
                           "        - {name: ns1, type: A, values: [127.0.0.1]}\n"
                           "        - name: api\n"
                           "          type: A\n"
                           "          ttl: 5\n"
                           "          failover:\n"
                           "            primary: {values: ["
                        << kPrimary
                        << "]}\n"
                           "            secondary: {values: ["
                        << kDr
                        << "]}\n"
                           "  publishers:\n"
                           "    - server: 127.0.0.1:"
                        << knot_.port()
                        << "\n"
                           "      zone: pilotlight.test.\n"
                           "      timeout: 2s\n"
                           "      attempts: 2\n"
                           "      backoff: 100ms\n"
                           "      tsig: {name: "
                        << KnotServer::kKeyName
                        << ", secret_file: tsig.key}\n"
                           "controller:\n"
                           "  state_dir: "
                        << dir_.Join("controller") << "\n";
    Result<config::Config> c = config::LoadConfigOrError(path);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    if (!c.ok()) return {};
    Result<controller::ControllerSpec> s = controller::DefaultLabSpec(*c, dir_.path(), {});
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    if (!s.ok()) return {};
    std::filesystem::create_directories(dir_.Join("dns"));
    std::filesystem::create_directories(s->state_dir);
    std::ofstream(s->dns.zone_file) << controller::DefaultLabZone(*c, s->dns.record);
    return *s;
  }

  // The one step of `kind` of the spec's `runbook`, as a runbook of its own.
  static runbook::RunbookSpec OnlyStep(const controller::ControllerSpec& s,
                                       const std::string& runbook, const std::string& kind) {
    runbook::RunbookSpec out{runbook + "-" + kind, {}};
    const runbook::RunbookSpec* r = s.FindRunbook(runbook);
    if (r == nullptr) return out;
    for (const runbook::StepSpec& step : r->steps) {
      if (step.kind == kind) out.steps.push_back(step);
    }
    return out;
  }

  // Runs the runbook as the controller does and returns the journal's record.
  runbook::RunRecord Execute(const controller::ControllerSpec& s, const runbook::RunbookSpec& r) {
    Result<std::unique_ptr<runbook::Journal>> journal = runbook::Journal::Open(s.JournalPath());
    EXPECT_TRUE(journal.ok()) << journal.status().ToString();
    if (!journal.ok()) return {};
    controller::Adapters a;
    a.spec = &s;
    a.clock = &clock_;
    controller::ActionSet actions(a);
    runbook::Executor executor(**journal, clock_, actions.Lookup());
    Result<runbook::RunReport> report = executor.Run(r, "test");
    EXPECT_TRUE(report.ok()) << report.status().ToString();
    if (!report.ok()) return {};
    Result<runbook::RunRecord> record = (*journal)->LoadRun(report->run_id);
    EXPECT_TRUE(record.ok()) << record.status().ToString();
    return record.ok() ? *record : runbook::RunRecord{};
  }

  std::vector<std::string> KnotAnswers() {
    return LastFields(
        DigSection(Dig("127.0.0.1", knot_.port(), {"api.pilotlight.test.", "A"}), "ANSWER"));
  }
  static std::string Steps(const runbook::RunRecord& r) {
    std::string out;
    for (const runbook::StepRecord& s : r.steps) {
      out += s.name + " #" + std::to_string(s.attempt) + ": " + OutcomeName(s.outcome) + " " +
             s.detail + "\n";
    }
    return out;
  }

  testing::ScratchDir dir_{"dns-publish-step"};
  KnotServer knot_;
  Clock& clock_ = SystemClock::Instance();  // TSIG signs with the real time
};

TEST_F(DnsPublishStepTest, FailoverPointsKnotAtDrAndFailbackShiftsItBack) {
  const controller::ControllerSpec spec = Spec(KnotServer::kSecret);
  ASSERT_FALSE(spec.dns.publishers.empty());
  ASSERT_EQ(KnotAnswers(), std::vector<std::string>{kPrimary});

  const runbook::RunbookSpec failover = OnlyStep(spec, "failover", "dns");
  ASSERT_EQ(failover.steps.size(), 1u);
  runbook::RunRecord run = Execute(spec, failover);
  ASSERT_EQ(run.outcome, "succeeded") << Steps(run);
  // Knot itself answers the DR address, with the zone's TTL.
  const std::string out = Dig("127.0.0.1", knot_.port(), {"api.pilotlight.test.", "A"});
  EXPECT_EQ(LastFields(DigSection(out, "ANSWER")), std::vector<std::string>{kDr}) << out;
  EXPECT_NE(out.find("\t5\tIN\tA"), std::string::npos) << out;
  EXPECT_NE(knot_.Log().find("DDNS"), std::string::npos) << knot_.Log();

  // Run again: every server answers it already, so the step is skipped.
  run = Execute(spec, failover);
  ASSERT_EQ(run.outcome, "succeeded") << Steps(run);
  EXPECT_EQ(run.steps.back().outcome, runbook::StepOutcome::kSkipped) << Steps(run);

  // Failback's shift goes to Knot the same way.
  const runbook::RunbookSpec failback = OnlyStep(spec, "failback", "dns_shift");
  ASSERT_EQ(failback.steps.size(), 1u);
  run = Execute(spec, failback);
  ASSERT_EQ(run.outcome, "succeeded") << Steps(run);
  EXPECT_EQ(KnotAnswers(), std::vector<std::string>{kPrimary});
}

TEST_F(DnsPublishStepTest, WrongTsigKeyFailsTheStepWithKnotNamedInTheJournal) {
  // A valid key of the right length, but not Knot's.
  const controller::ControllerSpec spec = Spec("c2VjcmV0LW9mLWFub3RoZXItcGxhdGZvcm0tMDAwMDA=");
  ASSERT_FALSE(spec.dns.publishers.empty());
  runbook::RunRecord run = Execute(spec, OnlyStep(spec, "failover", "dns"));
  EXPECT_EQ(run.outcome, "failed") << Steps(run);
  ASSERT_FALSE(run.steps.empty());
  // Every attempt ran and failed: the switched override file did not make a retry
  // look done.
  for (const runbook::StepRecord& s : run.steps) {
    EXPECT_EQ(s.outcome, runbook::StepOutcome::kFailed) << Steps(run);
    EXPECT_NE(s.detail.find("RFC 2136 server 127.0.0.1:" + std::to_string(knot_.port())),
              std::string::npos)
        << s.detail;
  }
  EXPECT_GT(run.steps.size(), 1u) << Steps(run);
  EXPECT_EQ(KnotAnswers(), std::vector<std::string>{kPrimary});
}

}  // namespace
}  // namespace pilotlight
