#include "controller/controller.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <set>

#include "controller/leader.h"
#include "controller/lease_http.h"
#include "testing/scratch_dir.h"

namespace pilotlight::controller {
namespace {

using pilotlight::testing::ScratchDir;

using namespace std::chrono_literals;
using health::HealthStatus;
using Plan = decide::PlanKind;

// The world as a test scripts it: healthy until Outage(); the DR database
// becomes writable when the fake promote runs, the old primary refuses writes
// once fenced.
class FakeWorld : public Observer {
 public:
  explicit FakeWorld(Clock& clock) : clock_(clock) {}
  Observation Observe() override {
    Observation o;
    o.at = clock_.Now();
    const HealthStatus h = primary_down ? HealthStatus::kUnhealthy : HealthStatus::kHealthy;
    // The witness (the controller's own probes), DR's probe agent, and the
    // primary region's own view (never counted): one vote per site.
    for (const char* site : {"witness", "dr", "primary"}) {
      VantageObservation v;
      v.vantage = site;
      v.site = site;
      v.in_primary_region = std::string(site) == "primary";
      v.status = h;
      v.age = 100ms;
      o.vantage.push_back(v);
    }
    o.replication.primary_reachable = !primary_down;
    o.replication.standby_reachable = true;
    o.replication.standby_in_recovery = !promoted;
    o.replication.streaming = !primary_down && !promoted;
    if (o.replication.streaming) o.replication.replay_lag_seconds = lag_seconds;
    o.replication.heartbeat_age_seconds = 0.5;
    o.old_primary = {primary_reachable(), false, fenced, ""};
    o.dr = {true, !promoted, false, ""};
    o.dr_holds_primary_release = {true, ""};
    o.dr_compute_can_scale = {true, ""};
    o.dns_secondary_exists = {true, ""};
    o.primary_lease_expires_at = lease ? lease->ExpiresAt() : std::nullopt;
    return o;
  }
  bool primary_reachable() const { return !primary_down || old_primary_still_reachable; }

  Clock& clock_;
  bool primary_down = false;
  bool old_primary_still_reachable = false;  // database up, but the vantage points see it down
  bool promoted = false;
  bool fenced = false;
  double lag_seconds = 0.1;
  LeaseService* lease = nullptr;
};

// One fake action for every kind; its effects change the fake world.
class FakeAction : public runbook::StepAction {
 public:
  FakeAction(FakeWorld& world, FakeClock& clock) : world_(world), clock_(clock) {}
  Result<bool> AlreadyDone(const runbook::StepSpec& step) override {
    if (step.kind == "promote") return world_.promoted;
    if (step.kind == "fence") return world_.fenced || !world_.primary_reachable();
    return effects.count(step.name) > 0;
  }
  Status Run(const runbook::StepSpec& step, MonoTime) override {
    ++runs[step.kind];
    order.push_back(step.kind);
    clock_.Advance(200ms);
    if (fail_kind == step.kind) return Status::Unavailable("scripted failure");
    if (step.kind == "promote") world_.promoted = true;
    if (step.kind == "fence") world_.fenced = true;
    effects.insert(step.name);
    return Status::OK();
  }
  FakeWorld& world_;
  FakeClock& clock_;
  std::map<std::string, int> runs;
  std::vector<std::string> order;
  std::set<std::string> effects;
  std::string fail_kind;
};

ControllerSpec Spec(const std::string& dir, decide::Mode mode = decide::Mode::kAutomatic) {
  ControllerSpec s;
  s.state_dir = dir;
  s.primary_region = "primary";
  s.dr_region = "dr";
  s.policy.mode = mode;
  s.policy.confirm_for = 1s;
  s.policy.hold_down = 10min;
  s.policy.max_lag_on_failover = 10s;
  s.policy.lease_safety_margin = 500ms;
  s.failed_run_backoff = 30s;
  runbook::RunbookSpec r;
  r.name = "failover";
  r.steps = {{"scale up DR", "scale", {}, 30s, 0, 100ms},
             {"fence the old primary", "fence", {}, 30s, 0, 100ms},
             {"promote the DR replica", "promote", {}, 30s, 0, 100ms},
             {"point api at DR", "dns", {}, 30s, 0, 100ms},
             {"notify", "notify", {}, 30s, 0, 100ms}};
  s.runbooks = {r};
  return s;
}

class ControllerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = scratch_.path();
    spec_ = Spec(dir_);
    auto j = runbook::Journal::Open(spec_.JournalPath());
    ASSERT_TRUE(j.ok()) << j.status().ToString();
    journal_ = std::move(*j);
    world_.lease = &lease_;
  }

