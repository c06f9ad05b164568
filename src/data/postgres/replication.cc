#include "data/postgres/replication.h"

#include <cstdlib>

#include "data/postgres/wal_at_risk.h"

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

std::string DescribeStandbyStreaming(const ReplicationStatus& st) {
  if (!st.standby_reachable) return "the standby cannot be reached";
  if (!st.standby_in_recovery) return "the standby is no standby (it was promoted)";
  std::string out;
  if (st.receiver_status.empty()) {
    out = "no WAL receiver on the standby (pg_stat_wal_receiver is empty: primary_conninfo unset, "
          "replication blocked, or the primary gone)";
  } else if (st.receiver_status == "streaming") {
    out = "streaming";
  } else {
    out = "WAL receiver " + st.receiver_status + ", not streaming";
  }
  if (st.replay_paused) {
    out += std::string(out == "streaming" ? ";" : ", and") +
           " replay paused (received WAL is replayed at promotion: not at risk)";
  }
  return out;
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
    Result<Rows> rec = (*conn)->Query(
        "SELECT pg_is_in_recovery()::text AS r, "
        "  CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn()::text END AS lsn");
    st.primary_in_recovery = rec.ok() && !rec->empty() && rec->Get(0, "r") == "true";
    if (rec.ok() && !rec->empty()) {
      if (auto lsn = rec->Get(0, "lsn")) st.primary_lsn = ParseLsn(*lsn);
    }
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
        "  (SELECT timeline_id FROM pg_control_checkpoint()) AS checkpoint_tli, "
        "  pg_last_wal_receive_lsn()::text AS receive_lsn, "
        "  pg_last_wal_replay_lsn()::text AS replay_lsn, "
        "  CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused()::text END AS paused");
    if (rows.ok() && !rows->empty()) {
      st.standby_in_recovery = rows->Get(0, "recovery").value_or("") == "true";
      const std::string receiver = rows->Get(0, "receiver").value_or("");
      st.receiver_status = receiver;
      st.replay_paused = rows->Get(0, "paused").value_or("") == "true";
      if (auto lsn = rows->Get(0, "receive_lsn")) st.standby_receive_lsn = ParseLsn(*lsn);
      if (auto lsn = rows->Get(0, "replay_lsn")) st.standby_replay_lsn = ParseLsn(*lsn);
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
        st.standby_heartbeat_epoch = standby_heartbeat;
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
