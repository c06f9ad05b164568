#include "lab/lab.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <thread>

#include "controller/lease_auth.h"
#include "core/clock.h"
#include "core/log.h"
#include "data/postgres/region_database.h"
#include "sys/whole_file.h"
#include "lab/partition.h"
#include "trader/schema.h"

namespace pilotlight::lab {
namespace fs = std::filesystem;
using namespace sys;  // NOLINT: the lab is built on these process helpers
namespace {

constexpr char kPgBin[] = "/usr/lib/postgresql/15/bin/";
constexpr auto kStartTimeout = std::chrono::seconds(60);
constexpr auto kStopGrace = std::chrono::seconds(30);

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

Status WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::trunc);
  out << content;
  out.close();
  if (!out) return Status::IOError("cannot write " + path);
  return Status::OK();
}

Status MakeDirs(const std::string& path) {
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec) return Status::IOError("cannot create directory " + path + ": " + ec.message());
  return Status::OK();
}

Status Chown(const std::string& path, const std::optional<RunAs>& user) {
  if (!user) return Status::OK();
  if (chown(path.c_str(), user->uid, user->gid) != 0) {
    return Status::IOError("cannot chown " + path + " to " + user->name + ": " +
                           std::strerror(errno));
  }
  return Status::OK();
}

// Waits for `ready` with a deadline, failing early when the server died.
Status WaitReady(const std::string& what, pid_t pid, const std::string& log,
                 const std::function<bool()>& ready) {
  const auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
  while (!ready()) {
    if (!ProcessAlive(pid)) {
      return Status::Unavailable(what + " exited during start-up; see " + log);
    }
    if (std::chrono::steady_clock::now() > deadline) {
      return Status::Timeout(what + " did not become ready within 60s; see " + log);
    }
    SystemClock::Instance().SleepFor(std::chrono::milliseconds(50));  // polling readiness
  }
  return Status::OK();
}

// Sends PING to a Redis server and expects +PONG, or -NOAUTH from one that
// wants a password first (it is up and answering).
bool RedisPing(const std::string& address, uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  timeval tv{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  inet_pton(AF_INET, address.c_str(), &sa.sin_addr);
  bool ok = false;
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0) {
    const char ping[] = "PING\r\n";
    char buf[16] = {};
    if (write(fd, ping, sizeof ping - 1) == sizeof ping - 1) {
      ssize_t n = read(fd, buf, sizeof buf - 1);
      ok = (n >= 5 && std::string(buf, 5) == "+PONG") ||
           (n >= 7 && std::string(buf, 7) == "-NOAUTH");
    }
  }
  close(fd);
  return ok;
}

std::string ShortHash(const std::string& s) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016zx", std::hash<std::string>{}(s));
  return buf;
}

int RegionIndex(const config::Config& config, const config::RegionSpec& region) {
  for (size_t i = 0; i < config.regions.size(); ++i) {
    if (&config.regions[i] == &region) return static_cast<int>(i);
  }
  return -1;
}

// A postmaster killed with SIGKILL leaves postmaster.pid behind. PostgreSQL
// checks that pid with kill(0), which succeeds on an unreaped zombie (a container
// whose init does not reap), and would refuse to start. We know better: remove
// the file when its postmaster is provably gone.
Status RemoveStalePostmasterPid(const std::string& data) {
  const std::string path = data + "/postmaster.pid";
  Result<pid_t> pid = ReadPidFile(path);
  if (!pid.ok() || ProcessAlive(*pid)) return Status::OK();
  LogWarn("removing stale " + path + " (postmaster " + std::to_string(*pid) + " is gone)");
  std::error_code ec;
  fs::remove(path, ec);
  if (ec) return Status::IOError("cannot remove stale " + path + ": " + ec.message());
  return Status::OK();
}

}  // namespace

Lab::Lab(config::Config config, std::string dir, std::string self_exe)
    : config_(std::move(config)), dir_(std::move(dir)), self_exe_(std::move(self_exe)) {
  std::error_code ec;
  fs::path abs = fs::absolute(dir_, ec);
  if (!ec) dir_ = abs.lexically_normal().string();
  while (dir_.size() > 1 && dir_.back() == '/') dir_.pop_back();
  std::string root = ReadFile(dir_ + "/pg_root");
  while (!root.empty() && root.back() == '\n') root.pop_back();
  pg_root_ = root.empty() ? dir_ : root;
  // A lab made before keeps its passwords (and gets none it never made).
  config::ApplySecretsDir(config_, dir_ + "/secrets");
}

namespace {

// The nft table and cgroup of a lab's region partition: unique per lab directory.
std::string PartitionName(const std::string& lab_dir, const std::string& region) {
  char hash[17];
  std::snprintf(hash, sizeof hash, "%08zx",
                std::hash<std::string>{}(fs::absolute(lab_dir).string()) & 0xffffffffu);
  std::string name = "pl-" + std::string(hash) + "-";
  for (char c : region) {
    name += std::isalnum(static_cast<unsigned char>(c))
                ? static_cast<char>(std::tolower(static_cast<unsigned char>(c)))
                : '-';
  }
  return name;
}

}  // namespace

std::string Lab::RegionDir(const config::RegionSpec& region) const {
  return dir_ + "/" + region.name;
}

std::string Lab::PostgresDataDir(const config::RegionSpec& region) const {
  return pg_root_ + "/" + region.name + "/pgdata";
}

std::string Lab::PostgresPidFile(const config::RegionSpec& region) const {
  return RegionDir(region) + "/postgres.pid";
}

std::string Lab::PostgresLogFile(const config::RegionSpec& region) const {
  return RegionDir(region) + "/postgres.log";
}

pg::Endpoint Lab::PostgresEndpoint(const config::RegionSpec& region,
                                   const std::string& database) const {
  return pg::RegionDatabase(region, database);
}

std::vector<Lab::Component> Lab::ComponentsOf(const config::RegionSpec& region) const {
  const std::string at = "regions[" + std::to_string(RegionIndex(config_, region)) + "]";
  const std::string rdir = RegionDir(region);
  std::vector<Component> out;
  out.push_back({"postgres", PostgresPidFile(region), "postgres", region.address,
                 region.postgres.port, at + ".postgres.port", "", false});
  out.push_back({"redis", rdir + "/redis.pid", "redis-server", region.address, region.redis.port,
                 at + ".redis.port", "", false});
  if (region.role == config::RegionRole::kPrimary) {
    out.push_back({"agent", rdir + "/agent.pid", "pilotlight", "", 0, "", "", false});
  } else if (!fs::exists(dir_ + "/replicators.disabled")) {
    // Sessions both ways and every shared bucket (objects, release artifacts).
    out.push_back({"replicator", rdir + "/replicator.pid", "pilotlight", "", 0, "", "", false});
  }
  // The region's probe agents (a vantage site of the controller's votes).
  if (region.role != config::RegionRole::kPrimary) {
    for (const config::ProbeAgentConfig& a : config_.ProbeAgents()) {
      if (a.site != region.name) continue;
      out.push_back({"probe-agent", rdir + "/probe-agent.pid", "pilotlight", a.listen.address,
                     a.listen.port, "controller.probe_agents", "", false});
    }
  }
  for (const config::NodeGroupSpec& group : region.node_groups) {
    std::vector<Component> instances = InstancesOf(region, group, DesiredSize(region, group));
    out.insert(out.end(), instances.begin(), instances.end());
  }
  return out;
}

