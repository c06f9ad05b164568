#include "controller/failback.h"

#include <filesystem>

#include "controller/dns_switch.h"
#include "data/postgres/failover.h"
#include "data/postgres/rejoin.h"

namespace pilotlight::controller {

bool FailbackReadinessReport::ready() const {
  for (const FailbackPrecondition& p : preconditions) {
    if (p.required && !p.ok) return false;
  }
  return true;
}

std::string FailbackReadinessReport::Verdict() const {
  std::string failed;
  for (const FailbackPrecondition& p : preconditions) {
    if (p.required && !p.ok)
      failed += (failed.empty() ? "" : "; ") + p.name + " (" + p.detail + ")";
  }
  if (failed.empty()) return "ready: `pilotlight failback` would run these steps";
  return "blocked: " + failed;
}

FailbackReadinessReport FailbackReadiness(const ControllerSpec& spec, const DurableState& durable,
                                          compute::NodeGroups* groups, const Clock& clock,
                                          Duration probe_budget) {
  FailbackReadinessReport out;
  auto add = [&](std::string name, bool ok, std::string detail, bool required = true) {
    out.preconditions.push_back({std::move(name), ok, required, std::move(detail)});
  };
  using Phase = decide::ControllerState::Phase;
  add("the platform is failed over to " + spec.dr_region, durable.state.phase == Phase::kFailedOver,
      durable.summary);

  const pg::FenceState dr = pg::ReadFenceState(spec.dr_db);
  add(spec.dr_region + " takes writes", dr.reachable && !dr.in_recovery && !dr.fenced(),
      dr.reachable ? dr.detail : "unreachable: " + dr.detail);

  const pg::FenceState primary = pg::ReadFenceState(spec.primary_db);
  std::string what;
  if (!primary.reachable) {
    what = "unreachable: " + primary.detail + "; start it (pilotlight lab start-region " +
           spec.primary_region + ")";
  } else if (primary.in_recovery) {
    Result<bool> streams = pg::IsStreamingTo(spec.dr_db, spec.primary_region);
    what = streams.ok() && *streams ? "a standby streaming from " + spec.dr_region
                                    : "a standby, not streaming from " + spec.dr_region;
  } else {
    what = primary.fenced() ? "fenced (refuses writes): " + primary.detail
                            : "WRITABLE beside " + spec.dr_region + ": " + primary.detail;
  }
  add(spec.primary_region + "'s PostgreSQL is up and refuses writes",
      primary.reachable && (primary.in_recovery || primary.fenced()), what);

  auto local = spec.local_databases.find(spec.primary_region);
  std::error_code ec;
  const bool have_dir =
      local != spec.local_databases.end() && std::filesystem::exists(local->second.data_dir, ec);
  add(spec.primary_region + "'s data directory is here (for pg_rewind)", have_dir,
      local == spec.local_databases.end() ? "not known" : local->second.data_dir);

  for (const compute::NodeGroupSpec& g : spec.node_groups) {
    if (g.region != spec.primary_region || groups == nullptr) continue;
    Result<compute::GroupReadiness> r = groups->Readiness(
        g.region, g.name, compute::ReadyWhen::kAnswering, clock.Monotonic() + probe_budget);
    const std::string detail =
        !r.ok() ? r.status().message()
                : std::to_string(r->up.size()) + " of " + std::to_string(r->desired) +
                      " instances answer" + (r->detail.empty() ? "" : ": " + r->detail) +
                      "; the runbook scales it to " + std::to_string(g.production_size);
    // Informative: the runbook's scale step brings them to production size.
    add(spec.primary_region + " " + g.name + " instances answer", r.ok() && !r->up.empty(), detail,
        /*required=*/false);
  }

  Result<RecordShape> shape = DescribeRecord(spec.dns, clock.Now());
  add("DNS record " + spec.dns.record + " can be shifted back",
      shape.ok() && (shape->policy == "failover" || shape->policy == "weighted"),
      shape.ok() ? shape->policy + " record in " + spec.dns.zone_file : shape.status().message());

  Result<std::unique_ptr<RunbookLock>> lock =
      RunbookLock::TryAcquire(spec.LockPath(), "pilotlight failback --plan");
  add("no other runbook is running", lock.ok(),
      lock.ok() ? "the runbook lock is free" : lock.status().message());
  return out;
}

Result<runbook::RunReport> RunFailback(const ControllerSpec& spec, runbook::Journal& journal,
                                       Clock& clock, runbook::Executor::ActionLookup actions,
                                       runbook::Executor::Observer observer,
                                       const std::string& reason) {
  Result<std::unique_ptr<RunbookLock>> lock =
      RunbookLock::TryAcquire(spec.LockPath(), "pilotlight failback");
  if (!lock.ok()) return Status::FailedPrecondition(lock.status().message());
  const runbook::RunbookSpec* rb = spec.FindRunbook(spec.failback_runbook);
  if (rb == nullptr) {
    return Status::NotFound("no runbook named '" + spec.failback_runbook + "' in the spec");
  }
  runbook::Executor executor(journal, clock, std::move(actions), std::move(observer));
  Result<std::optional<runbook::RunRecord>> unfinished = journal.UnfinishedRun();
  if (!unfinished.ok()) return unfinished.status();
  if (unfinished->has_value()) {
    if ((*unfinished)->runbook != spec.failback_runbook) {
      return Status::FailedPrecondition(
          "run " + std::to_string((*unfinished)->id) + " of runbook '" + (*unfinished)->runbook +
          "' has not finished; let the controller (or `pilotlight failover`) finish it first");
    }
    Result<std::optional<runbook::RunReport>> run = executor.ResumeUnfinished(
        [&spec](const std::string& name) { return spec.FindRunbook(name); });
    if (!run.ok()) return run.status();
    if (run->has_value()) return **run;
  }
  return executor.Run(*rb, reason);
}

}  // namespace pilotlight::controller
