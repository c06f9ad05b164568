#include "controller/failback_actions.h"

#include <algorithm>
#include <filesystem>

#include "core/duration.h"
#include "core/log.h"
#include "data/objects/replicator.h"
#include "data/postgres/failover.h"
#include "data/postgres/rejoin.h"
#include "data/postgres/replication.h"

namespace pilotlight::controller {

using namespace std::chrono_literals;

Result<std::vector<int>> ParseShiftSteps(const std::string& text) {
  std::vector<int> out;
  size_t at = 0;
  while (at <= text.size()) {
    const size_t comma = std::min(text.find(',', at), text.size());
    const std::string item = text.substr(at, comma - at);
    if (item.empty() || item.size() > 3 ||
        item.find_first_not_of("0123456789") != std::string::npos) {
      return Status::InvalidArgument("steps \"" + text + "\": expected percentages like 25,50,100");
    }
    const int v = std::stoi(item);
    if (v < 1 || v > 100 || (!out.empty() && v <= out.back())) {
      return Status::InvalidArgument("steps \"" + text + "\": percentages must grow from 1 to 100");
    }
    out.push_back(v);
    at = comma + 1;
  }
  if (out.empty() || out.back() != 100) {
    return Status::InvalidArgument("steps \"" + text + "\": the last step must be 100");
  }
  return out;
}

Result<std::string> WeightsFor(const std::vector<RecordSetShape>& sets,
                               const std::vector<std::string>& region_values, int share) {
  std::vector<const RecordSetShape*> mine;
  std::vector<const RecordSetShape*> others;
  for (const RecordSetShape& s : sets) {
    const bool ours = std::any_of(s.values.begin(), s.values.end(), [&](const std::string& v) {
      return std::find(region_values.begin(), region_values.end(), v) != region_values.end();
    });
    (ours ? mine : others).push_back(&s);
  }
  if (mine.empty()) {
    return Status::NotFound("no set of the weighted record serves the region's address");
  }
  // Weights are relative; percentages of 100 split evenly (the remainder to the
  // first sets) keep the shares exact enough for a traffic shift.
  std::string out = "weights:";
  auto split = [&](const std::vector<const RecordSetShape*>& group, int total) {
    const int n = static_cast<int>(group.size());
    for (int i = 0; i < n; ++i) {
      const int w = total / n + (i < total % n ? 1 : 0);
      out += (out.size() > 8 ? "," : "") + group[i]->id + "=" + std::to_string(w);
    }
  };
  split(mine, share);
  if (!others.empty()) split(others, 100 - share);
  return out;
}

namespace {

std::string Param(const runbook::StepSpec& step, const std::string& key,
                  const std::string& fallback = "") {
  auto it = step.params.find(key);
  return it == step.params.end() || it->second.empty() ? fallback : it->second;
}

// Polls happen at this pace; each wait is bounded by its step's deadline.
constexpr Duration kPoll = 200ms;

class FailbackAction : public runbook::StepAction {
 public:
  explicit FailbackAction(const Adapters& a) : a_(a) {}

 protected:
  const ControllerSpec& spec() const { return *a_.spec; }
  Clock& clock() const { return *a_.clock; }
  Result<std::string> Region(const runbook::StepSpec& step, const std::string& key,
                             const std::string& fallback) const {
    const std::string r = Param(step, key, fallback);
    if (r != spec().primary_region && r != spec().dr_region) {
      return Status::InvalidArgument("step '" + step.name + "': " + key + " \"" + r +
                                     "\" is neither " + spec().primary_region + " nor " +
                                     spec().dr_region);
    }
    return r;
  }
  std::string Other(const std::string& region) const {
    return region == spec().primary_region ? spec().dr_region : spec().primary_region;
  }
  const pg::Endpoint& Database(const std::string& region) const {
    return region == spec().primary_region ? spec().primary_db : spec().dr_db;
  }
  Duration Left(MonoTime deadline) const {
    const Duration d = deadline - clock().Monotonic();
    return d > 100ms ? d : 100ms;
  }