std::vector<Lab::Component> Lab::SiteComponents() const {
  std::vector<Component> out;
  if (!config_.dns.zones.empty()) {
    out.push_back({"dns", dir_ + "/dns/dns.pid", "pilotlight", config_.dns.listen.address,
                   config_.dns.listen.port, "dns.listen", "", false});
  }
  return out;
}

std::string Lab::SizeFile(const config::RegionSpec& region, const std::string& group) const {
  return RegionDir(region) + "/" + group + ".size";
}

int Lab::DesiredSize(const config::RegionSpec& region, const config::NodeGroupSpec& group) const {
  std::string text = ReadFile(SizeFile(region, group.name));
  if (!text.empty()) {
    try {
      return std::max(0, std::stoi(text));
    } catch (const std::exception&) {
      LogWarn("ignoring unreadable " + SizeFile(region, group.name));
    }
  }
  return region.role == config::RegionRole::kPrimary ? group.production_size
                                                      : group.pilot_light_size;
}

// Instances 1..count, and any beyond that still have a pid file (so a scale-down
// that was interrupted is still stopped by `down`).
std::vector<Lab::Component> Lab::InstancesOf(const config::RegionSpec& region,
                                             const config::NodeGroupSpec& group,
                                             int count) const {
  const std::string rdir = RegionDir(region);
  std::vector<Component> out;
  for (int i = 1;; ++i) {
    const std::string name = group.name + "-" + std::to_string(i);
    const std::string pid_file = rdir + "/" + name + ".pid";
    if (i > count && !fs::exists(pid_file)) break;
    Component c{name, pid_file, "pilotlight", region.address, group.port,
                "node group " + group.name + " port", "", false};
    c.node_group = group.name;
    c.surplus = i > count;
    out.push_back(std::move(c));
  }
  return out;
}

std::optional<pid_t> Lab::RunningPid(const Component& c) const {
  Result<pid_t> pid = ReadPidFile(c.pid_file);
  if (!pid.ok() || !ProcessAlive(*pid)) return std::nullopt;
  // A recycled pid belongs to some other program: not ours.
  if (ProcessCommandLine(*pid).find(c.program) == std::string::npos) return std::nullopt;
  return *pid;
}

Status Lab::CheckFree(const config::RegionSpec& region, const Component& c) const {
  if (c.port == 0) return Status::OK();
  Status free = CheckPortFree(c.address, c.port);
  if (free.ok()) return free;
  return Status::FailedPrecondition(
      c.name + " of region " + region.name + " cannot listen on " + c.address + ":" +
      std::to_string(c.port) + ": " + free.message() + "; stop that process or change " +
      c.config_field + " in " + config_.file);
}

Status Lab::PreparePostgresRoot() {
  PL_RETURN_IF_ERROR(MakeDirs(dir_));
  if (fs::exists(dir_ + "/pg_root")) return Status::OK();  // decided when the lab was made
  std::string root = dir_;
  if (pg_user_ && !UserCanReach(*pg_user_, dir_)) {
    // PostgreSQL runs as its system user, which cannot reach this directory (a
    // checkout under /root, a 0700 temp dir): keep its data where it can.
    root = "/var/lib/pilotlight/labs/" + ShortHash(dir_);
    LogInfo("the postgres user cannot reach " + dir_ + "; PostgreSQL data goes to " + root);
    PL_RETURN_IF_ERROR(MakeDirs(root));
    fs::permissions("/var/lib/pilotlight", fs::perms(0755));
    fs::permissions("/var/lib/pilotlight/labs", fs::perms(0755));
    fs::permissions(root, fs::perms(0755));
  }
  pg_root_ = root;
  return WriteFile(dir_ + "/pg_root", root + "\n");
}

Status Lab::WritePostgresConf(const config::RegionSpec& region, const std::string& data,
                              bool standby) {
  std::string conf =
      "# Written by pilotlight lab; overwritten on every start.\n"
      "listen_addresses = '" + region.address + "'\n"
      "port = " + std::to_string(region.postgres.port) + "\n"
      "unix_socket_directories = ''\n"
      "wal_level = replica\n"
      "max_wal_senders = 10\n"
      "max_replication_slots = 10\n"
      "wal_log_hints = on\n"
      // Keeps the WAL pg_rewind needs when a crashed old primary rejoins.
      "wal_keep_size = 256MB\n"
      "hot_standby = on\n"
      "hot_standby_feedback = on\n"
      "wal_receiver_status_interval = 1s\n"
      "shared_buffers = 32MB\n"
      "max_connections = 100\n"
      "logging_collector = off\n"
      "log_line_prefix = '%m [%p] '\n";
  if (standby) {
    // A standby follows the other region: the DR replica the configured
    // primary, and a demoted old primary (FenceIfSuperseded) the promoted DR.
    const config::RegionSpec& primary =
        &region == &config_.Primary() ? config_.Dr() : config_.Primary();
    // As the replication role, its password in the server's .pgpass file.
    Result<std::string> passfile = WriteServerPassfile(region);
    if (!passfile.ok()) return passfile.status();
    std::string conninfo = pg::RegionReplication(primary).ToolConnInfo(*passfile) +
                           " application_name=" + region.name;
    std::string quoted;
    for (char ch : conninfo) quoted += ch == '\'' ? std::string("''") : std::string(1, ch);
    conf += "primary_conninfo = '" + quoted + "'\n";
    conf += "primary_slot_name = '" + config_.replication.slot + "'\n";
  }
  PL_RETURN_IF_ERROR(WriteFile(data + "/pilotlight.conf", conf));
  PL_RETURN_IF_ERROR(Chown(data + "/pilotlight.conf", pg_user_));

  // Every connection logs in with a SCRAM password, from the lab's own
  // addresses only (loopback's 127.0.0.1, which local clients connect from,
  // and each region's), and only as the lab's roles: the admin to any
  // database, the application to its database, the replication role to
  // stream. No local socket, no trust.
  std::vector<std::string> sources = {"127.0.0.1/32"};
  for (const config::RegionSpec& r : config_.regions) {
    const std::string cidr = r.address + "/32";
    if (std::find(sources.begin(), sources.end(), cidr) == sources.end()) sources.push_back(cidr);
  }
  const config::PostgresSpec& roles = region.postgres;
  std::string hba =
      "# Written by pilotlight lab: SCRAM passwords (in the lab's secrets directory),\n"
      "# the lab's own addresses and roles only.\n";
  for (const std::string& from : sources) {
    hba += "host all " + roles.user + " " + from + " scram-sha-256\n";
    if (!roles.app_user.empty() && roles.app_user != roles.user) {
      hba += "host " + roles.database + " " + roles.app_user + " " + from + " scram-sha-256\n";
    }
    hba += "host replication " + roles.replication_user + "," + roles.user + " " + from +
           " scram-sha-256\n";
  }
  // A no-connections fence (pg::Fence) saved the unfenced rules aside and wrote
  // reject rules: rewriting pg_hba.conf now would silently lift that fence.
  if (fs::exists(data + "/pg_hba.conf.pilotlight-unfenced")) {
    LogInfo("region " + region.name + ": pg_hba.conf carries a no-connections fence; kept");
  } else {
    PL_RETURN_IF_ERROR(WriteFile(data + "/pg_hba.conf", hba));
    PL_RETURN_IF_ERROR(Chown(data + "/pg_hba.conf", pg_user_));
  }

  const std::string main_conf = data + "/postgresql.conf";
  if (ReadFile(main_conf).find("include_if_exists = 'pilotlight.conf'") == std::string::npos) {
    std::ofstream out(main_conf, std::ios::app);
    out << "\ninclude_if_exists = 'pilotlight.conf'\n";
    if (!out) return Status::IOError("cannot append to " + main_conf);
  }
  return Status::OK();
}

