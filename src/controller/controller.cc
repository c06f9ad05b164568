#include "controller/controller.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "controller/leader.h"
#include "controller/lease_http.h"
#include "core/duration.h"
#include "core/log.h"
#include "sys/whole_file.h"

namespace pilotlight::controller {

using json = nlohmann::json;
using Phase = decide::ControllerState::Phase;

namespace {

// Thrown by a gated step action when this controller no longer leads: it unwinds
// the executor before the step acts, leaving the run as a crash would (the
// step's intent journaled, no outcome), for the next leader to resume.
class LeadershipLost : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class GatedAction final : public runbook::StepAction {
 public:
  GatedAction(runbook::StepAction* inner, const Leadership* leadership)
      : inner_(inner), leadership_(leadership) {}
  Status Precondition(const runbook::StepSpec& step) override {
    if (!leadership_->Leading()) {
      throw LeadershipLost("lost leadership before step '" + step.name +
                           "': stopped; the run stays unfinished in the journal for the "
                           "controller that leads now");
    }
    return inner_->Precondition(step);
  }
  Result<bool> AlreadyDone(const runbook::StepSpec& step) override {
    return inner_->AlreadyDone(step);
  }
  Status Run(const runbook::StepSpec& step, MonoTime deadline) override {
    return inner_->Run(step, deadline);
  }
  std::string SkipDetail(const runbook::StepSpec& step) override {
    return inner_->SkipDetail(step);
  }

