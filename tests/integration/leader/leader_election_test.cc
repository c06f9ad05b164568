// Several `pilotlight controller run --etcd` processes on one lab (same --dir),
// a real etcd started by the test on free ports: exactly one leads; a SIGKILLed
// leader is replaced within the session ttl plus a margin; a SIGSTOPped leader
// is replaced and, resumed, notices it lost and follows, its leadership having
// ended (by its own count) before the other's began; a leader killed in the
// middle of a failover runbook is replaced by one that resumes the run from the
// journal; an unreachable etcd is said plainly and nothing is granted until it
// answers.
#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <set>

#include "controller_fixture.h"

namespace pilotlight {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;
using testing::ReadAll;
using testing::RunPilotlight;
using testing::WaitFor;

constexpr int kTtlSeconds = 3;

class LeaderElectionTest : public testing::ControllerLabFixture {
 protected:
  void SetUp() override {
    etcd_client_ = testing::PickPort("127.0.0.1");
    etcd_peer_ = testing::PickPort("127.0.0.1");
    BringUp(testing::MakeTestLab("replication:\n  heartbeat_interval: 200ms\n",
                                 /*trader_production_size=*/2, /*trader_pilot_light_size=*/1));
  }

  std::string EtcdUrl() const { return "http://127.0.0.1:" + std::to_string(etcd_client_); }

  void StartEtcd() {
    const std::string data = lab_.dir + "/etcd";
    const std::string peer = "http://127.0.0.1:" + std::to_string(etcd_peer_);
    // Stopped (SIGKILL) with the controllers by TearDown.
    children_.Spawn("/usr/bin/etcd",
                    {"--name", "pl-test", "--data-dir", data, "--listen-client-urls", EtcdUrl(),
                     "--advertise-client-urls", EtcdUrl(), "--listen-peer-urls", peer,
                     "--initial-advertise-peer-urls", peer, "--initial-cluster", "pl-test=" + peer},
                    lab_.dir + "/etcd.log");
    ASSERT_TRUE(WaitFor(20s, [&] {
      testing::CommandResult r = Curl("/health");
      return r.out.find("\"health\":\"true\"") != std::string::npos;
    })) << ReadAll(lab_.dir + "/etcd.log");
  }
  testing::CommandResult Curl(const std::string& path) const {
    testing::CommandResult r;
    FILE* p = popen(("curl -s -m 1 " + EtcdUrl() + path + " 2>/dev/null").c_str(), "r");
    if (p == nullptr) return r;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
    r.exit_code = pclose(p);
    return r;
  }

  // etcd, then controllers "a" and "b" in observe-only mode; their pids by name.
  std::map<std::string, pid_t> StartEtcdAndTwoObservers() {
    StartEtcd();
    return {{"a", StartController("a", "observe-only")},
            {"b", StartController("b", "observe-only")}};
  }
  // A controller named `name` on the lab, electing through etcd.
  pid_t StartController(const std::string& name, const std::string& mode,
                        const std::map<std::string, std::string>& env = {}) {
    return Spawn(Common({"controller", "run", "--mode", mode, "--interval", "200ms",
                         "--lease-duration", "3s", "--confirm-for", "500ms", "--etcd", EtcdUrl(),
                         "--etcd-ttl", std::to_string(kTtlSeconds) + "s", "--name", name}),
                 Log(name), env);
  }
  std::string Log(const std::string& name) const { return lab_.dir + "/" + name + ".log"; }
  // A controller's own status file (every controller writes one).
  json Own(const std::string& name) const {
    return ReadJson(lab_.dir + "/controller/controllers/" + name + ".json");
  }
  std::string Role(const std::string& name) const {
    json j = Own(name);
    if (!j.is_object() || !j["leadership"].is_object()) return "";
    return j["leadership"]["role"].get<std::string>();
  }
  std::string LeaderInStatus() const {
    json j = Status();
    if (!j.is_object() || !j["leadership"].is_object() || !j["leadership"]["leader"].is_object()) {
      return "";
    }
    return j["leadership"]["leader"]["name"].get<std::string>();
  }
  // The instants (UTC text) a controller's log says it began and ended leading.
  static std::vector<std::string> Matches(const std::string& log, const std::string& pattern) {
    std::vector<std::string> out;
    const std::regex re(pattern);
    for (auto it = std::sregex_iterator(log.begin(), log.end(), re); it != std::sregex_iterator();
         ++it) {
      out.push_back((*it)[1].str());
    }
    return out;
  }
  std::vector<std::string> LeadingFrom(const std::string& name) const {
    return Matches(ReadAll(Log(name)), R"(leadership: leading from (\S+Z))");
  }
  std::vector<std::string> LeadingEnded(const std::string& name) const {
    return Matches(ReadAll(Log(name)), R"(leadership: LOST; leading ended at (\S+Z))");
  }
  std::string Logs() const {
    return "--- a ---\n" + ReadAll(Log("a")) + "--- b ---\n" + ReadAll(Log("b"));
  }
  // Both controllers running and settled: one leads, the other follows it.
  std::pair<std::string, std::string> WaitForOneLeader() {
    std::pair<std::string, std::string> out;
    EXPECT_TRUE(WaitFor(30s, [&] {
      const std::string a = Role("a"), b = Role("b");
      if (a == "leading" && b == "following")
        out = {"a", "b"};
      else if (b == "leading" && a == "following")
        out = {"b", "a"};
      else
        return false;
      return true;
    })) << Logs();
    return out;
  }
  // The leader was put out (`how`: "SIGKILL") at `since`: `follower` must lead
  // within the session ttl plus a margin; prints how long it took.
  void WaitForTakeOver(const std::string& follower, std::chrono::steady_clock::time_point since,
                       const std::string& how) {
    ASSERT_TRUE(WaitFor(std::chrono::seconds(kTtlSeconds + 3), [&] {
      return Role(follower) == "leading";
    })) << Logs();
    const double took =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
    std::cerr << "[ measured ] " << how << " of the leader to the other leading: " << took
              << " s (ttl " << kTtlSeconds << " s)\n";
  }
  std::vector<json> FailoverRuns() const { return Runs("failover"); }