  std::unique_ptr<Controller> Make() {
    return std::make_unique<Controller>(
        spec_, clock_, world_, *journal_,
        [this](const std::string&) -> runbook::StepAction* { return &action_; }, context_,
        &lease_, [this](const std::string& topic, const std::string& json) {
          events_.push_back(json);
          EXPECT_EQ(topic, spec_.events_topic);
        });
  }
  // Cycles until `plan` is decided (or `max` cycles), 500 ms apart.
  CycleReport CycleUntil(Controller& c, Plan plan, int max = 40) {
    CycleReport last;
    for (int i = 0; i < max; ++i) {
      Result<CycleReport> r = c.Cycle();
      EXPECT_TRUE(r.ok()) << r.status().ToString();
      if (!r.ok()) return last;
      last = *r;
      if (last.decision.plan.kind == plan) return last;
      clock_.Advance(500ms);
    }
    ADD_FAILURE() << "never decided " << decide::PlanKindName(plan) << "; last: " << last.line;
    return last;
  }
  int Count(const std::string& needle) {
    int n = 0;
    for (const std::string& e : events_) n += e.find(needle) != std::string::npos;
    return n;
  }
  // The primary's agent keeps its lease every 2 s while the world is healthy.
  void Renew() { ASSERT_TRUE(lease_.Renew("primary").granted); }

  ScratchDir scratch_{"controller-test"};
  std::string dir_;
  FakeClock clock_;
  ControllerSpec spec_;
  std::unique_ptr<runbook::Journal> journal_;
  FakeWorld world_{clock_};
  FakeAction action_{world_, clock_};
  RunContext context_;
  LeaseService lease_{LeaseGrantor("primary", 6s), clock_, ""};
  std::vector<std::string> events_;
};

TEST_F(ControllerTest, HealthyPrimaryNothingHappensAndTheDecisionIsPublishedOnce) {
  auto c = Make();
  for (int i = 0; i < 5; ++i) {
    Renew();
    Result<CycleReport> r = c->Cycle();
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->decision.plan.kind, Plan::kNone);
    EXPECT_EQ(r->changed, i == 0);
    clock_.Advance(500ms);
  }
  EXPECT_TRUE(action_.order.empty());
  EXPECT_EQ(Count("\"event\":\"decision\""), 1);
  EXPECT_TRUE(lease_.granting());
}

TEST_F(ControllerTest, OutageWaitsOutTheLeaseThenFailsOverExactlyOnce) {
  auto c = Make();
  Renew();
  ASSERT_TRUE(c->Cycle().ok());
  const WallTime lease_end = *lease_.ExpiresAt();
  world_.primary_down = true;  // the agent dies with its region: no more renewals
  CycleReport wait = CycleUntil(*c, Plan::kWaitForLease);
  EXPECT_NE(wait.line.find("write lease expires in"), std::string::npos) << wait.line;
  EXPECT_FALSE(lease_.granting());  // stopped granting once committed
  EXPECT_FALSE(lease_.Renew("primary").granted);
  CycleReport run = CycleUntil(*c, Plan::kFailover);
  EXPECT_GE(clock_.Now(), lease_end + spec_.policy.lease_safety_margin);
  ASSERT_TRUE(run.run.has_value()) << run.note;
  EXPECT_TRUE(run.run->succeeded) << run.run->failure;
  EXPECT_EQ(action_.order, (std::vector<std::string>{"scale", "promote", "dns", "notify"}))
      << "fence is skipped: the old primary is unreachable and its lease expired";
  EXPECT_TRUE(lease_.revoked());
  // Later cycles: failed over, never again.
  for (int i = 0; i < 5; ++i) {
    clock_.Advance(1s);
    Result<CycleReport> r = c->Cycle();
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->decision.reason.code, decide::Reason::Code::kFailedOverAlready);
    EXPECT_FALSE(r->run.has_value());
  }
  EXPECT_EQ(action_.runs["promote"], 1);
  EXPECT_EQ(Count("step-started"), 5);
  EXPECT_EQ(Count("step-finished"), 5);
  EXPECT_EQ(Count("\"duration_ms\":200"), 4);  // the skipped fence took no time
}