 private:
  runbook::StepAction* inner_;
  const Leadership* leadership_;
};

json StepEventJson(const runbook::StepEvent& e, const std::string& runbook) {
  const runbook::StepReport& s = *e.step;
  json j = {{"event", e.kind == runbook::StepEvent::Kind::kStarted ? "step-started" : "step-finished"},
            {"run", e.run_id},
            {"runbook", runbook},
            {"index", s.index},
            {"step", s.name},
            {"started_at", FormatTime(s.started_at)}};
  if (e.kind == runbook::StepEvent::Kind::kFinished) {
    j["finished_at"] = FormatTime(s.finished_at);
    j["duration_ms"] =
        std::chrono::duration_cast<std::chrono::milliseconds>(s.finished_at - s.started_at).count();
    j["outcome"] = runbook::OutcomeName(s.outcome);
    j["attempts"] = s.attempts;
    j["detail"] = s.detail;
  }
  return j;
}

}  // namespace

std::string StepEventText(const runbook::StepEvent& e, const std::string& runbook) {
  return StepEventJson(e, runbook).dump();
}

Controller::Controller(const ControllerSpec& spec, Clock& clock, Observer& observer,
                       runbook::Journal& journal, runbook::Executor::ActionLookup actions,
                       RunContext& context, LeaseService* lease, Publish publish)
    : spec_(spec), clock_(clock), observer_(observer), journal_(journal), context_(context),
      lease_(lease), publish_(std::move(publish)),
      executor_(journal, clock, GateActions(std::move(actions)),
                [this](const runbook::StepEvent& e) {
                  const std::string name = spec_.failover_runbook;
                  const json j = StepEventJson(e, name);
                  if (e.kind == runbook::StepEvent::Kind::kStarted) {
                    LogInfo("run " + std::to_string(e.run_id) + ": step " +
                            std::to_string(e.step->index + 1) + " '" + e.step->name + "' started");
                  } else {
                    LogInfo("run " + std::to_string(e.run_id) + ": step " +
                            std::to_string(e.step->index + 1) + " '" + e.step->name + "' " +
                            runbook::OutcomeName(e.step->outcome) + " in " +
                            FormatDuration(e.step->finished_at - e.step->started_at) +
                            (e.step->detail.empty() ? "" : ": " + e.step->detail));
                  }
                  PublishEvent(j.dump());
                }) {
  context_.old_primary_stopped = [this] { return OldPrimaryStopped(); };
  // What an earlier controller (or this one before a restart) saw of the
  // primary: after the primary is gone, nobody else can tell its last WAL position.
  if (!spec_.state_dir.empty()) {
    Result<std::string> text = sys::ReadWholeFile(spec_.ObserverMemoryPath());
    if (text.ok()) {
      std::string error;
      memory_ = ObserverMemoryFromJson(*text, &error);
      if (!error.empty()) {
        LogWarn(spec_.ObserverMemoryPath() + ": " + error +
                "; starting without memory of the primary's WAL position");
      }
    }
  }
}

void Controller::SaveMemory() {
  if (spec_.state_dir.empty()) return;
  std::string text = ObserverMemoryToJson(memory_);
  if (text == saved_memory_) return;
  Status st = sys::WriteFileAtomically(spec_.ObserverMemoryPath(), text);
  if (!st.ok()) {
    LogWarn("cannot keep the observer's memory: " + st.ToString());
    return;
  }
  saved_memory_ = std::move(text);
}

void Controller::PublishEvent(const std::string& text) {
  if (publish_) publish_(spec_.events_topic, text);
}

Result<std::string> Controller::OldPrimaryStopped() const {
  const std::optional<WallTime> expires = lease_ ? lease_->ExpiresAt() : std::nullopt;
  const WallTime now = clock_.Now();
  if (expires) {
    const WallTime safe_at = *expires + spec_.policy.lease_safety_margin;
    if (now >= safe_at) {
      return "its write lease expired at " + FormatTime(*expires) + " (plus a " +
             FormatDuration(spec_.policy.lease_safety_margin) + " margin)";
    }
    return Status::FailedPrecondition("its write lease runs until " + FormatTime(*expires) +
                                      " plus a " + FormatDuration(spec_.policy.lease_safety_margin) +
                                      " margin");
  }
  if (context_.forced) return std::string("an operator forced the failover (no lease was seen)");
  return Status::FailedPrecondition("no write lease of it was ever seen");
}

Result<CycleReport> Controller::Evaluate() {
  CycleReport r;
  r.observation = observer_.Observe();
  SnapshotStep step = BuildSnapshot(r.observation, memory_, spec_.policy);
  memory_ = step.memory;
  r.snapshot = step.snapshot;
  r.lag_source = step.lag_source;
  Result<DurableState> durable =
      LoadDurableState(journal_, spec_.failover_runbook, spec_.failback_runbook);
  if (!durable.ok()) return durable.status();
  r.durable = *durable;
  decide::ControllerState state = r.durable.state;
  state.approval_granted = RequestPending(spec_.RequestsDir(), Request::kApprove);
  const WallTime now = clock_.Now();
  r.decision = decide::Decide(r.snapshot, state, spec_.policy, now);
  const auto key = std::make_pair(r.decision.plan.kind, r.decision.reason.code);
  r.changed = !last_ || *last_ != key;
  last_ = key;
  r.line = FormatTime(now) + " [" + decide::ModeName(spec_.policy.mode) + "] " +
           decide::PlanKindName(r.decision.plan.kind) + ": " + r.decision.reason.ToString();
  return r;
}

Result<CycleReport> Controller::Cycle() {
  Result<CycleReport> evaluated = Evaluate();
  if (!evaluated.ok()) return evaluated.status();
  SaveMemory();  // followers too: any controller's view of the primary counts
  CycleReport& r = *evaluated;
  if (!FollowLeadership(r)) return evaluated;
  const WallTime now = r.observation.at;
  if (r.decision.reason.code == decide::Reason::Code::kPrimaryHealthy) {
    ClearRequest(spec_.RequestsDir(), Request::kApprove);  // an old approval is no blank cheque
  }
  if (r.changed) {
    PublishEvent(json{{"event", "decision"},
                      {"at", FormatTime(now)},
                      {"mode", decide::ModeName(spec_.policy.mode)},
                      {"phase", decide::PhaseName(r.durable.state.phase)},
                      {"plan", decide::PlanKindName(r.decision.plan.kind)},
                      {"reason", r.decision.reason.ToString()}}
                     .dump());
  }
  SteerLease(r);
  try {
    Act(r);
  } catch (const LeadershipLost& lost) {
    r.note = lost.what();
    LogWarn(r.note);
  }
  Autoscale(r);
  return evaluated;
}

void Controller::Autoscale(CycleReport& r) {
  if (autoscaler_ == nullptr || !autoscaler_->Enabled()) return;
  // A run in this cycle moved the journal: the next cycle scales on the new state.
  if (r.run) return;
  if (leadership_ != nullptr && !leadership_->Leading()) return;
  // Whether a runbook runs: its holder has the lock. Taken only for a moment here,
  // and again only to change a size, so an operator's `pilotlight failback` is
  // not refused because the auto-scaler looked.
  std::string running;
  auto holder = [](const Status& st) {
    const std::string m = st.message();
    const size_t a = m.find("being run by ");
    const size_t b = m.find(" (lock ");
    return a != std::string::npos && b != std::string::npos && b > a + 13
               ? "a runbook of " + m.substr(a + 13, b - a - 13)
               : "a runbook of another process";
  };
  {
    Result<std::unique_ptr<RunbookLock>> probe =
        RunbookLock::TryAcquire(spec_.LockPath(), "pilotlight controller (auto-scaling)");
    if (!probe.ok()) running = holder(probe.status());
  }
  Result<std::optional<runbook::RunRecord>> unfinished = journal_.UnfinishedRun();
  if (running.empty() && unfinished.ok() && unfinished->has_value()) {
    running = "the unfinished " + (*unfinished)->runbook + " run " +
              std::to_string((*unfinished)->id);
  }
  const DurableState durable = r.durable;
  std::unique_ptr<RunbookLock> lock;
  auto before_change = [&]() -> Status {
    Result<std::unique_ptr<RunbookLock>> l =
        RunbookLock::TryAcquire(spec_.LockPath(), "pilotlight controller (auto-scaling)");
    if (!l.ok()) return Status::Unavailable("not applied: " + holder(l.status()) + " started");
    // Under the lock the journal cannot move: act only on the state decided on.
    Result<DurableState> now_durable =
        LoadDurableState(journal_, spec_.failover_runbook, spec_.failback_runbook);
    if (!now_durable.ok() || now_durable->state.phase != durable.state.phase ||
        (now_durable->last_failback ? now_durable->last_failback->id : 0) !=
            (durable.last_failback ? durable.last_failback->id : 0)) {
      return Status::Unavailable("not applied: the journal changed; deciding again next cycle");
    }
    lock = std::move(*l);
    return Status::OK();
  };
  r.scaling = autoscaler_->Step(durable, running, spec_.policy.mode == decide::Mode::kObserveOnly,
                                clock_.Now(), before_change);
}

void Controller::SteerLease(const CycleReport& r) {
  if (lease_ == nullptr) return;
  const Phase phase = r.durable.state.phase;
  if (phase != Phase::kNormal) {
    lease_->Revoke(phase == Phase::kFailedOver ? "failed over to " + spec_.dr_region
                                               : "failing over to " + spec_.dr_region);
    return;
  }
  if (r.durable.failed_back && lease_->revoked()) {
    // An operator failed back (pilotlight failback): the primary region takes
    // writes again, so its lease may be granted and automatic failover is armed.
    lease_->Rearm();
    LogInfo("write lease re-armed for " + spec_.primary_region + ": " + r.durable.summary);
    PublishEvent(json{{"event", "lease-rearmed"},
                      {"at", FormatTime(clock_.Now())},
                      {"holder", spec_.primary_region},
                      {"reason", r.durable.summary}}
                     .dump());
  }
  const decide::PlanKind k = r.decision.plan.kind;
  if (k == decide::PlanKind::kFailover || k == decide::PlanKind::kWaitForLease) {
    lease_->SetGranting(false, "the controller is failing over: " + r.decision.reason.ToString());
  } else {
    lease_->SetGranting(true, "");
  }
}

void Controller::Act(CycleReport& r) {
  const decide::Plan& plan = r.decision.plan;
  const bool start = plan.kind == decide::PlanKind::kFailover;
  const bool resume = plan.kind == decide::PlanKind::kResumeFailover;
  const bool fence = plan.kind == decide::PlanKind::kFenceOldPrimary;
  if (!start && !resume && !fence) return;
  const WallTime now = clock_.Now();
  if (start && r.durable.last_failover && r.durable.last_failover->outcome == "failed") {
    const WallTime failed_at =
        r.durable.last_failover->finished_at.value_or(r.durable.last_failover->started_at);
    if (now < failed_at + spec_.failed_run_backoff) {
      r.note = "the last failover run " + std::to_string(r.durable.last_failover->id) +
               " failed; next attempt after " + FormatTime(failed_at + spec_.failed_run_backoff);
      return;
    }
  }
  Result<std::unique_ptr<RunbookLock>> lock =
      RunbookLock::TryAcquire(spec_.LockPath(), "pilotlight controller");
  if (!lock.ok()) {
    r.note = lock.status().message();
    return;
  }
  // The journal may have moved between the decision and the lock (a manual
  // failback finished just now): act only on the state the decision saw, or a
  // fence meant for an old primary would hit the primary an operator restored.
  Result<DurableState> now_durable =
      LoadDurableState(journal_, spec_.failover_runbook, spec_.failback_runbook);
  if (!now_durable.ok() || now_durable->state.phase != r.durable.state.phase ||
      now_durable->failed_back != r.durable.failed_back ||
      (now_durable->last_failback ? now_durable->last_failback->id : 0) !=
          (r.durable.last_failback ? r.durable.last_failback->id : 0)) {
    r.note = "the journal changed while deciding; deciding again next cycle";
    return;
  }
  if (fence) {
    runbook::RunbookSpec rb;
    rb.name = "fence-old-primary";
    rb.steps.push_back({"fence the old primary (" + spec_.primary_region + "): split brain",
                        "fence",
                        {{"region", spec_.primary_region}},
                        std::chrono::seconds(30),
                        2,
                        std::chrono::milliseconds(500)});
    Result<runbook::RunReport> run = executor_.Run(rb, r.decision.reason.ToString());
    if (run.ok()) r.run = *run;
    else r.note = run.status().message();
    return;
  }
  if (lease_) lease_->Revoke("failing over to " + spec_.dr_region);
  context_.primary_last_healthy_at = memory_.primary_last_healthy_at;
  context_.primary_wal = memory_.primary_wal;
  if (resume) {
    Result<std::optional<runbook::RunRecord>> unfinished = journal_.UnfinishedRun();
    context_.forced = unfinished.ok() && unfinished->has_value() &&
                      (*unfinished)->reason.find("FORCED") != std::string::npos;
    LogWarn("resuming the interrupted failover run from the journal");
    Result<std::optional<runbook::RunReport>> run =
        executor_.ResumeUnfinished([this](const std::string& name) { return spec_.FindRunbook(name); });
    if (!run.ok()) {
      r.note = run.status().message();
    } else if (run->has_value()) {
      r.run = **run;
    }
    return;
  }
  const runbook::RunbookSpec* rb = spec_.FindRunbook(spec_.failover_runbook);
  if (rb == nullptr) {
    r.note = "no runbook named '" + spec_.failover_runbook + "' in the controller spec";
    return;
  }
  context_.forced = plan.forced;
  ClearRequest(spec_.RequestsDir(), Request::kApprove);
  Result<runbook::RunReport> run = executor_.Run(*rb, r.decision.reason.ToString());
  if (run.ok()) r.run = *run;
  else r.note = run.status().message();
}

Result<runbook::RunReport> Controller::RunFailoverNow(bool forced, const std::string& reason) {
  Result<std::unique_ptr<RunbookLock>> lock =
      RunbookLock::TryAcquire(spec_.LockPath(), "pilotlight failover (manual)");
  if (!lock.ok()) return lock.status();
  const runbook::RunbookSpec* rb = spec_.FindRunbook(spec_.failover_runbook);
  if (rb == nullptr) {
    return Status::NotFound("no runbook named '" + spec_.failover_runbook + "' in the spec");
  }
  if (lease_) lease_->Revoke("failing over to " + spec_.dr_region);
  context_.forced = forced;
  context_.primary_last_healthy_at.reset();
  context_.primary_wal = memory_.primary_wal;
  Result<std::optional<runbook::RunRecord>> unfinished = journal_.UnfinishedRun();
  if (!unfinished.ok()) return unfinished.status();
  if (unfinished->has_value() && (*unfinished)->runbook == spec_.failover_runbook) {
    context_.forced = forced || (*unfinished)->reason.find("FORCED") != std::string::npos;
    Result<std::optional<runbook::RunReport>> run =
        executor_.ResumeUnfinished([this](const std::string& name) { return spec_.FindRunbook(name); });
    if (!run.ok()) return run.status();
    if (run->has_value()) return **run;
  }
  return executor_.Run(*rb, reason);
}

Result<runbook::RunReport> Controller::RunStepNow(const std::string& runbook,
                                                  const runbook::StepSpec& step, bool forced,
                                                  const std::string& reason) {
  Result<std::unique_ptr<RunbookLock>> lock =
      RunbookLock::TryAcquire(spec_.LockPath(), "pilotlight " + runbook + " (manual)");
  if (!lock.ok()) return lock.status();
  context_.forced = forced;
  runbook::RunbookSpec rb;
  rb.name = runbook;
  rb.steps = {step};
  return executor_.Run(rb, reason);
}

void Controller::Run(const std::atomic<bool>& stop,
                     const std::function<void(const CycleReport&)>& on_cycle) {
  while (!stop.load()) {
    const MonoTime started = clock_.Monotonic();
    Result<CycleReport> r = Cycle();
    if (!r.ok()) {
      LogError("controller cycle: " + r.status().ToString());
    } else {
      Status st = WriteStatus(*r);
      if (!st.ok()) LogWarn(st.ToString());
      if (on_cycle) on_cycle(*r);
    }
    const Duration spent = clock_.Monotonic() - started;
    Duration left = spec_.cycle_interval - spent;
    while (left > Duration(0) && !stop.load()) {
      const Duration nap = std::min<Duration>(left, std::chrono::milliseconds(50));
      clock_.SleepFor(nap);
      left -= nap;
    }
  }
}

static json DataAtRiskJson(const decide::Snapshot& s) {
  const decide::WalAtRisk& w = s.wal_at_risk;
  auto t = [](const std::optional<WallTime>& at) -> json {
    return at ? json(FormatTime(*at)) : json(nullptr);
  };
  json window = nullptr;
  if (w.bytes && w.from && w.to) window = std::chrono::duration<double>(*w.to - *w.from).count();
  if (w.bytes && *w.bytes == 0) window = 0.0;
  auto epoch = [](const std::optional<WallTime>& at) -> json {
    return at ? json(std::chrono::duration<double>(at->time_since_epoch()).count())
              : json(nullptr);
  };
  return {{"wal_bytes", w.bytes ? json(*w.bytes) : json(nullptr)},
          {"from", t(w.from)},
          {"to", t(w.to)},
          {"from_epoch", epoch(w.from)},
          {"to_epoch", epoch(w.to)},
          {"lost_by_epoch", epoch(w.lost_by)},
          {"window_seconds", window},
          {"lost_by", t(w.lost_by)},
          {"seconds", s.replica_lag ? json(std::chrono::duration<double>(*s.replica_lag).count())
                                    : json(nullptr)},
          {"replay_paused", s.replica_replay_paused},
          {"detail", w.detail}};
}

std::string Controller::StatusJson(const CycleReport& r) const {
  const decide::Snapshot& s = r.snapshot;
  const Observation& o = r.observation;
  auto secs = [](std::optional<Duration> d) -> json {
    if (!d) return nullptr;
    return std::chrono::duration<double>(*d).count();
  };
  auto ms = [](std::optional<Duration> d) -> json {
    if (!d) return nullptr;
    return std::chrono::duration<double, std::milli>(*d).count();
  };
  // One vote per site; the vantage points behind them, with their lateness.
  json sites = json::array();
  for (const decide::SiteVote& v : s.sites) {
    sites.push_back({{"site", v.site}, {"vote", decide::VoteName(v.vote)},
                     {"counted", !v.in_primary_region}, {"detail", v.detail}});
  }
  json vantages = json::array();
  for (const VantageObservation& v : o.vantage) {
    vantages.push_back({{"vantage", v.vantage}, {"site", v.site},
                        {"status", health::HealthStatusName(v.status)},
                        {"vote", decide::VoteName(VoteOf(v, spec_.policy))},
                        {"detail", v.detail}, {"age_ms", ms(v.age)}, {"late", v.late},
                        {"lateness_ms", ms(v.lateness)}, {"source", v.source}});
  }
  const decide::VoteTally tally = decide::TallyVotes(s.sites, spec_.policy);
  const std::vector<std::string> failed = decide::FailedGates(s, spec_.policy);
  auto gate = [&](const char* name, bool on, bool ok, const std::string& detail) {
    return json{{"gate", name}, {"enabled", on}, {"ok", ok}, {"detail", detail}};
  };
  json gates = json::array(
      {gate("replica streaming", spec_.policy.gate_replica_streaming, s.replica_streaming,
            (s.replica_streaming ? std::string() : "not streaming: ") +
                s.replica_streaming_detail +
                (s.replica_streaming || o.replication.problem.empty()
                     ? std::string()
                     : " (" + o.replication.problem + ")")),
       gate("replica lag", spec_.policy.gate_replica_lag,
            s.replica_lag && *s.replica_lag <= spec_.policy.max_lag_on_failover,
            (s.replica_lag ? FormatDuration(*s.replica_lag) : std::string("unknown")) + " (" +
                r.lag_source + "), limit " + FormatDuration(spec_.policy.max_lag_on_failover)),
       gate("DR holds the primary's release", spec_.policy.gate_release,
            s.dr_holds_primary_release, o.dr_holds_primary_release.detail),
       gate("DR compute can scale", spec_.policy.gate_compute, s.dr_compute_can_scale,
            o.dr_compute_can_scale.detail),
       gate("DNS secondary exists", spec_.policy.gate_dns, s.dns_secondary_exists,
            o.dns_secondary_exists.detail)});
  auto db = [](const DatabaseObservation& d) {
    return json{{"reachable", d.reachable}, {"writable", d.writable()},
                {"in_recovery", d.in_recovery}, {"detail", d.detail}};
  };
  json lease = nullptr;
  if (lease_) {
    const std::optional<WallTime> exp = lease_->ExpiresAt();
    lease = {{"holder", lease_->holder()},
             {"granting", lease_->granting()},
             {"revoked", lease_->revoked()},
             {"expires_at", exp ? json(FormatTime(*exp)) : json(nullptr)},
             {"refusal", lease_->refusal()}};
  }
  json last_run = nullptr;
  if (r.durable.last_failover) {
    const runbook::RunRecord& run = *r.durable.last_failover;
    last_run = {{"id", run.id}, {"runbook", run.runbook}, {"reason", run.reason},
                {"started_at", FormatTime(run.started_at)},
                {"outcome", run.outcome.empty() ? "running" : run.outcome}};
  }
  json j = {{"at", FormatTime(o.at)},
            {"pid", getpid()},
            {"platform", spec_.platform},
            {"mode", decide::ModeName(spec_.policy.mode)},
            {"phase", decide::PhaseName(r.durable.state.phase)},
            {"phase_detail", r.durable.summary},
            {"primary_region", spec_.primary_region},
            {"dr_region", spec_.dr_region},
            {"primary_check", spec_.primary_check},
            {"controller_site", spec_.site},
            {"sites", sites},
            {"vantages", vantages},
            {"votes", {{"sites", tally.sites}, {"down", tally.down}, {"up", tally.up},
                       {"late", tally.late}, {"stale", tally.stale}, {"unknown", tally.unknown},
                       {"quorum", tally.quorum},
                       {"max_observation_age_ms", ms(spec_.policy.max_observation_age)}}},
            {"decision", {{"plan", decide::PlanKindName(r.decision.plan.kind)},
                          {"reason", r.decision.reason.ToString()},
                          {"note", r.note}}},
            {"databases", {{spec_.primary_region, db(o.old_primary)}, {spec_.dr_region, db(o.dr)}}},
            {"replication", {{"streaming_now", o.replication.streaming},
                             {"state", o.replication.state},
                             {"lag_seconds", secs(s.replica_lag)},
                             {"lag_source", r.lag_source},
                             {"replay_lag_seconds", o.replication.replay_lag_seconds
                                                        ? json(*o.replication.replay_lag_seconds)
                                                        : json(nullptr)},
                             {"receiver", o.replication.receiver_status},
                             {"replay_paused", o.replication.replay_paused},
                             {"streaming_detail", s.replica_streaming_detail},
                             {"problem", o.replication.problem}}},
            {"data_at_risk", DataAtRiskJson(s)},
            {"readiness", {{"ready", failed.empty()}, {"failed", failed}, {"gates", gates}}},
            {"lease", lease},
            {"last_failover_run", last_run}};
  json scaling = json::array();
  for (const GroupScaling& g : r.scaling) {
    const compute::ScaleDecision& d = g.decision;
    scaling.push_back(
        {{"region", g.region},
         {"group", g.group},
         {"active", d.active},
         {"size", d.from},
         {"recommended", d.recommended},
         {"action", compute::ScaleActionName(d.action)},
         {"to", d.to},
         {"applied", g.applied},
         {"reason", d.reason},
         {"requests_per_second",
          g.requests_per_second ? json(*g.requests_per_second) : json(nullptr)},
         {"instances_reporting", g.instances_reporting},
         {"load_source", g.load_source},
         {"error", g.error},
         {"policy",
          {{"min", g.policy.min_size},
           {"max", g.policy.max_size},
           {"target_requests_per_instance", g.policy.target_requests_per_instance},
           {"tolerance", g.policy.tolerance},
           {"scale_down_stabilization_seconds",
            std::chrono::duration<double>(g.policy.scale_down_stabilization).count()}}},
         {"last_change", g.last_change_at ? json{{"at", FormatTime(*g.last_change_at)},
                                                 {"reason", g.last_change}}
                                          : json(nullptr)}});
  }
  j["autoscaling"] = scaling;
  j["leadership"] = nullptr;
  if (leadership_ != nullptr) {
    const Leadership::View v = leadership_->Describe();
    auto who = [](const LeaderIdentity& id) {
      return json{{"name", id.name}, {"host", id.host}, {"pid", id.pid}};
    };
    j["leadership"] = {{"role", v.role},
                       {"self", who(v.self)},
                       {"leader", v.leader ? who(*v.leader) : json(nullptr)},
                       {"leading_since", v.leading_since ? json(FormatTime(*v.leading_since))
                                                         : json(nullptr)},
                       {"key", v.key},
                       {"etcd", v.endpoints},
                       {"detail", v.detail}};
  }
  return j.dump(2);
}

// ---- leadership (several controllers) ---------------------------------------------

void Controller::SetLeadership(Leadership* leadership, std::function<void(bool)> on_change) {
  leadership_ = leadership;
  on_leadership_ = std::move(on_change);
  was_leading_.reset();
}

runbook::Executor::ActionLookup Controller::GateActions(runbook::Executor::ActionLookup inner) {
  return [this, inner = std::move(inner)](const std::string& kind) -> runbook::StepAction* {
    runbook::StepAction* action = inner ? inner(kind) : nullptr;
    if (action == nullptr || leadership_ == nullptr) return action;
    std::unique_ptr<runbook::StepAction>& gate = gates_[action];
    if (!gate) gate = std::make_unique<GatedAction>(action, leadership_);
    return gate.get();
  };
}

bool Controller::FollowLeadership(CycleReport& r) {
  if (leadership_ == nullptr) return true;
  const bool leading = leadership_->Leading();
  if (!was_leading_ || *was_leading_ != leading) {
    was_leading_ = leading;
    const Leadership::View v = leadership_->Describe();
    PublishEvent(json{{"event", "leadership"},
                      {"at", FormatTime(clock_.Now())},
                      {"role", leading ? "leading" : v.role},
                      {"controller", v.self.ToString()},
                      {"leader", v.leader ? v.leader->ToString() : ""}}
                     .dump());
    if (on_leadership_) on_leadership_(leading);
    last_.reset();  // a new leader publishes its first decision
  }
  if (leading) return true;
  r.following = true;
  const Leadership::View v = leadership_->Describe();
  r.note = v.leader ? "following " + v.leader->ToString() + ": observing only"
                    : "not leading (" + v.role + (v.detail.empty() ? "" : ": " + v.detail) +
                          "): observing only";
  return false;
}

Status Controller::WriteStatus(const CycleReport& r) const {
  const std::string text = StatusJson(r);
  if (leadership_ == nullptr) return sys::WriteFileAtomically(spec_.StatusPath(), text);
  // Each controller's own status; status.json is the leader's alone.
  std::error_code ec;
  const std::string dir = spec_.state_dir + "/controllers";
  std::filesystem::create_directories(dir, ec);
  std::string name = leadership_->Describe().self.name;
  for (char& c : name) {
    if (c == '/' || c == '\\' || c == '\0') c = '_';
  }
  Status st = sys::WriteFileAtomically(dir + "/" + name + ".json", text);
  if (!r.following && leadership_->Leading()) {
    Status main = sys::WriteFileAtomically(spec_.StatusPath(), text);
    if (!main.ok()) return main;
  }
  return st;
}

}  // namespace pilotlight::controller