  Adapters a_;
};

// Turns a region's PostgreSQL into a streaming standby of the other region's.
class RejoinAction final : public FailbackAction {
 public:
  using FailbackAction::FailbackAction;
  Status Precondition(const runbook::StepSpec& step) override {
    Result<std::string> region = Region(step, "region", spec().primary_region);
    if (!region.ok()) return region.status();
    if (spec().local_databases.count(*region) == 0) {
      return Status::FailedPrecondition(
          "step '" + step.name + "': the data directory of " + *region +
          "'s PostgreSQL is not known here; run the failback on the lab's host (--dir)");
    }
    const std::string from = Param(step, "from", Other(*region));
    const pg::FenceState st = pg::ReadFenceState(Database(from));
    if (!st.reachable) {
      return Status::FailedPrecondition(
          from + "'s PostgreSQL, the new upstream, is unreachable: " + st.detail);
    }
    if (st.in_recovery) {
      return Status::FailedPrecondition(from + "'s PostgreSQL is itself a standby; " + *region +
                                        " can only stream from the region that takes writes");
    }
    return Status::OK();
  }
  Result<bool> AlreadyDone(const runbook::StepSpec& step) override {
    Result<std::string> region = Region(step, "region", spec().primary_region);
    if (!region.ok()) return region.status();
    const std::string from = Param(step, "from", Other(*region));
    Result<bool> streaming = pg::IsStreamingTo(Database(from), *region);
    if (!streaming.ok()) return false;  // the upstream will be checked by the precondition
    if (*streaming) detail_ = *region + " already streams from " + from;
    return *streaming;
  }
  std::string SkipDetail(const runbook::StepSpec&) override { return detail_; }
  Status Run(const runbook::StepSpec& step, MonoTime deadline) override {
    Result<std::string> region = Region(step, "region", spec().primary_region);
    if (!region.ok()) return region.status();
    const std::string from = Param(step, "from", Other(*region));
    pg::RejoinSpec r;
    r.server = spec().local_databases.at(*region);
    r.new_primary = Database(from);
    r.application_name = *region;
    r.slot = "pilotlight_" + *region;
    r.timeout = Left(deadline);
    Result<pg::RejoinOutcome> out = pg::Rejoin(r, clock());
    if (!out.ok()) return out.status();
    LogInfo("rejoin " + *region + ": " + out->ToString());
    return Status::OK();
  }

