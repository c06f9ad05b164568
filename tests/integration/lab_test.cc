// The lab end to end: real PostgreSQL streaming replication and Redis, brought
// up by the pilotlight binary on addresses and ports of this test's own.
#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "data/postgres/failover.h"
#include "data/postgres/pg_client.h"
#include "lab_fixture.h"

namespace pilotlight {
namespace {

using testing::CommandResult;
using testing::RunPilotlight;
using testing::WaitFor;
using testing::TestLab;
using namespace std::chrono_literals;

// Every pid `status --json` reports as up.
std::set<int> LabPids(const nlohmann::json& status) {
  std::set<int> pids;
  for (const auto& region : status["regions"]) {
    for (const auto& c : region["components"]) {
      if (c["up"].get<bool>()) pids.insert(c["pid"].get<int>());
    }
  }
  return pids;
}

bool IsZombieStat(const std::string& stat) {
  const size_t close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] == 'Z';
}

// True when pid is a live process (a zombie is dead, merely not yet reaped).
bool Alive(int pid) {
  std::string stat = testing::ReadAll("/proc/" + std::to_string(pid) + "/stat");
  return !stat.empty() && !IsZombieStat(stat);
}

// Processes whose command line mentions `needle` (an address or directory of this lab).
std::vector<std::string> ProcessesMentioning(const std::string& needle) {
  std::vector<std::string> found;
  DIR* proc = opendir("/proc");
  while (struct dirent* e = readdir(proc)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    if (std::to_string(getpid()) == e->d_name) continue;
    std::string cmdline = testing::ReadAll(std::string("/proc/") + e->d_name + "/cmdline");
    for (char& c : cmdline) c = c == '\0' ? ' ' : c;
    std::string stat = testing::ReadAll(std::string("/proc/") + e->d_name + "/stat");
    if (!IsZombieStat(stat) && cmdline.find(needle) != std::string::npos) {
      found.push_back(std::string(e->d_name) + ": " + cmdline);
    }
  }
  closedir(proc);
  return found;
}

const nlohmann::json* Component(const nlohmann::json& status, const std::string& region,
                                const std::string& name) {
  for (const auto& r : status["regions"]) {
    if (r["name"] != region) continue;
    for (const auto& c : r["components"]) {
      if (c["name"] == name) return &c;
    }
  }
  return nullptr;
}

class LabTest : public ::testing::Test {
 protected:
  void SetUp() override {
    lab_ = testing::MakeTestLab("replication:\n  heartbeat_interval: 200ms\n");
  }
  void TearDown() override { lab_.Destroy(); }
  TestLab lab_;
};

TEST_F(LabTest, ReplicatesSurvivesPrimaryLossAndStopsClean) {
  CommandResult up = RunPilotlight(lab_.Args({"up"}));
  ASSERT_EQ(up.exit_code, 0) << up.err;

  // A row written on the primary reaches the DR standby within 2 s.
  auto primary = pg::Connection::Open(lab_.Pg(true));
  ASSERT_TRUE(primary.ok()) << primary.status().ToString();
  ASSERT_TRUE((*primary)->Exec("CREATE TABLE drill_probe (id int PRIMARY KEY, note text);"
                               "INSERT INTO drill_probe VALUES (1, 'acknowledged trade')")
                  .ok());
  auto standby = pg::Connection::Open(lab_.Pg(false));
  ASSERT_TRUE(standby.ok()) << standby.status().ToString();
  const bool replicated = WaitFor(2s, [&] {
    auto rows = (*standby)->Query("SELECT note FROM drill_probe WHERE id = 1");
    return rows.ok() && !rows->empty() && rows->Get(0, "note") == "acknowledged trade";
  });
  EXPECT_TRUE(replicated) << "row not on the standby within 2 s";

  // status --json reports streaming with a replay lag under 1 s.
  nlohmann::json status;
  const bool streaming = WaitFor(10s, [&] {
    status = lab_.StatusJson();
    return status["replication"]["streaming"] == true;
  });
  ASSERT_TRUE(streaming) << status.dump(2);
  EXPECT_TRUE(status["all_up"].get<bool>()) << status.dump(2);
  ASSERT_TRUE(status["replication"]["replay_lag_seconds"].is_number()) << status.dump(2);
  EXPECT_LT(status["replication"]["replay_lag_seconds"].get<double>(), 1.0) << status.dump(2);
  EXPECT_TRUE(status["replication"]["replay_lag_bytes"].is_number()) << status.dump(2);

  // Up again changes nothing: the same processes keep running.
  const std::set<int> before = LabPids(status);
  CommandResult again = RunPilotlight(lab_.Args({"up"}));
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(LabPids(lab_.StatusJson()), before);

  // Kill the primary region: the standby stays up and read-only.
  CommandResult kill = RunPilotlight(lab_.Args({"kill-region", "primary"}));
  ASSERT_EQ(kill.exit_code, 0) << kill.err;
  status = lab_.StatusJson();
  EXPECT_FALSE((*Component(status, "primary", "postgres"))["up"].get<bool>()) << status.dump(2);
  EXPECT_FALSE((*Component(status, "primary", "redis"))["up"].get<bool>()) << status.dump(2);
  EXPECT_TRUE((*Component(status, "dr", "postgres"))["up"].get<bool>()) << status.dump(2);
  EXPECT_FALSE(status["replication"]["primary_reachable"].get<bool>());
  EXPECT_TRUE(status["replication"]["standby_in_recovery"].get<bool>()) << status.dump(2);
  auto still = pg::Connection::Open(lab_.Pg(false));
  ASSERT_TRUE(still.ok()) << still.status().ToString();
  auto read = (*still)->Query("SELECT count(*) AS n FROM drill_probe");
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(read->Get(0, "n"), "1");
  Status write = (*still)->Exec("INSERT INTO drill_probe VALUES (2, 'must be refused')");
  EXPECT_FALSE(write.ok());
  EXPECT_NE(write.message().find("read-only"), std::string::npos) << write.message();

  // start-region brings the primary back in its old role, and DR streams again.
  CommandResult start = RunPilotlight(lab_.Args({"start-region", "primary"}));
  ASSERT_EQ(start.exit_code, 0) << start.err;
  EXPECT_TRUE(WaitFor(30s, [&] {
    status = lab_.StatusJson();
    return status["all_up"] == true && status["replication"]["streaming"] == true;
  })) << status.dump(2);
  EXPECT_EQ((*Component(status, "primary", "postgres"))["detail"], "primary (writable)");

  // Down leaves no process of this lab behind.
  const std::set<int> pids = LabPids(status);
  EXPECT_GE(pids.size(), 5u) << status.dump(2);
  CommandResult down = RunPilotlight(lab_.Args({"down"}));
  ASSERT_EQ(down.exit_code, 0) << down.err;
  for (int pid : pids) {
    EXPECT_FALSE(Alive(pid)) << "pid " << pid << " survived lab down";
  }
  EXPECT_EQ(ProcessesMentioning(lab_.primary_address), std::vector<std::string>{});
  EXPECT_EQ(ProcessesMentioning(lab_.dr_address), std::vector<std::string>{});
  EXPECT_EQ(ProcessesMentioning(lab_.dir), std::vector<std::string>{});
  status = lab_.StatusJson();
  EXPECT_TRUE(LabPids(status).empty()) << status.dump(2);
}

// Runs `command` through the shell, capturing stdout and stderr together.
CommandResult Shell(const std::string& command) {
  CommandResult r;
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int st = pclose(p);
  r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

// Another local user (nobody) gets nothing from the lab's servers: no
// PostgreSQL role logs in without its password (the superuser included, which
// would run commands as postgres with COPY ... FROM PROGRAM), and Redis refuses
// every command without the password. With the password, Redis still refuses
// what would wipe or re-point the session store, and no server runs as root.
TEST_F(LabTest, OtherLocalUsersGetNoDatabaseAndNoSessionStore) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to run commands as another user";
  CommandResult up = RunPilotlight(lab_.Args({"up"}));
  ASSERT_EQ(up.exit_code, 0) << up.err;
  const std::string as_nobody = "runuser -u nobody -- ";
  const std::string pg = std::to_string(lab_.primary_pg);
  const std::string redis = std::to_string(lab_.primary_redis);
  const std::string addr = lab_.primary_address;

  for (const std::string& role : {"postgres", "trader", "replicator"}) {
    CommandResult psql = Shell(as_nobody + "psql -w -h " + addr + " -p " + pg + " -U " + role +
                               " -d trading -c 'SELECT 1'");
    EXPECT_NE(psql.exit_code, 0) << role << ": " << psql.out;
    // Refused for want of a password, or (the replication role, which may only
    // stream) before a password is even asked.
    EXPECT_TRUE(psql.out.find("no password supplied") != std::string::npos ||
                (role == std::string("replicator") &&
                 psql.out.find("no pg_hba.conf entry") != std::string::npos))
        << role << ": " << psql.out;
  }
  CommandResult guessed = Shell(as_nobody + "env PGPASSWORD=postgres psql -w -h " + addr + " -p " +
                                pg + " -U postgres -d postgres -c 'SELECT 1'");
  EXPECT_NE(guessed.exit_code, 0) << guessed.out;
  EXPECT_NE(guessed.out.find("password authentication failed"), std::string::npos) << guessed.out;

  CommandResult ping = Shell(as_nobody + "redis-cli -h " + addr + " -p " + redis + " PING");
  EXPECT_NE(ping.out.find("NOAUTH"), std::string::npos) << ping.out;
  CommandResult flush = Shell(as_nobody + "redis-cli -h " + addr + " -p " + redis + " FLUSHALL");
  EXPECT_NE(flush.out.find("NOAUTH"), std::string::npos) << flush.out;

  // The secrets: readable by their owner only, so nobody cannot read them.
  const std::string secrets = lab_.dir + "/secrets";
  struct stat st {};
  ASSERT_EQ(stat(secrets.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 077, 0u) << secrets;
  const std::string redis_password_file = secrets + "/primary.redis.password";
  ASSERT_EQ(stat(redis_password_file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 077, 0u);
  CommandResult peek = Shell(as_nobody + "cat " + redis_password_file);
  EXPECT_NE(peek.exit_code, 0) << peek.out;

  // The lab's own password works, and still may not wipe, reconfigure or stop Redis.
  const std::string with_password = "REDISCLI_AUTH=\"$(cat " + redis_password_file +
                                    ")\" redis-cli --no-auth-warning -h " + addr + " -p " + redis;
  EXPECT_NE(Shell(with_password + " PING").out.find("PONG"), std::string::npos);
  for (const std::string& command : {"FLUSHALL", "CONFIG GET requirepass", "SHUTDOWN NOSAVE",
                                     "REPLICAOF 127.0.0.1 1", "DEBUG SLEEP 0"}) {
    CommandResult r = Shell(with_password + " " + command);
    // NOPERM from the ACL; DEBUG is also off in Redis 7 itself ("not allowed").
    EXPECT_TRUE(r.out.find("NOPERM") != std::string::npos ||
                r.out.find("not allowed") != std::string::npos)
        << command << ": " << r.out;
  }
  EXPECT_NE(Shell(with_password + " PING").out.find("PONG"), std::string::npos)
      << "Redis must still be up after SHUTDOWN was refused";
  auto admin = pg::Connection::Open(lab_.Pg(true));
  EXPECT_TRUE(admin.ok()) << admin.status().ToString();

  // No server of the lab runs as root.
  const nlohmann::json status = lab_.StatusJson();
  for (const auto& region : status["regions"]) {
    for (const auto& c : region["components"]) {
      if (c["name"] != "postgres" && c["name"] != "redis") continue;
      ASSERT_TRUE(c["up"].get<bool>()) << c.dump();
      struct stat proc {};
      const std::string path = "/proc/" + std::to_string(c["pid"].get<int>());
      ASSERT_EQ(stat(path.c_str(), &proc), 0) << path;
      EXPECT_NE(proc.st_uid, 0u) << region["name"] << " " << c["name"] << " runs as root";
    }
  }
}

TEST_F(LabTest, PortInUseIsAClearErrorNamingComponentAndPort) {
  // Occupy the primary's PostgreSQL port before the lab starts.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(lab_.primary_pg);
  inet_pton(AF_INET, lab_.primary_address.c_str(), &sa.sin_addr);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  ASSERT_EQ(listen(fd, 1), 0);

  CommandResult up = RunPilotlight(lab_.Args({"up"}));
  close(fd);
  EXPECT_NE(up.exit_code, 0);
  const std::string where = lab_.primary_address + ":" + std::to_string(lab_.primary_pg);
  EXPECT_NE(up.err.find("postgres of region primary"), std::string::npos) << up.err;
  EXPECT_NE(up.err.find(where), std::string::npos) << up.err;
  EXPECT_NE(up.err.find("regions[0].postgres.port"), std::string::npos) << up.err;
}

}  // namespace
}  // namespace pilotlight

namespace pilotlight {
namespace {

using testing::CommandResult;
using testing::RunPilotlight;
using testing::WaitFor;
using namespace std::chrono_literals;

class LabFailoverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    lab_ = testing::MakeTestLab("replication:\n  heartbeat_interval: 200ms\n");
  }
  void TearDown() override { lab_.Destroy(); }
  std::vector<std::string> Rep(std::vector<std::string> cmd) const {
    std::vector<std::string> args = {"replication"};
    args.insert(args.end(), cmd.begin(), cmd.end());
    args.insert(args.end(), {"--dir", lab_.dir, "--config", lab_.config});
    return args;
  }
  testing::TestLab lab_;
};

// The old primary must never come back writable after DR was promoted: a region
// killed during an outage (so never fenced) and started again comes up fenced,
// and takes writes only once rejoined as a standby of the new primary.
TEST_F(LabFailoverTest, KilledOldPrimaryComesBackFencedUntilRejoined) {
  CommandResult up = RunPilotlight(lab_.Args({"up"}));
  ASSERT_EQ(up.exit_code, 0) << up.err;
  {
    auto primary = pg::Connection::Open(lab_.Pg(true));
    ASSERT_TRUE(primary.ok()) << primary.status().ToString();
    ASSERT_TRUE((*primary)->Exec("CREATE TABLE lab_failover (id int PRIMARY KEY);"
                                 "INSERT INTO lab_failover VALUES (1)").ok());
  }
  auto standby = pg::Connection::Open(lab_.Pg(false));
  ASSERT_TRUE(standby.ok());
  ASSERT_TRUE(WaitFor(5s, [&] {
    auto rows = (*standby)->Query("SELECT count(*) AS n FROM lab_failover");
    return rows.ok() && rows->Get(0, "n") == "1";
  }));

  ASSERT_EQ(RunPilotlight(lab_.Args({"kill-region", "primary"})).exit_code, 0);
  CommandResult promote = RunPilotlight(Rep({"promote", "--force"}));
  ASSERT_EQ(promote.exit_code, 0) << promote.err;
  auto dr = pg::Connection::Open(lab_.Pg(false));
  ASSERT_TRUE(dr.ok());
  ASSERT_TRUE((*dr)->Exec("INSERT INTO lab_failover VALUES (2)").ok());

  CommandResult start = RunPilotlight(lab_.Args({"start-region", "primary"}));
  ASSERT_EQ(start.exit_code, 0) << start.err;
  EXPECT_NE(start.err.find("starting this PostgreSQL demoted"), std::string::npos) << start.err;
  auto old_primary = pg::Connection::Open(lab_.Pg(true));
  ASSERT_TRUE(old_primary.ok()) << old_primary.status().ToString();
  Status write = (*old_primary)->Exec("INSERT INTO lab_failover VALUES (3)");
  EXPECT_FALSE(write.ok()) << "the old primary took a write after DR was promoted";
  EXPECT_NE(write.message().find("read-only"), std::string::npos) << write.message();
  // Nor past the default: BEGIN READ WRITE, as the superuser and as the application.
  Status past =
      (*old_primary)->Exec("BEGIN READ WRITE; INSERT INTO lab_failover VALUES (4); COMMIT");
  EXPECT_FALSE(past.ok()) << "BEGIN READ WRITE committed on the old primary";
  pg::Endpoint app = lab_.Pg(true);
  app.application_user = "trader";
  const pg::WriteAttempt attempt = pg::AttemptApplicationWrite(app);
  EXPECT_FALSE(attempt.committed) << attempt.detail;
  EXPECT_TRUE(attempt.refused) << attempt.detail;

  CommandResult rejoin = RunPilotlight(Rep({"rejoin"}));
  ASSERT_EQ(rejoin.exit_code, 0) << rejoin.err;
  auto rejoined = pg::Connection::Open(lab_.Pg(true));
  ASSERT_TRUE(rejoined.ok());
  EXPECT_TRUE(WaitFor(10s, [&] {
    auto rows = (*rejoined)->Query("SELECT count(*) AS n FROM lab_failover");
    return rows.ok() && rows->Get(0, "n") == "2";
  })) << "the rejoined old primary does not stream the new primary's writes";
  auto rec = (*rejoined)->Query("SELECT pg_is_in_recovery()::text AS r");
  ASSERT_TRUE(rec.ok());
  EXPECT_EQ(rec->Get(0, "r"), "true");
}

}  // namespace
}  // namespace pilotlight
