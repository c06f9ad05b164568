#include "controller/failback_actions.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace pilotlight::controller {
namespace {

TEST(ParseShiftSteps, Table) {
  struct Row {
    const char* text;
    bool ok;
    std::vector<int> steps;
  };
  const Row rows[] = {
      {"100", true, {100}},
      {"25,50,100", true, {25, 50, 100}},
      {"1,100", true, {1, 100}},
      {"", false, {}},
      {"50", false, {}},         // never reaches 100
      {"50,25,100", false, {}},  // not growing
      {"25,25,100", false, {}},
      {"0,100", false, {}},
      {"25,,100", false, {}},
      {"25,50,100,", false, {}},
      {"-5,100", false, {}},
      {"101", false, {}},
      {"9999999999999,100", false, {}},
  };
  for (const Row& r : rows) {
    Result<std::vector<int>> got = ParseShiftSteps(r.text);
    EXPECT_EQ(got.ok(), r.ok) << r.text;
    if (got.ok() && r.ok) EXPECT_EQ(*got, r.steps) << r.text;
  }
}

TEST(WeightsFor, Table) {
  const std::vector<RecordSetShape> two = {{"east", "", {"10.0.1.1"}}, {"west", "", {"10.0.2.1"}}};
  const std::vector<RecordSetShape> three = {
      {"a", "", {"10.0.1.1"}}, {"b", "", {"10.0.2.1"}}, {"c", "", {"10.0.2.2"}}};
  struct Row {
    const char* name;
    const std::vector<RecordSetShape>* sets;
    std::vector<std::string> region_values;
    int share;
    const char* want;  // nullptr: an error
  };
  const Row rows[] = {
      {"25 % to east", &two, {"10.0.1.1"}, 25, "weights:east=25,west=75"},
      {"all to east", &two, {"10.0.1.1"}, 100, "weights:east=100,west=0"},
      {"the other region's sets split the rest",
       &three,
       {"10.0.1.1"},
       50,
       "weights:a=50,b=25,c=25"},
      {"two sets of the region split its share",
       &three,
       {"10.0.2.1", "10.0.2.2"},
       25,
       "weights:b=13,c=12,a=75"},
      {"no set of the region", &two, {"10.9.9.9"}, 50, nullptr},
  };
  for (const Row& r : rows) {
    Result<std::string> got = WeightsFor(*r.sets, r.region_values, r.share);
    if (r.want == nullptr) {
      EXPECT_FALSE(got.ok()) << r.name;
    } else {
      ASSERT_TRUE(got.ok()) << r.name << ": " << got.status().ToString();
      EXPECT_EQ(*got, r.want) << r.name;
    }
  }
}

// dns_shift over real zone and override files: a weighted record reaches 100 %
// for the primary through the steps; a failover record is pointed at the primary.
class DnsShiftTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/pilotlight-dns-shift-XXXXXX";
    dir_ = mkdtemp(tmpl);
    spec_.primary_region = "east";
    spec_.dr_region = "west";
    spec_.primary_db.host = "10.0.1.1";
    spec_.dr_db.host = "10.0.2.1";
    spec_.dns.zone_file = dir_ + "/zone.yaml";
    spec_.dns.overrides_file = dir_ + "/overrides";
    spec_.dns.record = "api";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void WriteZone(const std::string& record) {
    std::ofstream(dir_ + "/zone.yaml") << "zones:\n"
                                          "  - origin: lab.test.\n"
                                          "    ns: [ns1]\n"
                                          "    records:\n"
                                          "      - {name: ns1, type: A, values: [10.0.3.1]}\n"
                                       << record;
  }
  std::string Overrides() const {
    std::ifstream in(dir_ + "/overrides");
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  runbook::StepSpec Step(const std::string& steps) const {
    return {"shift", "dns_shift", {{"to", "east"}, {"steps", steps}, {"pause", "0"}}};
  }

  std::string dir_;
  ControllerSpec spec_;
  FakeClock clock_;
};

TEST_F(DnsShiftTest, WeightedRecordEndsAllOnThePrimary) {
  WriteZone(
      "      - name: api\n"
      "        type: A\n"
      "        weighted:\n"
      "          - {id: east, weight: 0, values: [10.0.1.1]}\n"
      "          - {id: west, weight: 1, values: [10.0.2.1]}\n");
  Adapters a;
  a.spec = &spec_;
  a.clock = &clock_;
  ActionSet actions(a);
  runbook::StepAction* shift = actions.Find("dns_shift");
  ASSERT_NE(shift, nullptr);
  const runbook::StepSpec step = Step("25,50,100");
  ASSERT_TRUE(shift->Precondition(step).ok()) << shift->Precondition(step).ToString();
  EXPECT_FALSE(*shift->AlreadyDone(step));
  Status st = shift->Run(step, clock_.Monotonic() + std::chrono::seconds(10));
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_NE(Overrides().find("east=100"), std::string::npos) << Overrides();
  EXPECT_NE(Overrides().find("west=0"), std::string::npos) << Overrides();
  EXPECT_TRUE(*shift->AlreadyDone(step));
  Result<std::vector<std::string>> answers = CurrentAnswers(spec_.dns, clock_.Now());
  ASSERT_TRUE(answers.ok()) << answers.status().ToString();
  EXPECT_EQ(*answers, std::vector<std::string>{"10.0.1.1"});
  // Bad steps are refused before anything is written.
  EXPECT_FALSE(shift->Precondition(Step("50,25")).ok());
}

TEST_F(DnsShiftTest, FailoverRecordIsPointedAtThePrimary) {
  WriteZone(
      "      - name: api\n"
      "        type: A\n"
      "        failover:\n"
      "          primary: {values: [10.0.1.1]}\n"
      "          secondary: {values: [10.0.2.1]}\n");
  ASSERT_TRUE(SwitchRecord(spec_.dns, "secondary", clock_.Now()).ok());  // failed over
  Adapters a;
  a.spec = &spec_;
  a.clock = &clock_;
  ActionSet actions(a);
  runbook::StepAction* shift = actions.Find("dns_shift");
  const runbook::StepSpec step = Step("25,50,100");  // steps do not apply: switched at once
  EXPECT_FALSE(*shift->AlreadyDone(step));
  ASSERT_TRUE(shift->Run(step, clock_.Monotonic() + std::chrono::seconds(10)).ok());
  EXPECT_NE(Overrides().find("api.lab.test. primary"), std::string::npos) << Overrides();
  EXPECT_TRUE(*shift->AlreadyDone(step));
  EXPECT_EQ(*CurrentAnswers(spec_.dns, clock_.Now()), std::vector<std::string>{"10.0.1.1"});
}

}  // namespace
}  // namespace pilotlight::controller