 private:
  std::string detail_;
};

// One pass of every shared bucket from one region to the other.
class SyncObjectsAction final : public FailbackAction {
 public:
  using FailbackAction::FailbackAction;
  Status Precondition(const runbook::StepSpec& step) override {
    Result<std::string> from = Region(step, "from", spec().dr_region);
    if (!from.ok()) return from.status();
    Result<std::string> to = Region(step, "to", Other(*from));
    if (!to.ok()) return to.status();
    if (*from == *to) return Status::InvalidArgument("step '" + step.name + "': from = to");
    return Status::OK();
  }
  // A pass finds what is already in place and copies nothing: always run it.
  Result<bool> AlreadyDone(const runbook::StepSpec&) override { return false; }
  Status Run(const runbook::StepSpec& step, MonoTime) override {
    const std::string from = Param(step, "from", spec().dr_region);
    const std::string to = Param(step, "to", Other(from));
    int64_t copied = 0;
    int64_t in_place = 0;
    std::vector<std::string> alarms;
    for (const SharedBucket& b : spec().shared_buckets) {
      auto src = b.dir_by_region.find(from);
      auto dst = b.dir_by_region.find(to);
      if (src == b.dir_by_region.end() || dst == b.dir_by_region.end()) continue;
      std::error_code ec;
      if (!std::filesystem::exists(src->second, ec)) continue;  // nothing was ever written
      std::filesystem::create_directories(dst->second, ec);
      objects::ReplicatorOptions o;
      o.source_dir = src->second;
      o.dest_dir = dst->second;
      o.state_dir = b.state_root + "/" + b.name + "." + from + "-to-" + to;
      o.origin = from;
      // A catch-up copy: an object the destination has and the source lacks was
      // written there before the failover; it is not deleted.
      o.replicate_deletes = false;
      Result<std::unique_ptr<objects::BucketReplicator>> r =
          objects::BucketReplicator::Open(o, clock());
      if (!r.ok()) return r.status().Annotate("bucket " + b.name);
      Result<objects::PassStats> pass = (*r)->RunPass();
      if (!pass.ok()) return pass.status().Annotate("bucket " + b.name);
      copied += pass->copied;
      in_place += pass->already_in_place;
      for (const std::string& alarm : pass->alarms) alarms.push_back(b.name + ": " + alarm);
    }
    if (!alarms.empty()) {
      std::string msg = "objects not copied intact from " + from + " to " + to + ":";
      for (const std::string& a : alarms) msg += " " + a + ";";
      return Status::Corruption(msg);
    }
    LogInfo("objects " + from + " -> " + to + ": copied " + std::to_string(copied) +
            ", already in place " + std::to_string(in_place));
    return Status::OK();
  }
};

// Waits until the region streams from its primary with lag under the limit.
class ValidateStandbyAction final : public FailbackAction {
 public:
  using FailbackAction::FailbackAction;
  Result<bool> AlreadyDone(const runbook::StepSpec&) override { return false; }
  Status Run(const runbook::StepSpec& step, MonoTime deadline) override {
    Result<std::string> region = Region(step, "region", spec().primary_region);
    if (!region.ok()) return region.status();
    const std::string from = Param(step, "from", Other(*region));
    const Duration max = spec().policy.max_lag_on_failover;
    std::string last = "not measured";
    while (true) {
      // The lag is measured by heartbeat; after a failover no agent writes them
      // on the new primary, so write one (it is the region that takes writes).
      if (auto c = pg::Connection::Open(Database(from)); c.ok()) {
        (void)pg::WriteHeartbeat(**c, from);
      }
      const pg::ReplicationStatus rs =
          pg::ReadReplicationStatus(Database(from), Database(*region), *region);
      if (rs.streaming && rs.standby_in_recovery) {
        const bool bytes_zero = rs.replay_lag_bytes && *rs.replay_lag_bytes == 0;
        if (rs.replay_lag_seconds && *rs.replay_lag_seconds <= ToSeconds(max)) return Status::OK();
        if (!rs.replay_lag_seconds && bytes_zero) return Status::OK();
        last = "streaming, replay lag " +
               (rs.replay_lag_seconds ? std::to_string(*rs.replay_lag_seconds) + " s"
                                      : std::string("unknown")) +
               " (limit " + FormatDuration(max) + ")";
      } else {
        last = "not streaming (" + (rs.state.empty() ? rs.problem : rs.state) + ")";
      }
      if (clock().Monotonic() + kPoll >= deadline) break;
      clock().SleepFor(kPoll);  // polling, bounded by the step's deadline
    }
    return Status::Timeout(*region + " is not a healthy standby of " + from +
                           " by the deadline: " + last);
  }

