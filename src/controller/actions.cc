#include "controller/actions.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "compute/exec_node_groups.h"
#include "config/runbook_steps.h"
#include "controller/dns_publishers.h"
#include "controller/dns_switch.h"
#include "controller/failback_actions.h"
#include "controller/state.h"
#include "core/duration.h"
#include "core/log.h"
#include "data/postgres/failover.h"
#include "data/postgres/promotion_gate.h"
#include "data/postgres/replication.h"
#include "trader/http_client.h"

namespace pilotlight::controller {

namespace {

using namespace std::chrono_literals;

// A step's parameter; when absent or empty, `fallback`, else the default the
// step table gives it (config/runbook_steps.h).
std::string Param(const runbook::StepSpec& step, const std::string& key,
                  const std::string& fallback = "") {
  auto it = step.params.find(key);
  if (it != step.params.end() && !it->second.empty()) return it->second;
  return fallback.empty() ? std::string(config::StepParamDefault(step.kind, key)) : fallback;
}

Duration Left(const Clock& clock, MonoTime deadline) {
  const Duration d = deadline - clock.Monotonic();
  return d > 100ms ? d : 100ms;
}

class ActionBase : public runbook::StepAction {
 public:
  explicit ActionBase(const Adapters& a) : a_(a) {}

 protected:
  const ControllerSpec& spec() const { return *a_.spec; }
  Clock& clock() const { return *a_.clock; }
  Result<pg::Endpoint> Database(const std::string& region) const {
    if (region == spec().primary_region) return spec().primary_db;
    if (region == spec().dr_region) return spec().dr_db;
    return Status::InvalidArgument("no database of region '" + region + "' in the controller spec");
  }
  // OK when the old primary cannot take writes: fenced, a standby, or unreachable
  // and provably stopped.
  Result<std::string> OldPrimaryCannotWrite() const {
    const pg::FenceState st = pg::ReadFenceState(spec().primary_db);
    if (st.reachable && (st.fenced() || st.in_recovery)) {
      return std::string("the old primary refuses writes (") + st.detail + ")";
    }
    if (st.reachable) {
      return Status::FailedPrecondition("the old primary " + spec().primary_db.ToString() +
                                        " still accepts writes; fence it first");
    }
    if (!a_.context || !a_.context->old_primary_stopped) {
      return Status::FailedPrecondition("the old primary is unreachable (" + st.detail +
                                        ") and nothing proves it stopped writing");
    }
    Result<std::string> stopped = a_.context->old_primary_stopped();
    if (!stopped.ok()) {
      return Status::FailedPrecondition("the old primary is unreachable (" + st.detail +
                                        ") but " + stopped.status().message());
    }
    return "the old primary is unreachable and " + *stopped;
  }

  Adapters a_;
};

class ScaleAction final : public ActionBase {
 public:
  using ActionBase::ActionBase;
  Status Precondition(const runbook::StepSpec& step) override {
    if (a_.groups == nullptr) return Status::FailedPrecondition("no node group provider");
    return Target(step).status();
  }
  // Run is idempotent (scaling to the size it has is a wait for readiness).
  Result<bool> AlreadyDone(const runbook::StepSpec&) override { return false; }
  Status Run(const runbook::StepSpec& step, MonoTime deadline) override {
    Result<std::pair<int, compute::ReadyWhen>> t = Target(step);
    if (!t.ok()) return t.status();
    return compute::ScaleAndWait(*a_.groups, Param(step, "region", spec().dr_region),
                                 Param(step, "group"), t->first, t->second, deadline);
  }

 private:
  Result<std::pair<int, compute::ReadyWhen>> Target(const runbook::StepSpec& step) const {
    const std::string region = Param(step, "region", spec().dr_region);
    const compute::NodeGroupSpec* g = spec().FindNodeGroup(region, Param(step, "group"));
    if (g == nullptr) {
      return Status::InvalidArgument("step '" + step.name + "': no node group '" +
                                     Param(step, "group") + "' in region " + region);
    }
    Result<int> size = compute::ResolveSize(*g, Param(step, "size"));
    if (!size.ok()) return size.status();
    Result<compute::ReadyWhen> when = compute::ParseReadyWhen(Param(step, "until"));
    if (!when.ok()) return when.status();
    return std::make_pair(*size, *when);
  }
};

class WaitHealthyAction final : public ActionBase {
 public:
  using ActionBase::ActionBase;
  Result<bool> AlreadyDone(const runbook::StepSpec&) override { return false; }
  Status Run(const runbook::StepSpec& step, MonoTime deadline) override {
    const std::string url = Param(step, "url");
    if (!url.empty()) return WaitUrl(url, deadline);
    if (a_.groups == nullptr) return Status::FailedPrecondition("no node group provider");
    const std::string region = Param(step, "region", spec().dr_region);
    const std::string group = Param(step, "group");
    Result<compute::GroupReadiness> r =
        a_.groups->Readiness(region, group, compute::ReadyWhen::kReady, deadline);
    if (!r.ok()) return r.status();
    if (r->AllUp()) return Status::OK();
    return Status::Timeout(std::to_string(r->up.size()) + " of " + std::to_string(r->desired) +
                           " instances of " + group + " ready: " + r->detail);
  }

