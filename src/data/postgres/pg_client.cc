#include "data/postgres/pg_client.h"

#include <fcntl.h>
#include <libpq-fe.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "sys/whole_file.h"

namespace pilotlight::pg {
namespace {

// Quotes a value for a libpq conninfo string.
std::string QuoteConnValue(const std::string& v) {
  std::string out = "'";
  for (char c : v) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

// libpq's view of text parameters: pointers into `params`, which must outlive it.
std::vector<const char*> ParamValues(const std::vector<std::string>& params) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const std::string& p : params) values.push_back(p.c_str());
  return values;
}

std::string TrimMessage(const char* msg) {
  std::string s = msg ? msg : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

std::string Endpoint::ConnInfo() const {
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(connect_timeout).count();
  return "host=" + QuoteConnValue(host) + " port=" + std::to_string(port) +
         " user=" + QuoteConnValue(user) + " dbname=" + QuoteConnValue(database) +
         " connect_timeout=" + std::to_string(secs < 1 ? 1 : secs) + " tcp_user_timeout=" +
         std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(io_timeout).count()) +
         " keepalives=1 keepalives_idle=2 keepalives_interval=1 keepalives_count=3"
         " application_name=pilotlight" +
         (sslmode.empty() ? "" : " sslmode=" + QuoteConnValue(sslmode)) +
         (sslrootcert.empty() ? "" : " sslrootcert=" + QuoteConnValue(sslrootcert));
}

std::string Endpoint::ToolConnInfo(const std::string& passfile) const {
  std::string out = "host=" + QuoteConnValue(host) + " port=" + std::to_string(port) +
                    " user=" + QuoteConnValue(user);
  if (!passfile.empty()) out += " passfile=" + QuoteConnValue(passfile);
  if (!sslmode.empty()) out += " sslmode=" + QuoteConnValue(sslmode);
  if (!sslrootcert.empty()) out += " sslrootcert=" + QuoteConnValue(sslrootcert);
  return out;
}

std::string PgpassLine(const Endpoint& e, const std::string& password) {
  // .pgpass fields escape ':' and '\' with a backslash; "*" matches any database.
  auto field = [](const std::string& v) {
    std::string out;
    for (char c : v) {
      if (c == ':' || c == '\\') out += '\\';
      out += c;
    }
    return out;
  };
  return field(e.host) + ":" + std::to_string(e.port) + ":*:" + field(e.user) + ":" +
         field(password) + "\n";
}

Endpoint Endpoint::AsApplication() const {
  Endpoint app = *this;
  if (has_application_role()) {
    app.user = application_user;
    app.password_file = application_password_file;
  }
  return app;
}

Result<std::string> ReadPasswordFile(const std::string& file) {
  return sys::ReadSecretFile(file, "the password file");
}

std::string Endpoint::ToString() const {
  return user + "@" + host + ":" + std::to_string(port) + "/" + database;
}

std::optional<std::string> Rows::Get(size_t row, const std::string& column) const {
  for (size_t i = 0; i < columns.size(); ++i) {
    if (columns[i] == column) return rows.at(row).at(i);
  }
  return std::nullopt;
}

Connection::~Connection() { PQfinish(static_cast<PGconn*>(conn_)); }

Result<std::unique_ptr<Connection>> Connection::Open(const Endpoint& endpoint) {
  std::string conninfo = endpoint.ConnInfo();
  if (!endpoint.password_file.empty()) {
    Result<std::string> password = ReadPasswordFile(endpoint.password_file);
    if (!password.ok()) {
      return password.status().Annotate("cannot connect to PostgreSQL " + endpoint.ToString());
    }
    conninfo += " password=" + QuoteConnValue(*password);
  }
  PGconn* conn = PQconnectdb(conninfo.c_str());
  if (conn == nullptr) return Status::Internal("libpq could not allocate a connection");
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string msg = TrimMessage(PQerrorMessage(conn));
    PQfinish(conn);
    return Status::Unavailable("cannot connect to PostgreSQL " + endpoint.ToString() + ": " + msg);
  }
  // NOTICEs ("relation already exists, skipping") are not errors: keep them off stderr.
  PQsetNoticeProcessor(
      conn, [](void*, const char*) {}, nullptr);
  return std::unique_ptr<Connection>(new Connection(endpoint, conn));
}

Status Connection::Failure(void* result) {
  PGresult* res = static_cast<PGresult*>(result);
  const char* state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  last_sqlstate_ = state ? state : "";
  // The result's own message when there is one: in pipeline mode the
  // connection's may belong to another statement.
  const char* own = res ? PQresultErrorMessage(res) : nullptr;
  std::string msg = TrimMessage(own && *own ? own : PQerrorMessage(static_cast<PGconn*>(conn_)));
  PQclear(res);
  return Status::Unavailable("PostgreSQL " + endpoint_.ToString() + ": " + msg);
}

Status Connection::SetRolePassword(const std::string& role, const std::string& password) {
  for (char c : role) {
    if (!(std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) ||
          c == '_')) {
      return Status::InvalidArgument("role name '" + role + "' is not a plain name");
    }
  }
  PGconn* conn = static_cast<PGconn*>(conn_);
  char* verifier = PQencryptPasswordConn(conn, password.c_str(), role.c_str(), "scram-sha-256");
  if (verifier == nullptr) {
    return Status::Internal("cannot compute the SCRAM verifier of role " + role + ": " +
                            TrimMessage(PQerrorMessage(conn)));
  }
  std::string sql = "ALTER ROLE \"" + role + "\" PASSWORD '" + verifier + "'";
  PQfreemem(verifier);
  return Exec(sql);
}