Status Lab::InitPrimaryCluster(const config::RegionSpec& region, const std::string& data) {
  Result<std::string> initdb = FindBinary({std::string(kPgBin) + "initdb"}, "postgresql-15");
  if (!initdb.ok()) return initdb.status();
  LogInfo("region " + region.name + ": initdb " + data);
  // The admin's password from the start (initdb --pwfile reads its first line):
  // a copy the postgres user can read, removed once initdb is done.
  std::vector<std::string> argv = {*initdb, "-D", data, "-U", region.postgres.user,
                                   "--auth=scram-sha-256", "-E", "UTF8", "--locale=C"};
  const std::string pwfile = data + ".initdb-password";
  if (!region.postgres.password_file.empty()) {
    Result<std::string> password = pg::ReadPasswordFile(region.postgres.password_file);
    if (!password.ok()) return password.status();
    PL_RETURN_IF_ERROR(WriteFile(pwfile, *password + "\n"));
    fs::permissions(pwfile, fs::perms::owner_read | fs::perms::owner_write);
    PL_RETURN_IF_ERROR(Chown(pwfile, pg_user_));
    argv.push_back("--pwfile=" + pwfile);
  }
  Status init = RunToCompletion({argv, RegionDir(region) + "/postgres-init.log", pg_user_},
                                std::chrono::minutes(3));
  std::error_code gone;
  fs::remove(pwfile, gone);
  PL_RETURN_IF_ERROR(init);
  return WritePostgresConf(region, data, /*standby=*/false);
}

Status Lab::CloneStandby(const config::RegionSpec& region, const std::string& data) {
  const config::RegionSpec& primary = config_.Primary();
  Result<std::string> basebackup =
      FindBinary({std::string(kPgBin) + "pg_basebackup"}, "postgresql-15");
  if (!basebackup.ok()) return basebackup.status();
  if (!pg::Ping(PostgresEndpoint(primary, "postgres"))) {
    return Status::Unavailable("region " + region.name +
                               " has no standby yet and the primary PostgreSQL at " +
                               primary.address + ":" + std::to_string(primary.postgres.port) +
                               " is down; start the primary region first");
  }
  LogInfo("region " + region.name + ": pg_basebackup from " + primary.address + ":" +
          std::to_string(primary.postgres.port) + " into " + data);
  std::error_code ec;
  fs::remove_all(data, ec);  // a half-made clone from an interrupted run
  Result<std::string> passfile = WriteServerPassfile(region);
  if (!passfile.ok()) return passfile.status();
  PL_RETURN_IF_ERROR(RunToCompletion(
      {{*basebackup, "-d", pg::RegionReplication(primary).ToolConnInfo(*passfile), "-D", data,
        "-X", "stream", "-S", config_.replication.slot, "--checkpoint=fast", "--no-password"},
       RegionDir(region) + "/postgres-init.log",
       pg_user_},
      std::chrono::minutes(5)));
  PL_RETURN_IF_ERROR(WriteFile(data + "/standby.signal", ""));
  PL_RETURN_IF_ERROR(Chown(data + "/standby.signal", pg_user_));
  return WritePostgresConf(region, data, /*standby=*/true);
}

