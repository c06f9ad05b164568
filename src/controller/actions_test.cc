#include "controller/actions.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "controller/state.h"

namespace pilotlight::controller {
namespace {

using namespace std::chrono_literals;

class CountingGroups : public compute::NodeGroups {
 public:
  Result<int> Size(const std::string&, const std::string&) override { return size; }
  Status SetSize(const std::string&, const std::string&, int s) override {
    size = s;
    return Status::OK();
  }
  Result<compute::GroupReadiness> Readiness(const std::string&, const std::string& g,
                                            compute::ReadyWhen when, MonoTime) override {
    last_when = when;
    compute::GroupReadiness r;
    r.desired = size;
    for (int i = 1; i <= size; ++i) r.up.push_back(g + "-" + std::to_string(i));
    return r;
  }
  Status CanScale(const std::string&, const std::string&) override { return Status::OK(); }
  int size = 1;
  compute::ReadyWhen last_when = compute::ReadyWhen::kReady;
};

class ActionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/pilotlight-actions-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    spec_.state_dir = dir_;
    spec_.primary_region = "primary";
    spec_.dr_region = "dr";
    compute::NodeGroupSpec g;
    g.region = "dr";
    g.name = "trader";
    g.production_size = 3;
    spec_.node_groups = {g};
    Adapters a;
    a.spec = &spec_;
    a.clock = &SystemClock::Instance();
    a.groups = &groups_;
    a.publish = [this](const std::string& topic, const std::string& json) {
      published_.push_back(topic + " " + json);
      return Status::OK();
    };
    a.context = &context_;
    actions_ = std::make_unique<ActionSet>(a);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  MonoTime In(Duration d) { return SystemClock::Instance().Monotonic() + d; }

  std::string dir_;
  ControllerSpec spec_;
  CountingGroups groups_;
  RunContext context_;
  std::vector<std::string> published_;
  std::unique_ptr<ActionSet> actions_;
};

TEST_F(ActionsTest, EveryKindOfTheIssueExists) {
  for (const char* k : {"scale", "fence", "promote", "dns", "replicate", "notify", "exec",
                        "wait_healthy", "approve"}) {
    EXPECT_NE(actions_->Find(k), nullptr) << k;
  }
  EXPECT_EQ(actions_->Find("teleport"), nullptr);
}

TEST_F(ActionsTest, ScaleResolvesProductionAndWaitsTheWayItIsTold) {
  runbook::StepSpec s{"scale up", "scale",
                      {{"region", "dr"}, {"group", "trader"}, {"size", "production"},
                       {"until", "answering"}}};
  runbook::StepAction* a = actions_->Find("scale");
  ASSERT_TRUE(a->Precondition(s).ok());
  ASSERT_TRUE(a->Run(s, In(5s)).ok());
  EXPECT_EQ(groups_.size, 3);
  EXPECT_EQ(groups_.last_when, compute::ReadyWhen::kAnswering);
  s.params["group"] = "nosuch";
  Status bad = a->Precondition(s);
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("no node group 'nosuch' in region dr"), std::string::npos);
}

TEST_F(ActionsTest, ExecRunsAndChecksWhetherItIsDone) {
  const std::string flag = dir_ + "/done";
  runbook::StepSpec s{"mark", "exec", {{"command", "touch " + flag}, {"done_check", "test -e " + flag}}};
  runbook::StepAction* a = actions_->Find("exec");
  EXPECT_FALSE(*a->AlreadyDone(s));
  ASSERT_TRUE(a->Run(s, In(5s)).ok());
  EXPECT_TRUE(*a->AlreadyDone(s));
  runbook::StepSpec fail{"fail", "exec", {{"command", "echo no capacity; exit 2"}}};
  Status st = a->Run(fail, In(5s));
  EXPECT_NE(st.message().find("no capacity"), std::string::npos) << st.message();
  EXPECT_FALSE(a->Precondition({"empty", "exec", {}}).ok());
}

TEST_F(ActionsTest, ReplicateNeedsAKnownActionAndACommand) {
  runbook::StepAction* a = actions_->Find("replicate");
  EXPECT_FALSE(a->Precondition({"r", "replicate", {{"action", "explode"}, {"command", "true"}}}).ok());
  EXPECT_FALSE(a->Precondition({"r", "replicate", {{"action", "reverse"}}}).ok());
  EXPECT_TRUE(a->Precondition({"r", "replicate", {{"action", "reverse"}, {"command", "true"}}}).ok());
}

TEST_F(ActionsTest, NotifyPublishesToTheTopic) {
  runbook::StepSpec s{"tell ops", "notify", {{"topic", "ops"}, {"message", "failed over"}}};
  ASSERT_TRUE(actions_->Find("notify")->Run(s, In(1s)).ok());
  ASSERT_EQ(published_.size(), 1u);
  EXPECT_EQ(published_[0].rfind("ops {", 0), 0u) << published_[0];
  EXPECT_NE(published_[0].find("\"message\":\"failed over\""), std::string::npos);
}

TEST_F(ActionsTest, ApproveWaitsForTheOperatorAndConsumesTheApproval) {
  runbook::StepAction* a = actions_->Find("approve");
  runbook::StepSpec s{"operator go-ahead", "approve", {}};
  Status timed_out = a->Run(s, In(300ms));
  EXPECT_EQ(timed_out.code(), Status::Code::kTimeout) << timed_out.ToString();
  std::thread op([&] {
    std::this_thread::sleep_for(200ms);  // the operator, later
    ASSERT_TRUE(PostRequest(spec_.RequestsDir(), Request::kApprove, "alice",
                            SystemClock::Instance().Now()).ok());
  });
  EXPECT_TRUE(a->Run(s, In(10s)).ok());
  op.join();
  EXPECT_FALSE(RequestPending(spec_.RequestsDir(), Request::kApprove));
}

TEST_F(ActionsTest, TestHookIsOffUnlessAsked) {
  unsetenv("PILOTLIGHT_TEST_BLOCK_STEP");
  runbook::Executor::ActionLookup lookup = WithTestHook(actions_->Lookup());
  EXPECT_EQ(lookup("notify"), actions_->Find("notify"));
  setenv("PILOTLIGHT_TEST_BLOCK_STEP", "after:promote", 1);
  runbook::Executor::ActionLookup hooked = WithTestHook(actions_->Lookup());
  EXPECT_EQ(hooked("notify"), actions_->Find("notify"));
  EXPECT_NE(hooked("promote"), actions_->Find("promote"));  // wrapped
  unsetenv("PILOTLIGHT_TEST_BLOCK_STEP");
}

}  // namespace
}  // namespace pilotlight::controller