 private:
  Status WaitUrl(const std::string& url, MonoTime deadline) {
    // http://host:port/path
    const std::string prefix = "http://";
    if (url.rfind(prefix, 0) != 0) return Status::InvalidArgument("url \"" + url + "\": http:// only");
    const size_t slash = url.find('/', prefix.size());
    const std::string hostport = url.substr(prefix.size(), slash - prefix.size());
    const std::string path = slash == std::string::npos ? "/" : url.substr(slash);
    const size_t colon = hostport.rfind(':');
    if (colon == std::string::npos) return Status::InvalidArgument("url \"" + url + "\": no port");
    const std::string host = hostport.substr(0, colon);
    const std::string port = hostport.substr(colon + 1);
    if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos) {
      return Status::InvalidArgument("url \"" + url + "\": bad port");
    }
    trader::HttpClient client(host, static_cast<uint16_t>(std::stoul(port)), 1s);
    std::string last = "no answer";
    while (true) {
      Result<trader::HttpResult> r = client.Request("GET", path);
      if (r.ok() && r->status >= 200 && r->status < 300) return Status::OK();
      last = r.ok() ? "HTTP " + std::to_string(r->status) : r.status().message();
      if (clock().Monotonic() + 200ms >= deadline) break;
      clock().SleepFor(200ms);  // polling, bounded by the step's deadline
    }
    return Status::Timeout(url + " not healthy by the deadline: " + last);
  }
};

class FenceAction final : public ActionBase {
 public:
  using ActionBase::ActionBase;
  Result<bool> AlreadyDone(const runbook::StepSpec& step) override {
    Result<pg::Endpoint> db = Database(Param(step, "region", spec().primary_region));
    if (!db.ok()) return db.status();
    const pg::FenceState st = pg::ReadFenceState(*db);
    if (st.reachable) {
      detail_ = st.fenced() || st.in_recovery ? "already refuses writes: " + st.detail : "";
      return st.fenced() || st.in_recovery;
    }
    Result<std::string> stopped = OldPrimaryCannotWrite();
    if (stopped.ok()) detail_ = *stopped;
    return stopped.ok();
  }
  std::string SkipDetail(const runbook::StepSpec&) override { return detail_; }
  Status Run(const runbook::StepSpec& step, MonoTime deadline) override {
    Result<pg::Endpoint> db = Database(Param(step, "region", spec().primary_region));
    if (!db.ok()) return db.status();
    Result<pg::FenceOutcome> out = pg::Fence(*db, pg::FenceMode::kReadOnly,
                                             Left(clock(), deadline), clock());
    if (out.ok()) {
      LogInfo("fence: " + out->ToString());
      return Status::OK();
    }
    // It may have gone away meanwhile: then only its lease can vouch for it.
    Result<std::string> stopped = OldPrimaryCannotWrite();
    if (stopped.ok()) return Status::OK();
    return out.status();
  }