Status Lab::EnsurePrimaryObjects(const config::RegionSpec& region) {
  Result<std::unique_ptr<pg::Connection>> admin =
      pg::Connection::Open(PostgresEndpoint(region, "postgres"));
  if (!admin.ok()) return admin.status();
  Result<pg::Rows> in_recovery = (*admin)->Query("SELECT pg_is_in_recovery()::text AS r");
  if (!in_recovery.ok()) return in_recovery.status();
  if (in_recovery->Get(0, "r").value_or("") == "true") return Status::OK();  // not writable
  Result<pg::Rows> read_only =
      (*admin)->Query("SELECT current_setting('default_transaction_read_only') AS ro");
  if (!read_only.ok()) return read_only.status();
  if (read_only->Get(0, "ro").value_or("") == "on") {
    LogInfo("region " + region.name + ": PostgreSQL is fenced (read-only); left as it is");
    return Status::OK();
  }

  Result<pg::Rows> db = (*admin)->Query("SELECT 1 FROM pg_database WHERE datname = $1",
                                        {region.postgres.database});
  if (!db.ok()) return db.status();
  // The application's role: it logs in, owns the trading schema, and is no
  // superuser, so a fence (which revokes its LOGIN) holds against it.
  const std::string app_role = region.postgres.app_user;
  if (!app_role.empty() && app_role != region.postgres.user) {
    Result<pg::Rows> role =
        (*admin)->Query("SELECT 1 FROM pg_roles WHERE rolname = $1", {app_role});
    if (!role.ok()) return role.status();
    if (role->empty()) {
      PL_RETURN_IF_ERROR((*admin)->Exec("CREATE ROLE \"" + app_role +
                                        "\" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE"));
    }
  }
  // The replication role the other region's standby streams as: no superuser.
  const std::string repl_role = region.postgres.replication_user;
  if (!repl_role.empty() && repl_role != region.postgres.user) {
    Result<pg::Rows> role =
        (*admin)->Query("SELECT 1 FROM pg_roles WHERE rolname = $1", {repl_role});
    if (!role.ok()) return role.status();
    if (role->empty()) {
      PL_RETURN_IF_ERROR((*admin)->Exec("CREATE ROLE \"" + repl_role +
                                        "\" LOGIN REPLICATION NOSUPERUSER NOCREATEDB NOCREATEROLE"));
    }
  }
  // Each role's password, asserted on every start (a rotated file takes effect).
  for (const auto& [role, file] :
       {std::pair<std::string, std::string>{region.postgres.user, region.postgres.password_file},
        {app_role, region.postgres.app_password_file},
        {repl_role, region.postgres.replication_password_file}}) {
    if (role.empty() || file.empty()) continue;
    Result<std::string> password = pg::ReadPasswordFile(file);
    if (!password.ok()) return password.status();
    PL_RETURN_IF_ERROR((*admin)->SetRolePassword(role, *password));
  }
  if (db->empty()) {
    std::string create = "CREATE DATABASE \"" + region.postgres.database + "\"";
    if (!app_role.empty() && app_role != region.postgres.user) {
      create += " OWNER \"" + app_role + "\"";
    }
    PL_RETURN_IF_ERROR((*admin)->Exec(create));
  }
  Result<pg::Rows> slot = (*admin)->Query(
      "SELECT 1 FROM pg_replication_slots WHERE slot_name = $1", {config_.replication.slot});
  if (!slot.ok()) return slot.status();
  if (slot->empty()) {
    Result<pg::Rows> made = (*admin)->Query("SELECT pg_create_physical_replication_slot($1, true)",
                                            {config_.replication.slot});
    if (!made.ok()) return made.status();
  }
  const pg::Endpoint app_db = PostgresEndpoint(region, region.postgres.database);
  Result<std::unique_ptr<pg::Connection>> app = pg::Connection::Open(app_db);
  if (!app.ok()) return app.status();
  PL_RETURN_IF_ERROR(pg::EnsureHeartbeatTable(**app));
  {
    // The trading schema belongs to the application's role.
    Result<std::unique_ptr<pg::Connection>> trader_conn =
        pg::Connection::Open(app_db.AsApplication());
    if (!trader_conn.ok()) return trader_conn.status();
    PL_RETURN_IF_ERROR(trader::EnsureSchema(**trader_conn));
  }
  PL_RETURN_IF_ERROR(EnsureLabApiKeys(**app, dir_));  // lab_accounts.cc
  return pg::WriteHeartbeat(**app, region.name);
}

Status Lab::FenceIfSuperseded(const config::RegionSpec& region, const std::string& data) {
  // The old primary coming back after a failover must not take writes until it
  // is rejoined as a standby: if another region's PostgreSQL now accepts writes,
  // start this one demoted, as a standby of that region (standby.signal, written
  // while the server is down, so no client can write in the moment between
  // start and fence). A server in recovery refuses every write, BEGIN READ WRITE
  // included; it streams only if it has not diverged (pilotlight replication
  // rejoin rewinds it otherwise), and the read-only default is kept as well.
  for (const config::RegionSpec& other : config_.regions) {
    if (&other == &region) continue;
    Result<std::unique_ptr<pg::Connection>> conn =
        pg::Connection::Open(PostgresEndpoint(other, "postgres"));
    if (!conn.ok()) continue;
    Result<pg::Rows> r = (*conn)->Query(
        "SELECT pg_is_in_recovery()::text AS rec, "
        "current_setting('default_transaction_read_only') AS ro");
    if (!r.ok() || r->Get(0, "rec") != "false" || r->Get(0, "ro") == "on") continue;
    const std::string auto_conf = data + "/postgresql.auto.conf";
    LogWarn("region " + region.name + ": region " + other.name +
            " has been promoted and takes writes; starting this PostgreSQL demoted (a standby, "
            "read-only) until it is rejoined (pilotlight replication rejoin)");
    if (ReadFile(auto_conf).find("default_transaction_read_only") == std::string::npos) {
      std::ofstream out(auto_conf, std::ios::app);
      out << "default_transaction_read_only = 'on'\n";
      out.close();
      if (!out) return Status::IOError("cannot fence " + auto_conf);
    }
    PL_RETURN_IF_ERROR(WriteFile(data + "/standby.signal", ""));
    PL_RETURN_IF_ERROR(Chown(data + "/standby.signal", pg_user_));
    return WritePostgresConf(region, data, /*standby=*/true);
  }
  return Status::OK();
}

Status Lab::StartPostgres(const config::RegionSpec& region, const Component& c) {
  const std::string data = PostgresDataDir(region);
  const bool standby = region.role == config::RegionRole::kDr;
  if (!RunningPid(c)) {
    Result<std::string> postgres = FindBinary({std::string(kPgBin) + "postgres"}, "postgresql-15");
    if (!postgres.ok()) return postgres.status();
    PL_RETURN_IF_ERROR(CheckFree(region, c));
    const std::string parent = pg_root_ + "/" + region.name;
    PL_RETURN_IF_ERROR(MakeDirs(parent));
    PL_RETURN_IF_ERROR(Chown(parent, pg_user_));
    if (!fs::exists(data + "/PG_VERSION")) {
      PL_RETURN_IF_ERROR(standby ? CloneStandby(region, data) : InitPrimaryCluster(region, data));
    } else {
      // Re-assert our settings (addresses or ports may have changed in the config).
      PL_RETURN_IF_ERROR(WritePostgresConf(region, data, fs::exists(data + "/standby.signal")));
    }
    PL_RETURN_IF_ERROR(RemoveStalePostmasterPid(data));
    if (!standby && !fs::exists(data + "/standby.signal")) {
      PL_RETURN_IF_ERROR(FenceIfSuperseded(region, data));
    }
    const std::string log = PostgresLogFile(region);
    Result<pid_t> pid = SpawnDaemon({{*postgres, "-D", data}, log, pg_user_});
    if (!pid.ok()) return pid.status();
    PL_RETURN_IF_ERROR(WritePidFile(c.pid_file, *pid));
    LogInfo("region " + region.name + ": postgres (" + (standby ? "standby" : "primary") +
            ") pid " + std::to_string(*pid) + " on " + c.address + ":" + std::to_string(c.port));
    const pg::Endpoint endpoint = PostgresEndpoint(region, "postgres");
    PL_RETURN_IF_ERROR(WaitReady("postgres of region " + region.name, *pid, log,
                                 [&] { return pg::Ping(endpoint); }));
  }
  if (!standby) return EnsurePrimaryObjects(region);
  return Status::OK();
}