TEST_F(ControllerTest, ReachableOldPrimaryIsFencedBeforePromotion) {
  auto c = Make();
  Renew();
  ASSERT_TRUE(c->Cycle().ok());
  world_.primary_down = true;
  world_.old_primary_still_reachable = true;  // vantage points see it down, the DB answers
  CycleReport run = CycleUntil(*c, Plan::kFailover);
  ASSERT_TRUE(run.run.has_value());
  EXPECT_TRUE(run.run->succeeded);
  EXPECT_TRUE(run.decision.plan.fence_first);
  EXPECT_EQ(action_.order, (std::vector<std::string>{"scale", "fence", "promote", "dns", "notify"}));
}

TEST_F(ControllerTest, NoLeaseEverSeenBlocksAutomaticFailover) {
  auto c = Make();
  ASSERT_TRUE(c->Cycle().ok());
  world_.primary_down = true;
  for (int i = 0; i < 20; ++i) {
    Result<CycleReport> r = c->Cycle();
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(r->run.has_value());
    if (i > 3) EXPECT_NE(r->line.find("no write lease of it was ever seen"), std::string::npos) << r->line;
    clock_.Advance(1s);
  }
  EXPECT_TRUE(action_.order.empty());
}

TEST_F(ControllerTest, ApprovalModeWaitsForTheOperator) {
  spec_.policy.mode = decide::Mode::kApproval;
  auto c = Make();
  ASSERT_TRUE(c->Cycle().ok());  // it saw the replica streaming while the primary was healthy
  world_.primary_down = true;
  world_.old_primary_still_reachable = true;
  CycleReport pending = CycleUntil(*c, Plan::kAwaitApproval);
  EXPECT_NE(pending.line.find("run `pilotlight approve`"), std::string::npos);
  for (int i = 0; i < 5; ++i) {
    clock_.Advance(1s);
    ASSERT_TRUE(c->Cycle().ok());
  }
  EXPECT_TRUE(action_.order.empty());
  ASSERT_TRUE(PostRequest(spec_.RequestsDir(), Request::kApprove, "alice", clock_.Now()).ok());
  CycleReport run = CycleUntil(*c, Plan::kFailover);
  ASSERT_TRUE(run.run.has_value());
  EXPECT_TRUE(run.run->succeeded);
  EXPECT_FALSE(RequestPending(spec_.RequestsDir(), Request::kApprove));  // consumed
}

TEST_F(ControllerTest, StaleApprovalIsDroppedWhileThePrimaryIsHealthy) {
  ASSERT_TRUE(PostRequest(spec_.RequestsDir(), Request::kApprove, "alice", clock_.Now()).ok());
  auto c = Make();
  ASSERT_TRUE(c->Cycle().ok());
  EXPECT_FALSE(RequestPending(spec_.RequestsDir(), Request::kApprove));
}

TEST_F(ControllerTest, ObserveOnlySaysWhatItWouldDoAndDoesNothing) {
  spec_.policy.mode = decide::Mode::kObserveOnly;
  auto c = Make();
  ASSERT_TRUE(c->Cycle().ok());  // it saw the replica streaming while the primary was healthy
  world_.primary_down = true;
  world_.old_primary_still_reachable = true;
  for (int i = 0; i < 10; ++i) {
    Result<CycleReport> r = c->Cycle();
    ASSERT_TRUE(r.ok());
    if (i > 3) EXPECT_NE(r->line.find("observe-only: would fail over"), std::string::npos) << r->line;
    clock_.Advance(500ms);
  }
  EXPECT_TRUE(action_.order.empty());
  EXPECT_TRUE(lease_.granting());
}