 private:
  std::string detail_;
};

class PromoteAction final : public ActionBase {
 public:
  using ActionBase::ActionBase;
  Status Precondition(const runbook::StepSpec& step) override {
    Result<pg::Endpoint> dr = Database(Param(step, "region", spec().dr_region));
    if (!dr.ok()) return dr.status();
    pg::ReplicationStatus rs = pg::ReadReplicationStatus(spec().primary_db, *dr, spec().standby_name);
    if (rs.standby_reachable && !rs.standby_in_recovery) return Status::OK();  // done already
    // Safety rule 1: never two writable primaries.
    Result<std::string> stopped = OldPrimaryCannotWrite();
    if (!stopped.ok()) return stopped.status();
    // Safety rule 2: the lag gate, unless forced (then the data at risk is logged).
    pg::PromotionGateInput in;
    in.status = rs;
    in.max_lag = spec().policy.max_lag_on_failover;
    in.force = a_.context && a_.context->forced;
    if (a_.context && a_.context->primary_last_healthy_at) {
      in.primary_lost_for = clock().Now() - *a_.context->primary_last_healthy_at;
    }
    if (a_.context) in.primary_wal = a_.context->primary_wal;
    in.now = clock().Now();
    pg::PromotionVerdict v = pg::CheckPromotionLag(in);
    if (!v.allowed()) return Status::FailedPrecondition(v.reason);
    LogInfo("promote: " + v.reason);
    return Status::OK();
  }
  Result<bool> AlreadyDone(const runbook::StepSpec& step) override {
    Result<pg::Endpoint> dr = Database(Param(step, "region", spec().dr_region));
    if (!dr.ok()) return dr.status();
    const pg::FenceState st = pg::ReadFenceState(*dr);
    if (!st.reachable) return Status::Unavailable("the DR database is unreachable: " + st.detail);
    return !st.in_recovery;
  }
  Status Run(const runbook::StepSpec& step, MonoTime deadline) override {
    Result<pg::Endpoint> dr = Database(Param(step, "region", spec().dr_region));
    if (!dr.ok()) return dr.status();
    Result<pg::PromoteOutcome> out = pg::Promote(*dr, Left(clock(), deadline), clock());
    if (!out.ok()) return out.status();
    LogInfo("promote: " + out->ToString());
    return Status::OK();
  }
};

// dns: the record routed as `to` everywhere it is published (the embedded
// server's override file and every dns.publishers server); done only once every
// server is seen answering it (controller/dns_publishers.h).
class DnsAction final : public ActionBase {
 public:
  using ActionBase::ActionBase;
  Status Precondition(const runbook::StepSpec& step) override {
    return RecordChanges(Target(step), Param(step, "to"), clock().Now()).status();
  }
  Result<bool> AlreadyDone(const runbook::StepSpec& step) override {
    return RoutedEverywhere(Target(step), Param(step, "to"), clock());
  }
  Status Run(const runbook::StepSpec& step, MonoTime deadline) override {
    return PublishRouting(Target(step), Param(step, "to"), clock(), deadline);
  }

 private:
  DnsTarget Target(const runbook::StepSpec& step) const {
    DnsTarget t = spec().dns;
    t.record = Param(step, "record", t.record);
    return t;
  }
};

class NotifyAction final : public ActionBase {
 public:
  using ActionBase::ActionBase;
  Result<bool> AlreadyDone(const runbook::StepSpec&) override { return false; }
  Status Run(const runbook::StepSpec& step, MonoTime) override {
    if (!a_.publish) return Status::FailedPrecondition("no notifier");
    nlohmann::json j = {{"event", "runbook-notify"},
                        {"step", step.name},
                        {"message", Param(step, "message", step.name)},
                        {"at", FormatTime(clock().Now())}};
    return a_.publish(Param(step, "topic", spec().events_topic), j.dump());
  }
};

class ExecAction final : public ActionBase {
 public:
  using ActionBase::ActionBase;
  Status Precondition(const runbook::StepSpec& step) override {
    return Param(step, "command").empty()
               ? Status::InvalidArgument("step '" + step.name + "' has no command")
               : Status::OK();
  }
  Result<bool> AlreadyDone(const runbook::StepSpec& step) override {
    const std::string check = Param(step, "done_check");
    if (check.empty()) return false;
    return compute::RunShell(check, 30s, "/tmp").ok();
  }
  Status Run(const runbook::StepSpec& step, MonoTime deadline) override {
    return compute::RunShell(Param(step, "command"), Left(clock(), deadline), "/tmp").status();
  }
};

class ApproveAction final : public ActionBase {
 public:
  using ActionBase::ActionBase;
  Result<bool> AlreadyDone(const runbook::StepSpec&) override { return false; }
  Status Run(const runbook::StepSpec& step, MonoTime deadline) override {
    const std::string dir = spec().RequestsDir();
    LogWarn("step '" + step.name + "': waiting for `pilotlight approve`");
    while (!RequestPending(dir, Request::kApprove)) {
      if (clock().Monotonic() >= deadline) {
        return Status::Timeout("no operator approved by the deadline (`pilotlight approve`)");
      }
      clock().SleepFor(100ms);  // waiting for an operator, bounded
    }
    ClearRequest(dir, Request::kApprove);
    return Status::OK();
  }
};

// replicate: reverse or pause a replicator through the command that controls it.
class ReplicateAction final : public ActionBase {
 public:
  using ActionBase::ActionBase;
  Status Precondition(const runbook::StepSpec& step) override {
    const std::string action = Param(step, "action");
    if (action != "reverse" && action != "pause" && action != "resume") {
      return Status::InvalidArgument("step '" + step.name + "': action \"" + action +
                                     "\": expected reverse, pause or resume");
    }
    if (Param(step, "command").empty()) {
      return Status::InvalidArgument("step '" + step.name + "': no command controls replicator " +
                                     Param(step, "replicator", "?"));
    }
    return Status::OK();
  }
  Result<bool> AlreadyDone(const runbook::StepSpec& step) override {
    const std::string check = Param(step, "done_check");
    if (check.empty()) return false;
    return compute::RunShell(check, 30s, "/tmp").ok();
  }
  Status Run(const runbook::StepSpec& step, MonoTime deadline) override {
    return compute::RunShell(Param(step, "command"), Left(clock(), deadline), "/tmp").status();
  }
};

class BlockingHook final : public runbook::StepAction {
 public:
  BlockingHook(runbook::StepAction* inner, bool before) : inner_(inner), before_(before) {}
  Status Precondition(const runbook::StepSpec& s) override { return inner_->Precondition(s); }
  Result<bool> AlreadyDone(const runbook::StepSpec& s) override { return inner_->AlreadyDone(s); }
  std::string SkipDetail(const runbook::StepSpec& s) override { return inner_->SkipDetail(s); }
  Status Run(const runbook::StepSpec& s, MonoTime deadline) override {
    if (before_) Block(s);
    Status st = inner_->Run(s, deadline);
    if (!before_ && st.ok()) Block(s);
    return st;
  }