Status Lab::StartRedis(const config::RegionSpec& region, const Component& c) {
  if (RunningPid(c)) return Status::OK();
  Result<std::string> redis = FindBinary({"/usr/bin/redis-server"}, "redis-server");
  if (!redis.ok()) return redis.status();
  PL_RETURN_IF_ERROR(CheckFree(region, c));
  const std::string rdir = RedisDir(region);
  PL_RETURN_IF_ERROR(MakeDirs(rdir));
  fs::permissions(rdir, fs::perms::owner_all);
  PL_RETURN_IF_ERROR(Chown(rdir, redis_user_));
  for (const fs::directory_entry& e : fs::recursive_directory_iterator(rdir)) {
    PL_RETURN_IF_ERROR(Chown(e.path().string(), redis_user_));  // files of an older start
  }
  // Its settings, the password among them, in a file only the redis user reads
  // (never on the command line, which every local user sees). The default user
  // logs in with the lab's password and may not run the commands that would
  // wipe, reconfigure, stop or re-point the store. Memory is bounded: a flood of
  // sessions fails writes (noeviction) instead of exhausting the host.
  std::string conf =
      "# Written by pilotlight lab; overwritten on every start.\n"
      "bind " + c.address + "\n"
      "port " + std::to_string(c.port) + "\n"
      "protected-mode yes\n"
      "dir " + rdir + "\n"
      "appendonly yes\nappendfsync everysec\nsave \"\"\n"
      "daemonize no\nlogfile \"\"\n"
      "maxmemory 256mb\nmaxmemory-policy noeviction\n";
  if (!region.redis.password_file.empty()) {
    Result<std::string> password = pg::ReadPasswordFile(region.redis.password_file);
    if (!password.ok()) return password.status();
    const std::string user = region.redis.user.empty() ? "default" : region.redis.user;
    const std::string denied =
        " -flushall -flushdb -shutdown -debug -config -replicaof -slaveof -module -acl -monitor"
        " -failover -sync -psync -save -bgsave -bgrewriteaof -swapdb -migrate -restore";
    if (user != "default") conf += "user default off\n";
    conf += "user " + user + " on >" + *password + " ~* &* +@all" + denied + "\n";
  }
  const std::string conf_file = rdir + "/redis.conf";
  {
    const std::string tmp = conf_file + ".tmp";
    std::error_code ec;
    fs::remove(tmp, ec);
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return Status::IOError("cannot write " + tmp + ": " + std::strerror(errno));
    const bool wrote = ::write(fd, conf.data(), conf.size()) == static_cast<ssize_t>(conf.size());
    ::close(fd);
    if (!wrote) return Status::IOError("cannot write " + tmp);
    PL_RETURN_IF_ERROR(Chown(tmp, redis_user_));
    fs::rename(tmp, conf_file, ec);
    if (ec) return Status::IOError("cannot write " + conf_file + ": " + ec.message());
  }
  const std::string log = RegionDir(region) + "/redis.log";
  Result<pid_t> pid = SpawnDaemon({{*redis, conf_file}, log, redis_user_});
  if (!pid.ok()) return pid.status();
  PL_RETURN_IF_ERROR(WritePidFile(c.pid_file, *pid));
  LogInfo("region " + region.name + ": redis pid " + std::to_string(*pid) + " on " + c.address +
          ":" + std::to_string(c.port));
  return WaitReady("redis of region " + region.name, *pid, log,
                   [&] { return RedisPing(c.address, c.port); });
}

Status Lab::StartPilotlightProcess(const config::RegionSpec& region, const Component& c) {
  if (RunningPid(c)) return Status::OK();
  std::vector<std::string> argv = {self_exe_, "lab", "agent", "--region", region.name};
  if (c.name == "replicator") argv = {self_exe_, "replication", "run"};
  // The agent signs its lease renewals with the lab's secret (0600), which a
  // controller of this lab reads from its state directory.
  if (c.name == "agent") {
    PL_RETURN_IF_ERROR(controller::EnsureLeaseSecret(dir_ + "/controller/lease.secret"));
  }
  argv.insert(argv.end(), {"--dir", dir_, "--config", dir_ + "/config.yaml"});
  const std::string log = RegionDir(region) + "/" + c.name + ".log";
  Result<pid_t> pid = SpawnDaemon({argv, log, std::nullopt});
  if (!pid.ok()) return pid.status();
  LogInfo("region " + region.name + ": " + c.name + " pid " + std::to_string(*pid));
  return WritePidFile(c.pid_file, *pid);
}

// The region's probe agent: its site's vote on the primary (controller/observer.h).
Status Lab::StartProbeAgent(const config::RegionSpec& region, const Component& c) {
  if (RunningPid(c)) return Status::OK();
  PL_RETURN_IF_ERROR(CheckFree(region, c));
  const std::vector<std::string> argv = {
      self_exe_, "probe", "run", "--site", region.name, "--listen",
      c.address + ":" + std::to_string(c.port), "--dir", dir_, "--config", dir_ + "/config.yaml"};
  const std::string log = RegionDir(region) + "/" + c.name + ".log";
  std::error_code ec;
  const uintmax_t log_start = fs::exists(log) ? fs::file_size(log, ec) : 0;
  Result<pid_t> pid = SpawnDaemon({argv, log, std::nullopt});
  if (!pid.ok()) return pid.status();
  LogInfo("region " + region.name + ": " + c.name + " pid " + std::to_string(*pid));
  PL_RETURN_IF_ERROR(WritePidFile(c.pid_file, *pid));
  return WaitReady("the probe agent of region " + region.name, *pid, log, [&] {
    const std::string text = ReadFile(log);
    return text.size() > log_start && text.find("serving http://", log_start) != std::string::npos;
  });
}

// The DNS server answers from the config's zones; with health checks in the
// config it probes them itself, and the controller's dns step pins records
// through the overrides file it re-reads every dns.reload_interval.
Status Lab::StartDns(const Component& c) {
  if (RunningPid(c)) return Status::OK();
  Status free = CheckPortFree(c.address, c.port);
  if (!free.ok()) {
    return Status::FailedPrecondition("the lab's DNS server cannot listen on " + c.address + ":" +
                                      std::to_string(c.port) + ": " + free.message() +
                                      "; stop that process or change dns.listen in " +
                                      config_.file);
  }
  std::vector<std::string> argv = {self_exe_, "dns", "serve", "--config", dir_ + "/config.yaml",
                                   "--overrides", dir_ + "/dns/overrides"};
  if (!config_.detection.checks.empty()) argv.push_back("--probe");
  const std::string log = dir_ + "/dns/dns.log";
  std::error_code ec;
  const uintmax_t log_start = fs::exists(log) ? fs::file_size(log, ec) : 0;
  Result<pid_t> pid = SpawnDaemon({argv, log, std::nullopt});
  if (!pid.ok()) return pid.status();
  PL_RETURN_IF_ERROR(WritePidFile(c.pid_file, *pid));
  LogInfo("site: dns pid " + std::to_string(*pid) + " on " + c.address + ":" +
          std::to_string(c.port));
  return WaitReady("the lab's DNS server", *pid, log, [&] {
    const std::string text = ReadFile(log);
    return text.size() > log_start && text.find("serving ", log_start) != std::string::npos;
  });
}

