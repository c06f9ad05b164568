#include "data/postgres/replication.h"

#include <cstdlib>

namespace pilotlight::pg {
namespace {

std::optional<int64_t> ToInt(const std::optional<std::string>& s) {
  if (!s) return std::nullopt;
  return std::strtoll(s->c_str(), nullptr, 10);
}

std::optional<double> ToDouble(const std::optional<std::string>& s) {
  if (!s) return std::nullopt;
  return std::strtod(s->c_str(), nullptr);
}

void AddProblem(ReplicationStatus& st, const std::string& p) {
  if (!st.problem.empty()) st.problem += "; ";
  st.problem += p;
}

}  // namespace

Status EnsureHeartbeatTable(Connection& primary) {
  return primary.Exec(std::string("CREATE TABLE IF NOT EXISTS ") + kHeartbeatTable +
                      " (region text PRIMARY KEY, ts timestamptz NOT NULL)");
}

Status WriteHeartbeat(Connection& primary, const std::string& region) {
  Result<Rows> r = primary.Query(std::string("INSERT INTO ") + kHeartbeatTable +
                                     " (region, ts) VALUES ($1, clock_timestamp()) "
                                     "ON CONFLICT (region) DO UPDATE SET ts = EXCLUDED.ts",
                                 {region});
  return r.ok() ? Status::OK() : r.status();
}

ReplicationStatus ReadReplicationStatus(const Endpoint& primary, const Endpoint& standby,
                                        const std::string& standby_name) {
  ReplicationStatus st;
  std::optional<double> primary_heartbeat;  // epoch seconds
  // Replication state comes from the "postgres" database, which stays reachable
  // when a fence closes the application database; heartbeats from the latter.
  Endpoint primary_admin = primary;
  primary_admin.database = "postgres";
  Endpoint standby_admin = standby;
  standby_admin.database = "postgres";

  if (auto conn = Connection::Open(primary_admin); conn.ok()) {
    st.primary_reachable = true;
    Result<Rows> rows = (*conn)->Query(
        "SELECT state, "
        "  pg_wal_lsn_diff(pg_current_wal_lsn(), write_lsn)::bigint AS write_lag, "
        "  pg_wal_lsn_diff(pg_current_wal_lsn(), flush_lsn)::bigint AS flush_lag, "
        "  pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint AS replay_lag "
        "FROM pg_stat_replication WHERE application_name = $1",
        {standby_name});
    Result<Rows> rec = (*conn)->Query("SELECT pg_is_in_recovery()::text AS r");
    st.primary_in_recovery = rec.ok() && !rec->empty() && rec->Get(0, "r") == "true";
    if (st.primary_in_recovery) AddProblem(st, "the configured primary is in recovery (a standby)");
    if (!rows.ok()) {
      AddProblem(st, rows.status().message());
    } else if (rows->empty()) {
      AddProblem(st, "the primary has no replication connection from '" + standby_name + "'");
    } else {
      st.state = rows->Get(0, "state").value_or("");
      st.streaming = st.state == "streaming";
      st.write_lag_bytes = ToInt(rows->Get(0, "write_lag"));
      st.flush_lag_bytes = ToInt(rows->Get(0, "flush_lag"));
      st.replay_lag_bytes = ToInt(rows->Get(0, "replay_lag"));
    }
    if (auto app = Connection::Open(primary); app.ok()) {
      Result<Rows> hb = (*app)->Query(std::string("SELECT extract(epoch FROM max(ts))::float8 AS hb "
                                                  "FROM ") + kHeartbeatTable);
      if (hb.ok() && !hb->empty()) primary_heartbeat = ToDouble(hb->Get(0, "hb"));
    } else {
      AddProblem(st, app.status().message());
    }
  } else {
    AddProblem(st, conn.status().message());
  }

  if (auto conn = Connection::Open(standby_admin); conn.ok()) {
    st.standby_reachable = true;
    Result<Rows> rows = (*conn)->Query(
        "SELECT pg_is_in_recovery()::text AS recovery, "
        "  (SELECT status FROM pg_stat_wal_receiver) AS receiver, "
        "  (SELECT received_tli FROM pg_stat_wal_receiver) AS tli, "
        "  (SELECT timeline_id FROM pg_control_checkpoint()) AS checkpoint_tli");
    if (rows.ok() && !rows->empty()) {
      st.standby_in_recovery = rows->Get(0, "recovery").value_or("") == "true";
      const std::string receiver = rows->Get(0, "receiver").value_or("");
      if (!st.primary_reachable) {
        st.state = receiver.empty() ? "no wal receiver" : receiver;
        st.streaming = receiver == "streaming";
      }
      auto tli = ToInt(rows->Get(0, "tli"));
      if (!tli) tli = ToInt(rows->Get(0, "checkpoint_tli"));
      if (tli) st.standby_timeline = static_cast<int>(*tli);
    } else if (!rows.ok()) {
      AddProblem(st, rows.status().message());
    }
  } else {
    AddProblem(st, conn.status().message());
  }
  if (st.standby_reachable) {
    if (auto app = Connection::Open(standby); app.ok()) {
      Result<Rows> hb = (*app)->Query(
          std::string("SELECT extract(epoch FROM max(ts))::float8 AS hb, "
                      "extract(epoch FROM clock_timestamp() - max(ts))::float8 AS age FROM ") +
          kHeartbeatTable);
      if (hb.ok() && !hb->empty()) {
        std::optional<double> standby_heartbeat = ToDouble(hb->Get(0, "hb"));
        st.heartbeat_age_seconds = ToDouble(hb->Get(0, "age"));
        if (primary_heartbeat && standby_heartbeat) {
          const double lag = *primary_heartbeat - *standby_heartbeat;
          st.replay_lag_seconds = lag < 0 ? 0.0 : lag;
        }
      } else if (!hb.ok()) {
        AddProblem(st, hb.status().message());
      }
    } else {
      AddProblem(st, app.status().message());
    }
  }
  if (st.replay_lag_bytes && *st.replay_lag_bytes <= 0) {
    st.replay_lag_seconds = 0.0;  // replayed everything the primary has written
  }
  return st;
}

}  // namespace pilotlight::pg