TEST_F(ControllerTest, RestartedControllerResumesTheInterruptedRunWithoutRepeatingSteps) {
  // What a controller killed during "promote" (after it acted) leaves behind.
  {
    auto run = journal_->BeginRun("failover", "failover: primary unhealthy", clock_.Now());
    ASSERT_TRUE(run.ok());
    const auto& steps = spec_.runbooks[0].steps;
    for (int i = 0; i < 2; ++i) {
      ASSERT_TRUE(journal_->RecordIntent(*run, i, steps[i].name, 1, clock_.Now()).ok());
      ASSERT_TRUE(journal_->RecordOutcome(*run, i, 1, runbook::StepOutcome::kSucceeded, "",
                                          clock_.Now()).ok());
    }
    ASSERT_TRUE(journal_->RecordIntent(*run, 2, steps[2].name, 1, clock_.Now()).ok());
    world_.promoted = true;  // the promotion happened; its outcome was never written
    world_.primary_down = true;
  }
  auto c = Make();
  Result<CycleReport> r = c->Cycle();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->decision.plan.kind, Plan::kResumeFailover);
  ASSERT_TRUE(r->run.has_value()) << r->note;
  EXPECT_TRUE(r->run->resumed);
  EXPECT_TRUE(r->run->succeeded) << r->run->failure;
  EXPECT_EQ(r->run->steps[2].outcome, runbook::StepOutcome::kSkipped);
  EXPECT_EQ(action_.order, (std::vector<std::string>{"dns", "notify"}));
  EXPECT_EQ(action_.runs.count("promote"), 0u);
  EXPECT_TRUE(lease_.revoked());
  clock_.Advance(1s);
  Result<CycleReport> after = c->Cycle();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->decision.reason.code, decide::Reason::Code::kFailedOverAlready);
}

TEST_F(ControllerTest, FailedRunIsRetriedAfterTheBackoffOnly) {
  auto c = Make();
  ASSERT_TRUE(c->Cycle().ok());  // it saw the replica streaming while the primary was healthy
  world_.primary_down = true;
  world_.old_primary_still_reachable = true;
  action_.fail_kind = "promote";
  CycleReport first = CycleUntil(*c, Plan::kFailover);
  ASSERT_TRUE(first.run.has_value());
  EXPECT_FALSE(first.run->succeeded);
  EXPECT_EQ(action_.runs["promote"], 1);
  action_.fail_kind.clear();
  for (int i = 0; i < 10; ++i) {  // 10 s: inside the 30 s backoff
    clock_.Advance(1s);
    Result<CycleReport> r = c->Cycle();
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(r->run.has_value());
    EXPECT_NE(r->note.find("failed; next attempt after"), std::string::npos) << r->note;
  }
  clock_.Advance(25s);
  Result<CycleReport> retry = c->Cycle();
  ASSERT_TRUE(retry.ok());
  ASSERT_TRUE(retry->run.has_value()) << retry->note;
  EXPECT_TRUE(retry->run->succeeded);
  EXPECT_EQ(action_.runs["promote"], 2);
}

TEST_F(ControllerTest, AnotherProcessHoldingTheRunbookLockIsReportedNotRaced) {
  auto held = RunbookLock::TryAcquire(spec_.LockPath(), "pilotlight failover (manual)");
  ASSERT_TRUE(held.ok());
  auto c = Make();
  ASSERT_TRUE(c->Cycle().ok());  // it saw the replica streaming while the primary was healthy
  world_.primary_down = true;
  world_.old_primary_still_reachable = true;
  CycleReport r = CycleUntil(*c, Plan::kFailover);
  EXPECT_FALSE(r.run.has_value());
  EXPECT_NE(r.note.find("pilotlight failover (manual)"), std::string::npos) << r.note;
  EXPECT_TRUE(action_.order.empty());
}

TEST_F(ControllerTest, SplitBrainAfterFailoverFencesTheOldPrimary) {
  auto c = Make();
  ASSERT_TRUE(c->Cycle().ok());  // it saw the replica streaming while the primary was healthy
  world_.primary_down = true;
  world_.old_primary_still_reachable = true;
  ASSERT_TRUE(CycleUntil(*c, Plan::kFailover).run->succeeded);
  // The old primary comes back writable (someone lifted the fence by hand).
  world_.primary_down = false;
  world_.fenced = false;
  Result<CycleReport> r = c->Cycle();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->decision.plan.kind, Plan::kFenceOldPrimary);
  ASSERT_TRUE(r->run.has_value());
  EXPECT_EQ(r->run->runbook, "fence-old-primary");
  EXPECT_TRUE(world_.fenced);
}