 private:
  static void Block(const runbook::StepSpec& s) {
    const char* marker = getenv("PILOTLIGHT_TEST_BLOCK_MARKER");
    if (marker != nullptr) std::ofstream(marker) << s.name << "\n";
    LogWarn("test hook: blocking in step '" + s.name + "' until killed");
    for (;;) pause();  // not a timed wait: until a signal kills the process
  }
  runbook::StepAction* inner_;
  bool before_;
};

}  // namespace

ActionSet::ActionSet(Adapters a) : adapters_(std::move(a)) {
  actions_["scale"] = std::make_unique<ScaleAction>(adapters_);
  actions_["wait_healthy"] = std::make_unique<WaitHealthyAction>(adapters_);
  actions_["fence"] = std::make_unique<FenceAction>(adapters_);
  actions_["promote"] = std::make_unique<PromoteAction>(adapters_);
  actions_["dns"] = std::make_unique<DnsAction>(adapters_);
  actions_["notify"] = std::make_unique<NotifyAction>(adapters_);
  actions_["exec"] = std::make_unique<ExecAction>(adapters_);
  actions_["replicate"] = std::make_unique<ReplicateAction>(adapters_);
  actions_["approve"] = std::make_unique<ApproveAction>(adapters_);
  for (auto& [kind, action] : MakeFailbackActions(adapters_)) actions_[kind] = std::move(action);
  // The step table is what the loader accepts: each of its kinds needs an action
  // here, and an action outside it could never run.
  for (const config::StepKind& k : config::StepKinds()) {
    if (actions_.count(std::string(k.name)) == 0) {
      LogError("no action for the step kind '" + std::string(k.name) +
               "' of config/runbook_steps.h");
      std::abort();
    }
  }
  if (actions_.size() != config::StepKinds().size()) {
    LogError("an action's kind is missing from the step table (config/runbook_steps.h)");
    std::abort();
  }
}

ActionSet::~ActionSet() = default;

runbook::StepAction* ActionSet::Find(const std::string& kind) {
  auto it = actions_.find(kind);
  return it == actions_.end() ? nullptr : it->second.get();
}

runbook::Executor::ActionLookup WithTestHook(runbook::Executor::ActionLookup inner) {
  const char* spec = getenv("PILOTLIGHT_TEST_BLOCK_STEP");
  if (spec == nullptr || *spec == '\0') return inner;
  const std::string s = spec;
  const size_t colon = s.find(':');
  const bool before = s.substr(0, colon) == "before";
  const std::string kind = colon == std::string::npos ? s : s.substr(colon + 1);
  auto hooks = std::make_shared<std::map<runbook::StepAction*, std::unique_ptr<BlockingHook>>>();
  return [inner, hooks, before, kind](const std::string& k) -> runbook::StepAction* {
    runbook::StepAction* a = inner(k);
    if (a == nullptr || k != kind) return a;
    auto& h = (*hooks)[a];
    if (!h) h = std::make_unique<BlockingHook>(a, before);
    return h.get();
  };
}

}  // namespace pilotlight::controller
