#include "controller/actions.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <utility>

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

// A FakeClock on which something happens at a set time: the operator's command
// arrives while an action waits, in fake time, without a thread or a real sleep.
class ScriptedClock final : public Clock {
 public:
  WallTime Now() const override { return fake_.Now(); }
  MonoTime Monotonic() const override { return fake_.Monotonic(); }
  void SleepFor(Duration d) override {
    fake_.SleepFor(d);
    if (event_ && fake_.Monotonic() >= event_at_) std::exchange(event_, nullptr)();
  }
  void At(MonoTime when, std::function<void()> event) {
    event_at_ = when;
    event_ = std::move(event);
  }

 private:
  FakeClock fake_;
  MonoTime event_at_;
  std::function<void()> event_;
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
    a.clock = &clock_;
    a.groups = &groups_;
    a.publish = [this](const std::string& topic, const std::string& json) {
      published_.push_back(topic + " " + json);
      return Status::OK();
    };
    a.context = &context_;
    actions_ = std::make_unique<ActionSet>(a);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  MonoTime In(Duration d) { return clock_.Monotonic() + d; }

  ScriptedClock clock_;
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
  const MonoTime deadline = In(300ms);
  Status timed_out = a->Run(s, deadline);
  EXPECT_EQ(timed_out.code(), Status::Code::kTimeout) << timed_out.ToString();
  EXPECT_GE(clock_.Monotonic(), deadline);  // it waited out the deadline
  bool approved = false;
  clock_.At(In(2min), [&] {  // the operator, later
    approved = PostRequest(spec_.RequestsDir(), Request::kApprove, "alice", clock_.Now()).ok();
  });
  EXPECT_TRUE(a->Run(s, In(10min)).ok());
  EXPECT_TRUE(approved);
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
