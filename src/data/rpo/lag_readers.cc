#include "data/rpo/lag_readers.h"

#include <filesystem>
#include <thread>

#include "core/duration.h"
#include "core/log.h"
#include "data/objects/replicator.h"
#include "data/postgres/region_database.h"
#include "data/postgres/replication.h"
#include "data/sessions/global_table.h"
#include "data/sessions/region_redis.h"

namespace pilotlight::rpo {
namespace fs = std::filesystem;
namespace {

pg::Endpoint PgOf(const config::RegionSpec& r) { return pg::RegionDatabase(r); }

sessions::SessionEndpoint SessionsOf(const config::RegionSpec& r) {
  return {r.name, sessions::RegionRedis(r)};
}

const config::BucketSpec* FindBucket(const config::RegionSpec& r, const std::string& name) {
  for (const config::BucketSpec& b : r.buckets) {
    if (b.name == name) return &b;
  }
  return nullptr;
}

LagReading DatabaseReading(const config::Config& config) {
  const config::RegionSpec* from = &config.Primary();
  const config::RegionSpec* to = &config.Dr();
  pg::ReplicationStatus st = pg::ReadReplicationStatus(PgOf(*from), PgOf(*to), to->name);
  if (st.primary_in_recovery || (!st.primary_reachable && st.standby_reachable &&
                                  !st.standby_in_recovery)) {
    // Failed over: DR is the primary now; the old primary may stream from it.
    std::swap(from, to);
    st = pg::ReadReplicationStatus(PgOf(*from), PgOf(*to), to->name);
  }
  LagReading r{DataType::kDatabase, "", from->name, to->name, std::nullopt, false, ""};
  if (st.standby_reachable && !st.standby_in_recovery) {
    r.detail = "no replica: " + to->name + " is a writable primary too";
  } else if (st.primary_reachable && st.replay_lag_seconds) {
    r.lag = std::chrono::duration_cast<Duration>(std::chrono::duration<double>(*st.replay_lag_seconds));
    r.detail = st.state.empty() ? "not streaming" : st.state;
    if (st.replay_lag_bytes) r.detail += ", " + std::to_string(*st.replay_lag_bytes) + " B behind";
  } else if (!st.primary_reachable && st.heartbeat_age_seconds) {
    r.lag = std::chrono::duration_cast<Duration>(
        std::chrono::duration<double>(*st.heartbeat_age_seconds));
    r.upper_bound = true;
    r.detail = from->name + " unreachable: bounded by the last replayed heartbeat";
  } else {
    r.detail = st.problem.empty() ? "lag unknown" : st.problem;
  }
  return r;
}

LagReading BucketReading(const std::string& bucket, const std::string& source,
                         const std::string& state, const std::string& from, const std::string& to,
                         WallTime now) {
  LagReading r{bucket == kArtifactsBucket ? DataType::kArtifacts : DataType::kObjects,
               bucket, from, to, std::nullopt, false, ""};
  Result<objects::Backlog> b = objects::ReadBacklog(source, state, now);
  if (!b.ok()) {
    r.detail = b.status().message();
    return r;
  }
  r.lag = b->lag;
  r.detail = std::to_string(b->objects) + " objects (" + std::to_string(b->bytes) +
             " B) and " + std::to_string(b->deletes) + " deletes pending";
  if (b->not_replicated > 0) {
    r.data_missing = true;
    r.detail += "; " + std::to_string(b->not_replicated) + " of them (" +
                std::to_string(b->not_replicated_bytes) +
                " B) not replicated: too large, see the replicator's log";
  }
  if (!b->skipped.empty()) {
    int64_t n = 0;
    std::string kinds;
    for (const auto& [reason, count] : b->skipped) {
      n += count;
      kinds += (kinds.empty() ? "" : ", ") + std::to_string(count) + " " +
               objects::SkipReasonName(reason);
    }
    r.detail += "; " + std::to_string(n) + " entries skipped, not regular files (" + kinds + ")";
  }
  return r;
}

}  // namespace

std::string DataLayout::BucketDir(const config::RegionSpec& region,
                                  const config::BucketSpec& bucket) const {
  return bucket.path.empty() ? state_dir + "/" + region.name + "/buckets/" + bucket.name
                             : bucket.path;
}

std::string DataLayout::ObjectStateDir(const std::string& bucket, const std::string& from,
                                       const std::string& to) const {
  return state_dir + "/replication/objects/" + bucket + "." + from + "-to-" + to;
}

std::vector<LagReading> ReadLags(const config::Config& config, const DataLayout& layout,
                                 WallTime now) {
  std::vector<LagReading> out;
  out.push_back(DatabaseReading(config));
  const config::RegionSpec& p = config.Primary();
  const config::RegionSpec& d = config.Dr();
  for (auto [from, to] : {std::pair{&p, &d}, std::pair{&d, &p}}) {
    sessions::SessionLag lag = sessions::ReadSessionLag(SessionsOf(*from), SessionsOf(*to));
    LagReading r{DataType::kSessions, "", from->name, to->name, std::nullopt, false, ""};
    if (lag.known) {
      r.lag = lag.lag;
      r.detail = std::to_string(lag.pending) + " changes pending";
    } else {
      r.detail = lag.problem;
    }
    out.push_back(std::move(r));
  }
  for (const config::BucketSpec& b : p.buckets) {
    const config::BucketSpec* other = FindBucket(d, b.name);
    if (other == nullptr) continue;
    out.push_back(BucketReading(b.name, layout.BucketDir(p, b),
                                layout.ObjectStateDir(b.name, p.name, d.name), p.name, d.name,
                                now));
    const std::string back = layout.ObjectStateDir(b.name, d.name, p.name);
    if (fs::exists(back)) {
      out.push_back(BucketReading(b.name, layout.BucketDir(d, *other), back, d.name, p.name, now));
    }
  }
  return out;
}

Status RunReplicators(const config::Config& config, const DataLayout& layout,
                      const std::string& from_name, Duration interval,
                      const std::atomic<bool>& stop, Clock& clock) {
  const config::RegionSpec* from = config.FindRegion(from_name);
  if (from == nullptr) {
    return Status::NotFound("no region named '" + from_name + "' in " + config.file);
  }
  const config::RegionSpec& to = from == &config.Primary() ? config.Dr() : config.Primary();

  std::vector<std::unique_ptr<objects::BucketReplicator>> buckets;
  for (const config::BucketSpec& b : from->buckets) {
    const config::BucketSpec* other = FindBucket(to, b.name);
    if (other == nullptr) continue;
    objects::ReplicatorOptions o;
    o.source_dir = layout.BucketDir(*from, b);
    o.dest_dir = layout.BucketDir(to, *other);
    o.state_dir = layout.ObjectStateDir(b.name, from->name, to.name);
    o.origin = from->name;
    Result<std::unique_ptr<objects::BucketReplicator>> r =
        objects::BucketReplicator::Open(o, clock);
    if (!r.ok()) return r.status().Annotate("bucket " + b.name);
    buckets.push_back(std::move(*r));
  }
  std::vector<std::thread> threads;
  for (auto& r : buckets) {
    threads.emplace_back([&r, &stop, interval] { r->Run(stop, interval); });
  }
  threads.emplace_back([&] {
    sessions::SessionReplicator forward(SessionsOf(*from), SessionsOf(to));
    sessions::SessionReplicator backward(SessionsOf(to), SessionsOf(*from));
    std::string last_error;
    while (!stop.load()) {
      const MonoTime started = clock.Monotonic();
      bool busy = false;
      for (sessions::SessionReplicator* r : {&forward, &backward}) {
        Result<sessions::ApplyStats> s = r->RunOnce();
        if (!s.ok()) {
          if (s.status().message() != last_error) LogWarn("sessions: " + s.status().message());
          last_error = s.status().message();
        } else if (s->consumed > 0) {
          busy = true;
        }
      }
      // Sessions have the tightest objective: poll often, and at once when busy.
      const Duration pause = std::min<Duration>(interval, std::chrono::milliseconds(100));
      while (!busy && !stop.load() && clock.Monotonic() - started < pause) {
        clock.SleepFor(std::chrono::milliseconds(10));
      }
    }
  });
  LogInfo("replicating from " + from->name + " to " + to.name + ": sessions both ways, " +
          std::to_string(buckets.size()) + " bucket(s)");
  for (std::thread& t : threads) t.join();
  return Status::OK();
}

}  // namespace pilotlight::rpo