TEST_F(ControllerTest, StatusJsonCarriesTheDecisionAndTheGates) {
  auto c = Make();
  world_.lag_seconds = 30;  // over the 10 s limit
  Result<CycleReport> r = c->Cycle();
  ASSERT_TRUE(r.ok());
  const std::string j = c->StatusJson(*r);
  EXPECT_NE(j.find("\"phase\": \"normal\""), std::string::npos) << j;
  EXPECT_NE(j.find("no action: primary healthy"), std::string::npos);
  EXPECT_NE(j.find("replica lag 30.0 s over the 10.0 s limit"), std::string::npos) << j;
}

// ---- leadership (several controllers) -----------------------------------------

class FakeLeadership : public Leadership {
 public:
  bool Leading() const override { return leading; }
  View Describe() const override {
    View v;
    v.role = leading ? "leading" : "following";
    v.self = {"me", "h1", 1};
    if (!leading) v.leader = LeaderIdentity{"other", "h2", 2};
    return v;
  }
  bool leading = true;
};

// Runs the fake action; `on_run(kind)` first (e.g. leadership lost mid-step).
class HookedAction : public runbook::StepAction {
 public:
  HookedAction(runbook::StepAction& inner, std::function<void(const std::string&)> on_run)
      : inner_(inner), on_run_(std::move(on_run)) {}
  Result<bool> AlreadyDone(const runbook::StepSpec& s) override { return inner_.AlreadyDone(s); }
  Status Run(const runbook::StepSpec& s, MonoTime d) override {
    on_run_(s.kind);
    return inner_.Run(s, d);
  }

 private:
  runbook::StepAction& inner_;
  std::function<void(const std::string&)> on_run_;
};

TEST_F(ControllerTest, AFollowerObservesButNeitherActsNorSteersTheLeaseNorPublishesDecisions) {
  auto c = Make();
  FakeLeadership leadership;
  leadership.leading = false;
  std::vector<bool> changes;
  c->SetLeadership(&leadership, [&](bool leading) { changes.push_back(leading); });
  Renew();
  ASSERT_TRUE(c->Cycle().ok());  // healthy and streaming, as seen by the follower too
  world_.primary_down = true;
  bool saw_failover_decision = false;
  for (int i = 0; i < 40; ++i) {
    Result<CycleReport> r = c->Cycle();
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r->following);
    EXPECT_EQ(r->note, "following other (h2, pid 2): observing only");
    saw_failover_decision |= r->decision.plan.kind == Plan::kFailover;
    clock_.Advance(500ms);
  }
  EXPECT_TRUE(saw_failover_decision) << "the follower still decides what it would do";
  EXPECT_TRUE(action_.order.empty());
  EXPECT_TRUE(lease_.granting()) << "a follower does not steer the lease";
  EXPECT_EQ(Count("\"event\":\"decision\""), 0);
  EXPECT_EQ(Count("\"event\":\"leadership\""), 1);
  EXPECT_EQ(changes, (std::vector<bool>{false}));
  Result<std::optional<runbook::RunRecord>> unfinished = journal_->UnfinishedRun();
  ASSERT_TRUE(unfinished.ok());
  EXPECT_FALSE(unfinished->has_value());
  // Its status names the leader; status.json is left to the leader.
  Result<CycleReport> r = c->Cycle();
  ASSERT_TRUE(r.ok());
  const std::string status = c->StatusJson(*r);
  EXPECT_NE(status.find("\"role\": \"following\""), std::string::npos) << status;
  EXPECT_NE(status.find("\"name\": \"other\""), std::string::npos) << status;
}

