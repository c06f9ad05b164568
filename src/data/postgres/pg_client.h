// A small synchronous PostgreSQL client over libpq, for pilotlight's adapters.
//
// PgConnection owns one libpq connection. Every failure is returned as a Status
// naming the endpoint and the server's message; nothing throws. One connection
// is used by one thread at a time (libpq's rule); separate connections are
// independent. libpq headers stay inside pg_client.cc.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/status.h"

namespace pilotlight::pg {

// Where a PostgreSQL server listens, and as whom and to what to connect.
//
// `user` is the role pilotlight connects as (an admin role for promote, fence
// and replication status). `application_user` is the role the application's
// clients (the trading service, its checks) log in as: a fence revokes its
// LOGIN, and "the server refuses writes" is verified by a write attempted as it
// (`BEGIN READ WRITE; ...`), never only as the admin. Empty: the application
// connects as `user` (a server pilotlight cannot fence against its own clients).
// Passwords are never inline: each *_password_file names a file holding the
// password (its first line), read at connection time.
struct Endpoint {
  std::string host;
  uint16_t port = 5432;
  std::string user = "postgres";
  std::string database = "postgres";
  std::string password_file;              // empty: no password (peer, trust, certificates)
  std::string application_user;           // empty: `user`
  std::string application_password_file;  // the application role's password file
  std::string sslmode;                    // libpq's; empty: its default
  std::string sslrootcert;                // CA certificate; empty: none
  Duration connect_timeout = std::chrono::seconds(2);
  // A connection whose peer stops answering (a partition drops its packets
  // after it was established) fails after this instead of hanging in a query
  // until TCP gives up minutes later: libpq's tcp_user_timeout, with TCP
  // keepalives (idle 2 s, every 1 s) so an idle wait for an answer notices too.
  Duration io_timeout = std::chrono::seconds(5);

  std::string ConnInfo() const;  // libpq keyword/value string, without the password
  // For PostgreSQL's own tools (pg_basebackup -d, pg_rewind --source-server,
  // primary_conninfo): host, port, user, TLS and `passfile` (a .pgpass file,
  // which libpq reads only when it is 0600 and owned by the tool's user).
  std::string ToolConnInfo(const std::string& passfile) const;
  std::string ToString() const;  // "postgres@127.0.1.1:5432/trading"
  // The same server and database, as the application role (itself when
  // application_user is empty or the same role).
  Endpoint AsApplication() const;
  bool has_application_role() const {
    return !application_user.empty() && application_user != user;
  }
};

// The password in `file` (its first line, without the line end). Refused when the
// file is readable by its group or by others (chmod 600 it), not a regular file,
// or over 1 KiB; the message names the file, never its content.
Result<std::string> ReadPasswordFile(const std::string& file);

// One .pgpass line giving `password` for e's host, port and user (any database).
std::string PgpassLine(const Endpoint& e, const std::string& password);

// A query result: rows of nullable text values.
struct Rows {
  std::vector<std::string> columns;
  std::vector<std::vector<std::optional<std::string>>> rows;

  bool empty() const { return rows.empty(); }
  // REQUIRES: row < rows.size(). Null or a missing column yields nullopt.
  std::optional<std::string> Get(size_t row, const std::string& column) const;
};

class Connection {
 public:
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  static Result<std::unique_ptr<Connection>> Open(const Endpoint& endpoint);

  // Runs one or more statements, discarding results.
  Status Exec(const std::string& sql);
  // Sets `role`'s password: the SCRAM-SHA-256 verifier is computed here
  // (libpq's PQencryptPasswordConn), so the password itself never reaches the
  // server or its logs. `role` must be a plain name ([a-z_][a-z0-9_]*).
  Status SetRolePassword(const std::string& role, const std::string& password);
  // Runs one statement with text parameters ($1, $2, ...) and returns its rows.
  Result<Rows> Query(const std::string& sql, const std::vector<std::string>& params = {});
  // The same for a statement run again and again on this connection: it is
  // parsed and planned once (PQprepare, on first use) and then only executed.
  // For hot paths only; every distinct `sql` holds a prepared statement for the
  // connection's life.
  Result<Rows> QueryPrepared(const std::string& sql, const std::vector<std::string>& params = {});
  // Runs several statements (prepared, as QueryPrepared) in ONE round trip
  // (libpq's pipeline mode), in order, each in its own implicit transaction, so
  // one failing does not stop the next; one result per statement.
  struct Statement {
    std::string sql;
    std::vector<std::string> params;
  };
  std::vector<Result<Rows>> QueryPipeline(const std::vector<Statement>& statements);

  const Endpoint& endpoint() const { return endpoint_; }
  // The SQLSTATE of the last failed Exec/Query ("25006" = read-only transaction),
  // or "" when it succeeded or failed without one (connection lost).
  const std::string& last_sqlstate() const { return last_sqlstate_; }

 private:
  Connection(Endpoint endpoint, void* conn) : endpoint_(std::move(endpoint)), conn_(conn) {}
  Status Failure(void* result);
  Result<Rows> Collect(void* result);  // PGresult*: its rows, or the failure
  // The name of `sql` prepared on this connection, preparing it on first use.
  Result<const std::string*> Prepared(const std::string& sql, int nparams);

  std::map<std::string, std::string> prepared_;  // sql -> statement name

  Endpoint endpoint_;
  void* conn_;  // PGconn*
  std::string last_sqlstate_;
};

// SQLSTATE codes pilotlight acts on.
inline constexpr char kSqlStateReadOnlyTransaction[] = "25006";

// True when the server accepts connections (PQping), without authenticating.
bool Ping(const Endpoint& endpoint);

}  // namespace pilotlight::pg