Status Lab::StartSite() {
  PL_RETURN_IF_ERROR(MakeDirs(dir_ + "/dns"));
  for (const Component& c : SiteComponents()) {
    if (!RunningPid(c) && fs::exists(c.pid_file)) {
      LogWarn("site: " + c.name + " pid file " + c.pid_file +
              " is stale (its process is gone); starting it again");
      std::error_code ec;
      fs::remove(c.pid_file, ec);
    }
    if (c.name == "dns") PL_RETURN_IF_ERROR(StartDns(c));
  }
  return Status::OK();
}

Status Lab::StartInstance(const config::RegionSpec& region, const Component& c) {
  if (RunningPid(c)) return Status::OK();
  // Instances share the port (SO_REUSEPORT): the port must be free only when no
  // sibling listens on it yet.
  bool sibling = false;
  for (const Component& other : ComponentsOf(region)) {
    if (other.node_group == c.node_group && other.name != c.name && RunningPid(other)) {
      sibling = true;
    }
  }
  if (!sibling) PL_RETURN_IF_ERROR(CheckFree(region, c));
  const std::string log = RegionDir(region) + "/" + c.name + ".log";
  std::error_code ec;
  const uintmax_t log_start = fs::exists(log) ? fs::file_size(log, ec) : 0;
  Result<pid_t> pid = SpawnDaemon(
      {{self_exe_, "trader", "serve", "--config", dir_ + "/config.yaml", "--region", region.name,
        "--dir", dir_, "--node-group", c.node_group, "--instance", c.name},
       log,
       std::nullopt});
  if (!pid.ok()) return pid.status();
  PL_RETURN_IF_ERROR(WritePidFile(c.pid_file, *pid));
  LogInfo("region " + region.name + ": " + c.name + " pid " + std::to_string(*pid) + " on " +
          c.address + ":" + std::to_string(c.port));
  return WaitReady(c.name + " of region " + region.name, *pid, log, [&] {
    const std::string text = ReadFile(log);
    return text.size() > log_start && text.find(" listening on ", log_start) != std::string::npos;
  });
}

Status Lab::ScaleNodeGroup(const std::string& name, const std::string& group, int size) {
  const config::RegionSpec* region = config_.FindRegion(name);
  if (region == nullptr) {
    return Status::NotFound("no region named '" + name + "' in " + config_.file);
  }
  const config::NodeGroupSpec* spec = nullptr;
  for (const config::NodeGroupSpec& g : region->node_groups) {
    if (g.name == group) spec = &g;
  }
  if (spec == nullptr) {
    return Status::NotFound("region " + name + " has no node group named '" + group + "' in " +
                            config_.file);
  }
  if (size < 0) return Status::InvalidArgument("a node group size cannot be negative");
  PL_RETURN_IF_ERROR(MakeDirs(RegionDir(*region)));
  // Stop the surplus first (highest numbers), then record the size, then start.
  std::vector<Component> all = InstancesOf(*region, *spec, size);
  for (size_t i = all.size(); i > static_cast<size_t>(size); --i) {
    PL_RETURN_IF_ERROR(StopComponent(all[i - 1], SIGTERM, kStopGrace));
  }
  PL_RETURN_IF_ERROR(WriteFile(SizeFile(*region, group), std::to_string(size) + "\n"));
  for (const Component& c : InstancesOf(*region, *spec, size)) {
    PL_RETURN_IF_ERROR(StartInstance(*region, c));
  }
  return Status::OK();
}

Status Lab::StartRegionComponents(const config::RegionSpec& region) {
  PL_RETURN_IF_ERROR(MakeDirs(RegionDir(region)));
  for (const config::BucketSpec& b : region.buckets) {
    PL_RETURN_IF_ERROR(
        MakeDirs(b.path.empty() ? RegionDir(region) + "/buckets/" + b.name : b.path));
  }
  for (const Component& c : ComponentsOf(region)) {
    if (!RunningPid(c) && fs::exists(c.pid_file)) {
      LogWarn("region " + region.name + ": " + c.name + " pid file " + c.pid_file +
              " is stale (its process is gone); starting it again");
      std::error_code ec;
      fs::remove(c.pid_file, ec);
    }
    Status st;
    if (c.name == "postgres") st = StartPostgres(region, c);
    if (c.name == "redis") st = StartRedis(region, c);
    if (c.name == "agent" || c.name == "replicator") st = StartPilotlightProcess(region, c);
    if (c.name == "probe-agent") st = StartProbeAgent(region, c);
    if (!c.node_group.empty() && !c.surplus) st = StartInstance(region, c);
    PL_RETURN_IF_ERROR(st);
  }
  return Status::OK();
}

Status Lab::PrepareServers() {
  Result<std::optional<RunAs>> user = ServerUser("postgres");
  if (!user.ok()) return user.status();
  pg_user_ = *user;
  // Redis, like PostgreSQL, runs as its own system user, never as root.
  Result<std::optional<RunAs>> redis = ServerUser("redis");
  if (!redis.ok()) {
    return Status::NotFound("system user 'redis' does not exist; install the Debian package "
                            "redis-server (it creates the user) or run as a non-root user");
  }
  redis_user_ = *redis;
  return EnsureSecrets();
}

Status Lab::EnsureSecrets() {
  const std::string dir = dir_ + "/secrets";
  std::error_code made_dir;
  fs::create_directories(dir, made_dir);
  if (made_dir) return Status::IOError("cannot create " + dir + ": " + made_dir.message());
  fs::permissions(dir, fs::perms::owner_all, made_dir);
  // One password per PostgreSQL role for the whole lab: a standby is a physical
  // copy of the primary, roles and passwords included, so every region's file
  // of a role holds the same one. Redis instances are separate: one each.
  std::map<std::string, std::string> role_password;
  for (const config::RegionSpec& r : config_.regions) {
    const config::PostgresSpec& pg = r.postgres;
    for (const std::pair<std::string, const std::string*>& role :
         {std::pair<std::string, const std::string*>{pg.user, &pg.password_file},
          {pg.app_user, &pg.app_password_file},
          {pg.replication_user, &pg.replication_password_file}}) {
      if (role.first.empty() || !role.second->empty()) continue;  // the config names its file
      const std::string file = config::PostgresSecretFile(dir, r.name, role.first);
      auto known = role_password.find(role.first);
      if (known == role_password.end()) {
        Result<std::string> made = sys::EnsureSecretFile(file);
        if (!made.ok()) return made.status();
        role_password[role.first] = *made;
      } else if (!fs::exists(file)) {
        PL_RETURN_IF_ERROR(sys::WriteFileAtomically(file, known->second + "\n", true));
        fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write);
      }
    }
    if (r.redis.password_file.empty()) {
      Result<std::string> made = sys::EnsureSecretFile(config::RedisSecretFile(dir, r.name));
      if (!made.ok()) return made.status();
    }
  }
  config::ApplySecretsDir(config_, dir);
  return Status::OK();
}