Status Connection::Exec(const std::string& sql) {
  last_sqlstate_.clear();
  PGresult* res = PQexec(static_cast<PGconn*>(conn_), sql.c_str());
  const ExecStatusType st = PQresultStatus(res);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return Failure(res);
  PQclear(res);
  return Status::OK();
}

Result<Rows> Connection::Query(const std::string& sql, const std::vector<std::string>& params) {
  last_sqlstate_.clear();
  const std::vector<const char*> values = ParamValues(params);
  PGresult* res =
      PQexecParams(static_cast<PGconn*>(conn_), sql.c_str(), static_cast<int>(values.size()),
                   nullptr, values.data(), nullptr, nullptr, 0);
  return Collect(res);
}

Result<const std::string*> Connection::Prepared(const std::string& sql, int nparams) {
  auto it = prepared_.find(sql);
  if (it == prepared_.end()) {
    const std::string name = "pl_" + std::to_string(prepared_.size() + 1);
    PGresult* res =
        PQprepare(static_cast<PGconn*>(conn_), name.c_str(), sql.c_str(), nparams, nullptr);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) return Failure(res);
    PQclear(res);
    it = prepared_.emplace(sql, name).first;
  }
  return &it->second;
}

Result<Rows> Connection::QueryPrepared(const std::string& sql,
                                       const std::vector<std::string>& params) {
  last_sqlstate_.clear();
  Result<const std::string*> name = Prepared(sql, static_cast<int>(params.size()));
  if (!name.ok()) return name.status();
  const std::vector<const char*> values = ParamValues(params);
  PGresult* res =
      PQexecPrepared(static_cast<PGconn*>(conn_), (*name)->c_str(), static_cast<int>(values.size()),
                     values.data(), nullptr, nullptr, 0);
  return Collect(res);
}

std::vector<Result<Rows>> Connection::QueryPipeline(const std::vector<Statement>& statements) {
  last_sqlstate_.clear();
  PGconn* conn = static_cast<PGconn*>(conn_);
  std::vector<Result<Rows>> out;
  auto fail_rest = [&](const Status& st) {
    while (out.size() < statements.size()) out.push_back(st);
    return out;
  };
  std::vector<const std::string*> names;
  for (const Statement& s : statements) {
    Result<const std::string*> name = Prepared(s.sql, static_cast<int>(s.params.size()));
    if (!name.ok()) return fail_rest(name.status());
    names.push_back(*name);
  }
  auto broken = [&](const std::string& what) {
    Status st = Status::Unavailable("PostgreSQL " + endpoint_.ToString() + ": " + what + ": " +
                                    TrimMessage(PQerrorMessage(conn)));
    (void)PQexitPipelineMode(conn);
    return fail_rest(st);
  };
  if (PQenterPipelineMode(conn) != 1) return broken("cannot enter pipeline mode");
  for (size_t i = 0; i < statements.size(); ++i) {
    const std::vector<const char*> values = ParamValues(statements[i].params);
    if (PQsendQueryPrepared(conn, names[i]->c_str(), static_cast<int>(values.size()), values.data(),
                            nullptr, nullptr, 0) != 1 ||
        PQpipelineSync(conn) != 1) {
      return broken("cannot send a pipelined statement");
    }
  }
  if (PQflush(conn) != 0) return broken("cannot send the pipeline");
  for (size_t i = 0; i < statements.size(); ++i) {
    // The statement's result, the end of its results (nullptr), then its sync.
    PGresult* res = PQgetResult(conn);
    if (res == nullptr) return broken("no answer to a pipelined statement");
    out.push_back(Collect(res));
    while ((res = PQgetResult(conn)) != nullptr) PQclear(res);
    res = PQgetResult(conn);
    const bool synced = res != nullptr && PQresultStatus(res) == PGRES_PIPELINE_SYNC;
    PQclear(res);
    if (!synced) return broken("a pipelined statement's sync did not come");
  }
  if (PQexitPipelineMode(conn) != 1) return broken("cannot leave pipeline mode");
  return out;
}

Result<Rows> Connection::Collect(void* result) {
  PGresult* res = static_cast<PGresult*>(result);
  const ExecStatusType st = PQresultStatus(res);
  if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) return Failure(res);
  Rows out;
  const int ncols = PQnfields(res);
  const int nrows = PQntuples(res);
  for (int c = 0; c < ncols; ++c) out.columns.emplace_back(PQfname(res, c));
  out.rows.reserve(nrows);
  for (int r = 0; r < nrows; ++r) {
    std::vector<std::optional<std::string>> row;
    row.reserve(ncols);
    for (int c = 0; c < ncols; ++c) {
      if (PQgetisnull(res, r, c)) {
        row.emplace_back(std::nullopt);
      } else {
        row.emplace_back(std::string(PQgetvalue(res, r, c), PQgetlength(res, r, c)));
      }
    }
    out.rows.push_back(std::move(row));
  }
  PQclear(res);
  return out;
}

bool Ping(const Endpoint& endpoint) { return PQping(endpoint.ConnInfo().c_str()) == PQPING_OK; }

}  // namespace pilotlight::pg
