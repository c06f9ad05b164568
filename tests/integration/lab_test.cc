// The lab end to end: real PostgreSQL streaming replication and Redis, brought
// up by the pilotlight binary on addresses and ports of this test's own.
#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "data/postgres/pg_client.h"
#include "test_util.h"

namespace pilotlight {
namespace {

using testing::CommandResult;
using testing::FreePort;
using testing::RunPilotlight;
using testing::WaitFor;
using namespace std::chrono_literals;

struct TestLab {
  std::string dir;
  std::string config;
  std::string primary_address;
  std::string dr_address;
  uint16_t primary_pg = 0;
  uint16_t dr_pg = 0;

  std::vector<std::string> Args(std::vector<std::string> cmd) const {
    std::vector<std::string> args = {"lab"};
    args.insert(args.end(), cmd.begin(), cmd.end());
    args.insert(args.end(), {"--dir", dir, "--config", config});
    return args;
  }
  pg::Endpoint Pg(bool primary) const {
    pg::Endpoint e;
    e.host = primary ? primary_address : dr_address;
    e.port = primary ? primary_pg : dr_pg;
    e.database = "trading";
    return e;
  }
};

// Addresses of this test process's own (127.N.1.1 / 127.N.2.1), so a developer's
// lab on 127.0.1.1 / 127.0.2.1 and a concurrent run do not collide.
TestLab MakeLab() {
  TestLab lab;
  char tmpl[] = "/tmp/pilotlight-lab-test-XXXXXX";
  lab.dir = mkdtemp(tmpl);
  const int net = 10 + getpid() % 200;
  lab.primary_address = "127." + std::to_string(net) + ".1.1";
  lab.dr_address = "127." + std::to_string(net) + ".2.1";
  lab.primary_pg = FreePort(lab.primary_address);
  lab.dr_pg = FreePort(lab.dr_address);
  const uint16_t primary_redis = FreePort(lab.primary_address);
  const uint16_t dr_redis = FreePort(lab.dr_address);
  lab.config = lab.dir + ".yaml";
  std::ofstream out(lab.config);
  out << "platform: lab-test\n"
         "regions:\n"
         "  - name: primary\n"
         "    role: primary\n"
         "    address: " << lab.primary_address << "\n"
         "    postgres: {port: " << lab.primary_pg << "}\n"
         "    redis: {port: " << primary_redis << "}\n"
         "    buckets: [{name: confirmations}]\n"
         "  - name: dr\n"
         "    role: dr\n"
         "    address: " << lab.dr_address << "\n"
         "    postgres: {port: " << lab.dr_pg << "}\n"
         "    redis: {port: " << dr_redis << "}\n"
         "    buckets: [{name: confirmations}]\n"
         "replication:\n"
         "  heartbeat_interval: 200ms\n";
  return lab;
}

nlohmann::json StatusJson(const TestLab& lab) {
  CommandResult r = RunPilotlight(lab.Args({"status", "--json"}));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return nlohmann::json::parse(r.out, nullptr, /*allow_exceptions=*/false);
}

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
  void SetUp() override { lab_ = MakeLab(); }
  void TearDown() override {
    // PILOTLIGHT_KEEP_LAB=1 keeps the lab's logs for a post-mortem (still stopped).
    const bool keep = getenv("PILOTLIGHT_KEEP_LAB") != nullptr;
    RunPilotlight(lab_.Args(keep ? std::vector<std::string>{"down"}
                                 : std::vector<std::string>{"down", "--purge"}));
    if (keep) return;
    std::filesystem::remove(lab_.config);
  }
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
    status = StatusJson(lab_);
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
  EXPECT_EQ(LabPids(StatusJson(lab_)), before);

  // Kill the primary region: the standby stays up and read-only.
  CommandResult kill = RunPilotlight(lab_.Args({"kill-region", "primary"}));
  ASSERT_EQ(kill.exit_code, 0) << kill.err;
  status = StatusJson(lab_);
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
    status = StatusJson(lab_);
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
  status = StatusJson(lab_);
  EXPECT_TRUE(LabPids(status).empty()) << status.dump(2);
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