Result<std::string> Lab::WriteServerPassfile(const config::RegionSpec& region) {
  std::string lines;
  for (const config::RegionSpec& r : config_.regions) {
    for (const pg::Endpoint& e : {pg::RegionDatabase(r), pg::RegionReplication(r)}) {
      if (e.password_file.empty()) continue;
      Result<std::string> password = pg::ReadPasswordFile(e.password_file);
      if (!password.ok()) return password.status();
      lines += pg::PgpassLine(e, *password);
    }
  }
  if (lines.empty()) return std::string();
  const std::string file = PostgresDataDir(region) + ".pgpass";
  PL_RETURN_IF_ERROR(sys::WriteFileAtomically(file, lines));
  fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write);
  PL_RETURN_IF_ERROR(Chown(file, pg_user_));
  return file;
}

std::string Lab::RedisDir(const config::RegionSpec& region) const {
  // Beside PostgreSQL's data: a place the server users can reach.
  return pg_root_ + "/" + region.name + "/redis";
}

Status Lab::Up(bool replicators) {
  PL_RETURN_IF_ERROR(PrepareServers());
  PL_RETURN_IF_ERROR(PreparePostgresRoot());
  // Tests that drive replication themselves bring the lab up without the
  // lab's own replicators; the choice is kept for start-region.
  const std::string off = dir_ + "/replicators.disabled";
  if (replicators) {
    std::error_code ec;
    fs::remove(off, ec);
  } else {
    PL_RETURN_IF_ERROR(WriteFile(off, "started with --no-replicators\n"));
  }
  // The lab keeps its own copy of the config, so later commands (and the agent)
  // need no --config.
  // The copy names the lab's secrets directory, so every command and process
  // given it logs in (unless the config names its own secrets).
  if (fs::absolute(config_.file) != fs::absolute(dir_ + "/config.yaml")) {
    std::string text = ReadFile(config_.file);
    if (config_.secrets_dir.empty()) {
      if (!text.empty() && text.back() != '\n') text += '\n';
      text += "\n# Added by pilotlight lab: the passwords it made for this lab.\nsecrets_dir: " +
              dir_ + "/secrets\n";
    }
    Status copied = sys::WriteFileAtomically(dir_ + "/config.yaml", text);
    if (!copied.ok()) return copied.Annotate("cannot copy " + config_.file + " into " + dir_);
  }
  // Primary first: the DR standby is cloned from it.
  PL_RETURN_IF_ERROR(StartRegionComponents(config_.Primary()));
  PL_RETURN_IF_ERROR(StartRegionComponents(config_.Dr()));
  return StartSite();
}

Status Lab::StopComponent(const Component& c, int signal, Duration grace) {
  std::optional<pid_t> pid = RunningPid(c);
  std::error_code ec;
  if (!pid) {
    fs::remove(c.pid_file, ec);
    return Status::OK();
  }
  SignalGroup(*pid, signal);
  if (!WaitGroupGone(*pid, grace)) {
    LogWarn(c.name + " pid " + std::to_string(*pid) + " ignored its stop signal; killing it");
    SignalGroup(*pid, SIGKILL);
    if (!WaitGroupGone(*pid, std::chrono::seconds(10))) {
      return Status::Internal(c.name + " pid " + std::to_string(*pid) + " survived SIGKILL");
    }
  }
  fs::remove(c.pid_file, ec);
  return Status::OK();
}

Status Lab::Down(bool purge) {
  Status first;
  for (const Component& c : SiteComponents()) {
    Status st = StopComponent(c, SIGTERM, kStopGrace);
    if (st.ok()) {
      LogInfo("site: " + c.name + " stopped");
    } else {
      first = st;
    }
  }
  for (const config::RegionSpec& region : config_.regions) {
    if (!IsCutOff(PartitionName(dir_, region.name))) continue;
    Status st = HealPartition(region.name);
    if (!st.ok() && first.ok()) first = st;
  }
  // DR first, then the primary: the standby must not see its primary vanish
  // and log a storm of reconnection errors it does not need.
  for (const config::RegionSpec* region : {&config_.Dr(), &config_.Primary()}) {
    std::vector<Component> components = ComponentsOf(*region);
    for (auto it = components.rbegin(); it != components.rend(); ++it) {
      // SIGINT is PostgreSQL's fast shutdown; SIGTERM for everything else.
      Status st = StopComponent(*it, it->name == "postgres" ? SIGINT : SIGTERM, kStopGrace);
      if (st.ok()) {
        LogInfo("region " + region->name + ": " + it->name + " stopped");
      } else if (first.ok()) {
        first = st;
      }
    }
  }
  if (!first.ok() || !purge) return first;
  std::error_code ec;
  if (pg_root_ != dir_) fs::remove_all(pg_root_, ec);
  fs::remove_all(dir_, ec);
  if (ec) return Status::IOError("cannot remove " + dir_ + ": " + ec.message());
  LogInfo("lab data removed: " + dir_);
  return Status::OK();
}

Status Lab::KillRegion(const std::string& name) {
  const config::RegionSpec* region = config_.FindRegion(name);
  if (region == nullptr) {
    return Status::NotFound("no region named '" + name + "' in " + config_.file);
  }
  for (const Component& c : ComponentsOf(*region)) {
    std::optional<pid_t> pid = RunningPid(c);
    if (!pid) continue;
    SignalGroup(*pid, SIGKILL);
    if (!WaitGroupGone(*pid, std::chrono::seconds(10))) {
      return Status::Internal(c.name + " of region " + name + " survived SIGKILL");
    }
    LogInfo("region " + name + ": " + c.name + " pid " + std::to_string(*pid) + " killed");
  }
  return Status::OK();
}

Status Lab::SignalComponents(const std::string& name, const std::string& which, int signal,
                             std::vector<pid_t>* signalled) {
  const config::RegionSpec* region = config_.FindRegion(name);
  if (region == nullptr) {
    return Status::NotFound("no region named '" + name + "' in " + config_.file);
  }
  int count = 0;
  for (const Component& c : ComponentsOf(*region)) {
    if (c.name != which && c.node_group != which) continue;
    std::optional<pid_t> pid = RunningPid(c);
    if (!pid) continue;
    SignalGroup(*pid, signal);
    if (signalled != nullptr) signalled->push_back(*pid);
    ++count;
    LogInfo("region " + name + ": " + c.name + " pid " + std::to_string(*pid) + " sent signal " +
            std::to_string(signal));
  }
  if (count == 0) {
    return Status::NotFound("region " + name + " runs no component or node group named '" +
                            which + "'");
  }
  return Status::OK();
}