 private:
  static double ToSeconds(Duration d) { return std::chrono::duration<double>(d).count(); }
};

// Planned switchover: fence `from`, wait until `to` replayed its last WAL
// position, promote `to`.
class SwitchoverAction final : public FailbackAction {
 public:
  using FailbackAction::FailbackAction;
  Status Precondition(const runbook::StepSpec& step) override {
    Result<std::string> from = Region(step, "from", spec().dr_region);
    if (!from.ok()) return from.status();
    Result<std::string> to = Region(step, "to", Other(*from));
    if (!to.ok()) return to.status();
    const pg::FenceState target = pg::ReadFenceState(Database(*to));
    if (!target.reachable) {
      return Status::FailedPrecondition(*to + "'s PostgreSQL is unreachable: " + target.detail);
    }
    if (!target.in_recovery) return Status::OK();  // promoted already (AlreadyDone decides)
    Result<bool> streaming = pg::IsStreamingTo(Database(*from), *to);
    if (!streaming.ok() || !*streaming) {
      // Promoting a standby that does not stream would lose what it has not received.
      return Status::FailedPrecondition(*to + " does not stream from " + *from +
                                        "; rejoin it first (step 1)");
    }
    return Status::OK();
  }
  Result<bool> AlreadyDone(const runbook::StepSpec& step) override {
    const std::string from = Param(step, "from", spec().dr_region);
    const std::string to = Param(step, "to", Other(from));
    const pg::FenceState target = pg::ReadFenceState(Database(to));
    if (!target.reachable || target.in_recovery || target.fenced()) return false;
    const pg::FenceState source = pg::ReadFenceState(Database(from));
    if (!source.reachable || !(source.fenced() || source.in_recovery)) return false;
    detail_ = to + " takes writes and " + from + " refuses them (" + source.detail + ")";
    return true;
  }
  std::string SkipDetail(const runbook::StepSpec&) override { return detail_; }
  Status Run(const runbook::StepSpec& step, MonoTime deadline) override {
    const std::string from = Param(step, "from", spec().dr_region);
    const std::string to = Param(step, "to", Other(from));
    const pg::Endpoint& src = Database(from);
    const pg::Endpoint& dst = Database(to);
    // Writes stop on `from` first: never two writable primaries.
    Result<pg::FenceOutcome> fenced =
        pg::Fence(src, pg::FenceMode::kReadOnly, Left(deadline), clock());
    if (!fenced.ok()) return fenced.status().Annotate("fence " + from);
    LogInfo("switchover: fenced " + from + ": " + fenced->ToString());
    const pg::FenceState target = pg::ReadFenceState(dst);
    if (target.reachable && !target.in_recovery) {
      LogInfo("switchover: " + to + " was promoted already");
    } else {
      Result<std::string> lsn = LastLsn(src);
      if (!lsn.ok()) return lsn.status();
      PL_RETURN_IF_ERROR(WaitReplayed(dst, *lsn, to, deadline));
      LogInfo("switchover: " + to + " replayed " + from + "'s last WAL position " + *lsn);
    }
    Result<pg::PromoteOutcome> promoted = pg::Promote(dst, Left(deadline), clock());
    if (!promoted.ok()) return promoted.status().Annotate("promote " + to);
    LogInfo("switchover: promoted " + to + ": " + promoted->ToString());
    return Status::OK();
  }

 private:
  static Result<std::string> LastLsn(const pg::Endpoint& server) {
    Result<std::unique_ptr<pg::Connection>> c = pg::Connection::Open(server);
    if (!c.ok()) return c.status();
    Result<pg::Rows> r = (*c)->Query(
        "SELECT (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() "
        "ELSE pg_current_wal_lsn() END)::text AS lsn");
    if (!r.ok()) return r.status();
    std::optional<std::string> lsn = r->empty() ? std::nullopt : r->Get(0, "lsn");
    if (!lsn) return Status::Internal("no WAL position from " + server.ToString());
    return *lsn;
  }
  Status WaitReplayed(const pg::Endpoint& standby, const std::string& lsn, const std::string& name,
                      MonoTime deadline) const {
    std::string last = "not asked";
    while (true) {
      Result<std::unique_ptr<pg::Connection>> c = pg::Connection::Open(standby);
      if (c.ok()) {
        Result<pg::Rows> r = (*c)->Query(
            "SELECT pg_last_wal_replay_lsn()::text AS at, "
            "(pg_wal_lsn_diff(pg_last_wal_replay_lsn(), $1::pg_lsn) >= 0)::text AS done",
            {lsn});
        if (r.ok() && !r->empty() && r->Get(0, "done") == "true") return Status::OK();
        last = r.ok() && !r->empty() ? "replayed up to " + r->Get(0, "at").value_or("?")
                                     : (r.ok() ? "no answer" : r.status().message());
      } else {
        last = c.status().message();
      }
      if (clock().Monotonic() + kPoll >= deadline) break;
      clock().SleepFor(kPoll);  // polling, bounded by the step's deadline
    }
    return Status::Timeout(name + " did not replay up to " + lsn + " by the deadline (" + last +
                           "); the other region stays fenced: lift its fence with `pilotlight "
                           "replication unfence` to serve from it again, or run the failback "
                           "again");
  }