TEST_F(ControllerTest, LeadershipLostMidRunStopsBeforeTheNextStepAndTheNextLeaderResumes) {
  FakeLeadership leadership;
  HookedAction hooked(action_, [&](const std::string& kind) {
    if (kind == "scale") leadership.leading = false;  // lost while this step runs
  });
  auto c = std::make_unique<Controller>(
      spec_, clock_, world_, *journal_,
      [&](const std::string&) -> runbook::StepAction* { return &hooked; }, context_, &lease_,
      [this](const std::string&, const std::string& json) { events_.push_back(json); });
  std::vector<bool> changes;
  c->SetLeadership(&leadership, [&](bool leading) { changes.push_back(leading); });
  Renew();
  ASSERT_TRUE(c->Cycle().ok());
  world_.primary_down = true;
  CycleReport r = CycleUntil(*c, Plan::kFailover);
  EXPECT_FALSE(r.run.has_value());
  EXPECT_NE(r.note.find("lost leadership before step 'fence the old primary'"), std::string::npos)
      << r.note;
  EXPECT_EQ(action_.order, (std::vector<std::string>{"scale"})) << "the running step finished";
  Result<std::optional<runbook::RunRecord>> unfinished = journal_->UnfinishedRun();
  ASSERT_TRUE(unfinished.ok());
  ASSERT_TRUE(unfinished->has_value()) << "the run stays unfinished for the next leader";
  // Further cycles of the old leader do nothing.
  for (int i = 0; i < 3; ++i) {
    clock_.Advance(500ms);
    Result<CycleReport> again = c->Cycle();
    ASSERT_TRUE(again.ok());
    EXPECT_TRUE(again->following);
  }
  EXPECT_EQ(action_.order, (std::vector<std::string>{"scale"}));
  EXPECT_EQ(changes, (std::vector<bool>{true, false}));

  // The next leader (another process: a fresh controller on the same journal).
  FakeLeadership next;
  auto d = Make();
  d->SetLeadership(&next, nullptr);
  CycleReport resumed = CycleUntil(*d, Plan::kResumeFailover);
  ASSERT_TRUE(resumed.run.has_value()) << resumed.note;
  EXPECT_TRUE(resumed.run->resumed);
  EXPECT_TRUE(resumed.run->succeeded) << resumed.run->failure;
  EXPECT_EQ(action_.runs["scale"], 1) << "a step that succeeded is not run again";
  EXPECT_EQ(action_.runs["promote"], 1);
}

// Auto-scaling in the loop: the primary's group grows with its load, but not
// while another process holds the runbook lock (a manual failback, say).
class SizesInAMap : public compute::NodeGroups {
 public:
  Result<int> Size(const std::string&, const std::string&) override { return size; }
  Status SetSize(const std::string&, const std::string&, int n) override {
    size = n;
    ++sets;
    return Status::OK();
  }
  Result<compute::GroupReadiness> Readiness(const std::string&, const std::string&,
                                            compute::ReadyWhen, MonoTime) override {
    return compute::GroupReadiness{};
  }
  Status CanScale(const std::string&, const std::string&) override { return Status::OK(); }
  int size = 1;
  int sets = 0;
};

class SteadyLoad : public compute::GroupLoadSource {
 public:
  Result<compute::GroupLoad> Load(const std::string&, const std::string&, WallTime) override {
    compute::GroupLoad g;
    g.requests_per_second = 45;
    return g;
  }
};

TEST_F(ControllerTest, AutoscalesTheServingGroupButNotWhileAnotherRunbookHoldsTheLock) {
  compute::NodeGroupSpec g;
  g.region = "primary";
  g.name = "trader";
  spec_.node_groups = {g};
  config::ScalingConfig sc;
  sc.group = "trader";
  sc.min = 1;
  sc.max = 3;
  sc.target_requests_per_instance = 20;
  spec_.compute.scaling = {sc};
  SizesInAMap groups;
  SteadyLoad load;
  Autoscaler autoscaler(spec_, groups, load);
  auto c = Make();
  c->SetAutoscaler(&autoscaler);
  {
    Result<std::unique_ptr<RunbookLock>> held =
        RunbookLock::TryAcquire(spec_.LockPath(), "pilotlight failback");
    ASSERT_TRUE(held.ok()) << held.status().ToString();
    Renew();
    Result<CycleReport> r = c->Cycle();
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->scaling.size(), 1u);
    EXPECT_NE(r->scaling[0].decision.reason.find("a runbook of pilotlight failback (pid "),
              std::string::npos)
        << r->scaling[0].decision.reason;
    EXPECT_EQ(groups.sets, 0);
  }
  clock_.Advance(500ms);
  Renew();
  Result<CycleReport> r = c->Cycle();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(groups.size, 3) << r->scaling[0].decision.reason;
  EXPECT_EQ(r->scaling[0].decision.reason,
            "scale trader in primary 1 -> 3: 45 req/s over 1 instance, target 20/instance");
  const std::string status = c->StatusJson(*r);
  EXPECT_NE(status.find("\"autoscaling\""), std::string::npos);
  EXPECT_NE(status.find("\"applied\": true"), std::string::npos) << status;
}

}  // namespace
}  // namespace pilotlight::controller