Status Lab::Partition(const std::string& name) {
  const config::RegionSpec* region = config_.FindRegion(name);
  if (region == nullptr) {
    return Status::NotFound("no region named '" + name + "' in " + config_.file);
  }
  // The lease on 127.0.0.1 could not be told apart from the region's own
  // traffic (its replies to 127.0.0.1 clients stay allowed).
  const std::optional<config::ListenAddress>& lease = config_.controller.lease_listen;
  if (!lease || lease->address == "127.0.0.1" || lease->address == "0.0.0.0" ||
      lease->address == region->address) {
    return Status::InvalidArgument(
        config_.file + ": a partition cuts region " + name + " off from the third site, so the "
        "controller's write lease must listen there: set controller.lease.listen to a "
        "third-site address (examples/lab.yaml uses 127.0.3.1:7400)");
  }
  PartitionSpec spec;
  spec.name = PartitionName(dir_, name);
  spec.region_address = region->address;
  for (const config::RegionSpec& other : config_.regions) {
    if (&other != region) spec.outside_addresses.push_back(other.address);
  }
  spec.outside_addresses.push_back(lease->address);
  if (!config_.dns.zones.empty() && config_.dns.listen.address != lease->address) {
    spec.outside_addresses.push_back(config_.dns.listen.address);
  }
  spec.process_groups = RegionPids(name);
  PL_RETURN_IF_ERROR(CutOff(spec));
  LogInfo("region " + name + ": cut off the network (nft table inet " + spec.name + ")");
  return Status::OK();
}

Status Lab::HealPartition(const std::string& name) {
  if (config_.FindRegion(name) == nullptr) {
    return Status::NotFound("no region named '" + name + "' in " + config_.file);
  }
  PL_RETURN_IF_ERROR(Heal(PartitionName(dir_, name)));
  LogInfo("region " + name + ": network partition healed");
  return Status::OK();
}

Result<int> Lab::RunInPartition(const std::string& name, const std::function<int()>& body) {
  return RunInside(PartitionName(dir_, name), body);
}

std::vector<pid_t> Lab::RegionPids(const std::string& name) const {
  std::vector<pid_t> pids;
  const config::RegionSpec* region = config_.FindRegion(name);
  if (region == nullptr) return pids;
  for (const Component& c : ComponentsOf(*region)) {
    if (std::optional<pid_t> pid = RunningPid(c)) pids.push_back(*pid);
  }
  return pids;
}

Result<std::vector<std::string>> Lab::RestartCrashedInstances(const std::string& name,
                                                              std::vector<std::string>* stale) {
  const config::RegionSpec* region = config_.FindRegion(name);
  if (region == nullptr) {
    return Status::NotFound("no region named '" + name + "' in " + config_.file);
  }
  std::vector<std::string> now_stale;
  std::vector<std::string> restarted;
  for (const Component& c : ComponentsOf(*region)) {
    if (c.node_group.empty() || c.surplus || RunningPid(c) || !fs::exists(c.pid_file)) continue;
    const bool seen_before =
        stale != nullptr && std::find(stale->begin(), stale->end(), c.name) != stale->end();
    if (!seen_before) {
      now_stale.push_back(c.name);
      continue;
    }
    LogWarn("region " + name + ": " + c.name + " died; starting it again");
    std::error_code ec;
    fs::remove(c.pid_file, ec);
    PL_RETURN_IF_ERROR(StartInstance(*region, c));
    restarted.push_back(c.name);
  }
  if (stale != nullptr) *stale = std::move(now_stale);
  return restarted;
}

Status Lab::StartRegion(const std::string& name) {
  const config::RegionSpec* region = config_.FindRegion(name);
  if (region == nullptr) {
    return Status::NotFound("no region named '" + name + "' in " + config_.file);
  }
  if (!fs::exists(dir_ + "/pg_root")) {
    return Status::FailedPrecondition("no lab in " + dir_ + ": run `pilotlight lab up` first");
  }
  PL_RETURN_IF_ERROR(PrepareServers());
  return StartRegionComponents(*region);
}

LabStatus Lab::GetStatus() const {
  LabStatus st;
  st.dir = dir_;
  st.config_file = config_.file;
  st.all_up = true;
  for (const config::RegionSpec& region : config_.regions) {
    RegionStatus rs;
    rs.name = region.name;
    rs.role = config::RoleName(region.role);
    for (const Component& c : ComponentsOf(region)) {
      if (c.surplus && !RunningPid(c)) continue;  // scaled away: nothing to show
      ComponentStatus cs;
      cs.name = c.name;
      if (c.port != 0) cs.address = c.address + ":" + std::to_string(c.port);
      std::optional<pid_t> pid = RunningPid(c);
      cs.up = pid.has_value();
      cs.pid = pid.value_or(0);
      if (!cs.up) {
        cs.detail = fs::exists(c.pid_file) ? "down (stale pid file)" : "down";
        st.all_up = false;
      } else if (c.name == "probe-agent") {
        cs.detail = "votes for site " + region.name + " at http://" + cs.address + "/observations";
      }
      rs.components.push_back(std::move(cs));
    }
    for (const config::BucketSpec& b : region.buckets) {
      rs.buckets.push_back(b.path.empty() ? RegionDir(region) + "/buckets/" + b.name : b.path);
    }
    st.regions.push_back(std::move(rs));
  }
  for (const Component& c : SiteComponents()) {
    ComponentStatus cs;
    cs.name = c.name;
    cs.address = c.address + ":" + std::to_string(c.port);
    std::optional<pid_t> pid = RunningPid(c);
    cs.up = pid.has_value();
    cs.pid = pid.value_or(0);
    if (!cs.up) {
      cs.detail = fs::exists(c.pid_file) ? "down (stale pid file)" : "down";
      st.all_up = false;
    }
    st.site.push_back(std::move(cs));
  }
  const config::RegionSpec& primary = config_.Primary();
  const config::RegionSpec& dr = config_.Dr();
  st.replication = pg::ReadReplicationStatus(PostgresEndpoint(primary, primary.postgres.database),
                                             PostgresEndpoint(dr, dr.postgres.database), dr.name);
  for (RegionStatus& rs : st.regions) {
    for (ComponentStatus& cs : rs.components) {
      if (cs.name != "postgres" || !cs.up) continue;
      const bool is_dr = rs.role == "dr";
      const bool reachable =
          is_dr ? st.replication.standby_reachable : st.replication.primary_reachable;
      if (!reachable) {
        cs.detail = "not accepting connections";
      } else if (is_dr) {
        cs.detail = st.replication.standby_in_recovery ? "standby (read-only)" : "promoted (writable)";
      } else {
        cs.detail = "primary (writable)";
      }
    }
  }
  return st;
}

}  // namespace pilotlight::lab