  uint16_t etcd_client_ = 0;
  uint16_t etcd_peer_ = 0;
};

TEST_F(LeaderElectionTest, ExactlyOneLeadsAndAKilledLeaderIsReplacedWithinTheTtl) {
  std::map<std::string, pid_t> pid = StartEtcdAndTwoObservers();
  auto [leader, follower] = WaitForOneLeader();
  ASSERT_FALSE(leader.empty());
  // status.json is the leader's, and names it; the follower names it too.
  ASSERT_TRUE(WaitFor(5s, [&] { return LeaderInStatus() == leader; })) << Logs();
  EXPECT_EQ(Own(follower)["leadership"]["leader"]["name"], leader);
  EXPECT_EQ(Own(follower)["leadership"]["leader"]["pid"], pid[leader]);
  testing::CommandResult status =
      RunPilotlight({"status", "--dir", lab_.dir, "--config", lab_.config});
  EXPECT_NE(status.out.find("leader: " + leader + " ("), std::string::npos) << status.out;
  // It stays that way: several more cycles, still exactly one.
  const std::string at = Own(follower)["at"];
  ASSERT_TRUE(WaitFor(5s, [&] { return Own(follower)["at"] != at && Own(leader)["at"] != at; }));
  EXPECT_EQ(Role(leader), "leading");
  EXPECT_EQ(Role(follower), "following");

  const auto killed = std::chrono::steady_clock::now();
  Kill(pid[leader], SIGKILL);
  ASSERT_NO_FATAL_FAILURE(WaitForTakeOver(follower, killed, "SIGKILL"));
  ASSERT_TRUE(WaitFor(5s, [&] { return LeaderInStatus() == follower; })) << Logs();
}

TEST_F(LeaderElectionTest, AStoppedLeaderIsReplacedAndResumedFollowsNeverTwoAtOnce) {
  std::map<std::string, pid_t> pid = StartEtcdAndTwoObservers();
  auto [leader, follower] = WaitForOneLeader();
  ASSERT_FALSE(leader.empty());
  const std::string endpoint_before = ReadAll(lab_.dir + "/controller/lease.endpoint");

  const auto stopped = std::chrono::steady_clock::now();
  kill(pid[leader], SIGSTOP);  // it can keep nothing alive, and cannot even know it
  ASSERT_NO_FATAL_FAILURE(WaitForTakeOver(follower, stopped, "SIGSTOP"));
  // The new leader publishes its own lease endpoint.
  ASSERT_TRUE(WaitFor(5s, [&] {
    return ReadAll(lab_.dir + "/controller/lease.endpoint") != endpoint_before;
  })) << Logs();

  kill(pid[leader], SIGCONT);
  ASSERT_TRUE(WaitFor(10s, [&] { return Role(leader) == "following"; })) << Logs();
  EXPECT_EQ(Own(leader)["leadership"]["leader"]["name"], follower);
  EXPECT_EQ(Role(follower), "leading");
  ASSERT_TRUE(WaitFor(5s, [&] { return LeaderInStatus() == follower; })) << Logs();

  // Never two at once: the stopped one's leadership ended (by its own clock,
  // ttl minus the margin after its last keepalive) before the other's began.
  const std::vector<std::string> ended = LeadingEnded(leader);
  const std::vector<std::string> began = LeadingFrom(follower);
  ASSERT_EQ(ended.size(), 1u) << Logs();
  ASSERT_EQ(began.size(), 1u) << Logs();
  EXPECT_LT(ended[0], began[0]) << Logs();  // same format and zone: text order is time order
  std::cerr << "[ measured ] old leader stopped leading at " << ended[0] << ", new leader began at "
            << began[0] << "\n";
  // And the resumed one does not lead again.
  const std::string at = Own(leader)["at"];
  ASSERT_TRUE(WaitFor(5s, [&] { return Own(leader)["at"] != at; }));
  EXPECT_EQ(Role(leader), "following");
  EXPECT_EQ(LeadingFrom(leader).size(), 1u);
}

TEST_F(LeaderElectionTest, ALeaderKilledMidRunbookIsReplacedByOneThatResumesTheRun) {
  StartEtcd();
  const std::string marker = lab_.dir + "/blocked";
  const pid_t a = StartController(
      "a", "automatic",
      {{"PILOTLIGHT_TEST_BLOCK_STEP", "before:promote"}, {"PILOTLIGHT_TEST_BLOCK_MARKER", marker}});
  ASSERT_TRUE(WaitFor(30s, [&] { return Role("a") == "leading"; })) << Logs();
  StartController("b", "automatic");
  ASSERT_TRUE(WaitFor(30s, [&] { return Role("b") == "following"; })) << Logs();
  // The primary's agent holds the lease granted by the leader.
  ASSERT_TRUE(WaitFor(20s,
                      [&] {
                        json s = Status();
                        return s.is_object() && s["lease"].is_object() &&
                               !s["lease"]["expires_at"].is_null() &&
                               s["readiness"]["ready"] == true;
                      }))
      << Logs() << ReadAll(lab_.dir + "/primary/agent.log");

  testing::CommandResult k = RunPilotlight(lab_.Args({"kill-region", "primary"}));
  ASSERT_EQ(k.exit_code, 0) << k.err;
  ASSERT_TRUE(WaitFor(90s, [&] { return access(marker.c_str(), F_OK) == 0; })) << Logs();
  std::vector<json> runs = FailoverRuns();
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0]["outcome"], "unfinished");
  // The follower does not touch the run while the leader lives.
  EXPECT_EQ(Role("b"), "following");

  Kill(a, SIGKILL);
  ASSERT_TRUE(WaitFor(std::chrono::seconds(kTtlSeconds + 3), [&] {
    return Role("b") == "leading";
  })) << Logs();
  ASSERT_TRUE(WaitFor(90s,
                      [&] {
                        std::vector<json> r = FailoverRuns();
                        return r.size() == 1 && r[0]["outcome"] == "succeeded";
                      }))
      << History().dump(2) << Logs();
  EXPECT_NE(ReadAll(Log("b")).find("resuming the interrupted failover run"), std::string::npos)
      << Logs();
  // Exactly one run, every step finished once.
  std::map<int, int> finished;
  const std::vector<json> done = FailoverRuns();
  ASSERT_EQ(done.size(), 1u);
  for (const json& s : done[0]["steps"]) {
    const std::string outcome = s["outcome"];
    if (outcome == "succeeded" || outcome == "skipped") ++finished[s["index"].get<int>()];
  }
  EXPECT_EQ(finished.size(), 6u) << History().dump(2);
  for (const auto& [index, n] : finished) EXPECT_EQ(n, 1) << "step " << index;
}