  std::string detail_;
};

// Traffic back to a region through DNS.
//
// What "gradual" can mean here: only one region's database takes writes at a
// time, so a weighted shift does not move write capacity step by step. Once the
// switchover has promoted the primary, DR is fenced: requests that the weights
// still send to DR are served by DR's instances only as far as they need no
// write (they read DR's fenced database or are refused and retried by clients);
// the steps move the request load, caches, connection pools and the autoscaler
// of the primary gradually, and let an operator stop at 25 % when the primary's
// instances misbehave. A failover record has no weights: it is switched at once.
class DnsShiftAction final : public FailbackAction {
 public:
  using FailbackAction::FailbackAction;
  Status Precondition(const runbook::StepSpec& step) override {
    Result<std::string> to = Region(step, "to", spec().primary_region);
    if (!to.ok()) return to.status();
    Result<std::vector<int>> steps = ParseShiftSteps(Param(step, "steps", "100"));
    if (!steps.ok()) return steps.status();
    Result<Duration> pause = ParseDuration(Param(step, "pause", "0"));
    if (!pause.ok()) return pause.status().Annotate("pause");
    Result<std::string> final_target = Target(step, 100);
    return final_target.status();
  }
  Result<bool> AlreadyDone(const runbook::StepSpec& step) override {
    Result<std::string> target = Target(step, 100);
    if (!target.ok()) return target.status();
    return RoutedEverywhere(Dns(step), *target, clock());
  }
  Status Run(const runbook::StepSpec& step, MonoTime deadline) override {
    Result<RecordShape> shape = DescribeRecord(Dns(step), clock().Now());
    if (!shape.ok()) return shape.status();
    Result<std::vector<int>> steps = ParseShiftSteps(Param(step, "steps", "100"));
    if (!steps.ok()) return steps.status();
    if (shape->policy != "weighted") steps = std::vector<int>{100};
    Result<Duration> pause = ParseDuration(Param(step, "pause", "0"));
    if (!pause.ok()) return pause.status();
    for (size_t i = 0; i < steps->size(); ++i) {
      Result<std::string> target = Target(step, (*steps)[i]);
      if (!target.ok()) return target.status();
      // Every publisher, each step: a plain server gets the values of every set
      // the weights leave on (RecordChanges).
      PL_RETURN_IF_ERROR(PublishRouting(Dns(step), *target, clock(), deadline));
      LogInfo("dns_shift: " + Dns(step).record + " -> " + *target);
      if (i + 1 < steps->size()) {
        if (clock().Monotonic() + *pause >= deadline) {
          return Status::Timeout("no time left for the next DNS step; raise the step's timeout");
        }
        clock().SleepFor(*pause);  // the deliberate pause between shift steps
      }
    }
    return Status::OK();
  }

 private:
  DnsTarget Dns(const runbook::StepSpec& step) const {
    DnsTarget t = spec().dns;
    t.record = Param(step, "record", t.record);
    return t;
  }
  // The override that sends `share` percent to the region.
  Result<std::string> Target(const runbook::StepSpec& step, int share) const {
    Result<std::string> to = Region(step, "to", spec().primary_region);
    if (!to.ok()) return to.status();
    Result<RecordShape> shape = DescribeRecord(Dns(step), clock().Now());
    if (!shape.ok()) return shape.status();
    if (shape->policy == "weighted") {
      return WeightsFor(shape->sets, {Database(*to).host}, share);
    }
    if (shape->policy == "failover") {
      return std::string(*to == spec().primary_region ? "primary" : "secondary");
    }
    return Status::FailedPrecondition("DNS record " + Dns(step).record +
                                      " is neither weighted nor failover: nothing to shift");
  }
};

}  // namespace

std::map<std::string, std::unique_ptr<runbook::StepAction>> MakeFailbackActions(const Adapters& a) {
  std::map<std::string, std::unique_ptr<runbook::StepAction>> out;
  out["rejoin"] = std::make_unique<RejoinAction>(a);
  out["sync_objects"] = std::make_unique<SyncObjectsAction>(a);
  out["validate_standby"] = std::make_unique<ValidateStandbyAction>(a);
  out["switchover"] = std::make_unique<SwitchoverAction>(a);
  out["dns_shift"] = std::make_unique<DnsShiftAction>(a);
  return out;
}

}  // namespace pilotlight::controller