TEST_F(LeaderElectionTest, EtcdUnreachableAtStartIsSaidAndNothingIsGrantedUntilItAnswers) {
  // etcd is not started yet: nothing listens on its port.
  StartController("a", "automatic");
  ASSERT_TRUE(WaitFor(20s, [&] {
    return ReadAll(Log("a")).find("cannot reach etcd at " + EtcdUrl()) != std::string::npos;
  })) << Logs();
  EXPECT_NE(ReadAll(Log("a")).find("will not act until it leads through etcd"), std::string::npos);
  // Several cycles observed (its own status file moves on), none of them acting.
  ASSERT_TRUE(WaitFor(20s, [&] { return Own("a").is_object(); })) << Logs();
  for (int i = 0; i < 5; ++i) {
    const std::string at = Own("a")["at"];
    ASSERT_TRUE(WaitFor(5s, [&] { return Own("a")["at"] != at; })) << Logs();
    EXPECT_EQ(Role("a"), "campaigning");
  }
  EXPECT_NE(Own("a")["leadership"]["detail"].get<std::string>().find(EtcdUrl()), std::string::npos);
  EXPECT_TRUE(Own("a")["lease"]["expires_at"].is_null()) << "granted a write lease";
  EXPECT_FALSE(std::filesystem::exists(lab_.dir + "/controller/lease.endpoint"));
  EXPECT_FALSE(std::filesystem::exists(lab_.dir + "/controller/status.json"));

  // etcd comes up: it leads, publishes its lease endpoint, the agent gets the lease.
  StartEtcd();
  ASSERT_TRUE(WaitFor(20s, [&] { return Role("a") == "leading"; })) << Logs();
  ASSERT_TRUE(WaitFor(20s,
                      [&] {
                        json s = Status();
                        return s.is_object() && s["lease"].is_object() &&
                               !s["lease"]["expires_at"].is_null();
                      }))
      << Logs() << ReadAll(lab_.dir + "/primary/agent.log");
}

}  // namespace
}  // namespace pilotlight
