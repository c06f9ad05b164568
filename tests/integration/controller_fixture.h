// A test lab with `pilotlight controller run` (and whatever else the test
// starts: a manual failover, etcd) running on it as child processes: start
// them, read the controller's status and journal, wait until it is steady,
// stop them. Used by the controller, failback and leader end-to-end tests.
// One test thread: neither ChildProcesses nor ControllerLabFixture is thread-safe.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "lab_fixture.h"

namespace pilotlight::testing {

// The child processes a test started; each still running is stopped (and
// reaped) by StopAll() or when this goes away.
class ChildProcesses {
 public:
  ChildProcesses() = default;
  ChildProcesses(const ChildProcesses&) = delete;
  ChildProcesses& operator=(const ChildProcesses&) = delete;
  ~ChildProcesses() { StopAll(SIGKILL); }

  // Starts `bin` with `args` and `env` added to the environment, its stdout and
  // stderr appended to `log`.
  pid_t Spawn(const std::string& bin, const std::vector<std::string>& args, const std::string& log,
              const std::map<std::string, std::string>& env = {}) {
    const pid_t pid = fork();
    if (pid == 0) {
      for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
      FILE* f = fopen(log.c_str(), "a");
      if (f != nullptr) {
        dup2(fileno(f), 1);
        dup2(fileno(f), 2);
      }
      std::vector<std::string> copy = args;
      copy.insert(copy.begin(), bin);
      std::vector<char*> argv;
      for (std::string& a : copy) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(bin.c_str(), argv.data());
      _exit(127);
    }
    if (pid > 0) pids_.insert(pid);
    return pid;
  }
  // The pilotlight binary under test.
  pid_t SpawnPilotlight(const std::vector<std::string>& args, const std::string& log,
                        const std::map<std::string, std::string>& env = {}) {
    return Spawn(PILOTLIGHT_BIN, args, log, env);
  }

  // Sends `sig` to a child started here and waits for it to exit; a pid not
  // (or no longer) ours is left alone.
  void Kill(pid_t pid, int sig = SIGKILL) {
    if (pids_.erase(pid) == 0) return;
    kill(pid, sig);
    int st;
    waitpid(pid, &st, 0);
  }
  // Every child still running: continued (a SIGSTOPped one could not act on
  // `sig`), sent `sig`, and reaped.
  void StopAll(int sig) {
    for (pid_t pid : std::set<pid_t>(pids_)) {
      kill(pid, SIGCONT);
      Kill(pid, sig);
    }
  }

 private:
  std::set<pid_t> pids_;
};

// A gtest fixture: a lab of the test's own, up, with controllers and other
// pilotlight processes the test starts on it. SetUp of the derived fixture
// calls BringUp(); TearDown stops every child with `stop_signal_` and
// destroys the lab.
class ControllerLabFixture : public ::testing::Test {
 protected:
  using json = nlohmann::json;

  void TearDown() override {
    children_.StopAll(stop_signal_);
    lab_.Destroy();
  }

  // Makes `lab` this test's lab and brings it up.
  void BringUp(TestLab lab) {
    lab_ = std::move(lab);
    CommandResult up = RunPilotlight(lab_.Args({"up"}));
    ASSERT_EQ(up.exit_code, 0) << up.err;
  }

  // `cmd` with "--dir DIR --config CONFIG" of the lab.
  std::vector<std::string> Common(std::vector<std::string> cmd) const {
    cmd.insert(cmd.end(), {"--dir", lab_.dir, "--config", lab_.config});
    return cmd;
  }
  // Starts pilotlight with `args` in the background, its output in `log`.
  pid_t Spawn(const std::vector<std::string>& args, const std::string& log,
              const std::map<std::string, std::string>& env = {}) {
    return children_.SpawnPilotlight(args, log, env);
  }
  void Kill(pid_t pid, int sig = SIGKILL) { children_.Kill(pid, sig); }

  // `pilotlight controller run` on the lab with `flags` after the lab's own,
  // its output in controller.log of the lab.
  pid_t StartController(const std::vector<std::string>& flags,
                        const std::map<std::string, std::string>& env = {}) {
    std::vector<std::string> args = Common({"controller", "run"});
    args.insert(args.end(), flags.begin(), flags.end());
    return Spawn(args, ControllerLogPath(), env);
  }
  std::string ControllerLogPath() const { return lab_.dir + "/controller.log"; }
  std::string ControllerLog() const { return ReadAll(ControllerLogPath()); }

  // A JSON file, parsed (discarded JSON when missing or partly written).
  static json ReadJson(const std::string& path) {
    std::ifstream in(path);
    return json::parse(in, nullptr, /*allow_exceptions=*/false);
  }
  // The leading controller's controller/status.json.
  json Status() const { return ReadJson(lab_.dir + "/controller/status.json"); }

  // The controller sees the primary healthy (its decision's reason starts with
  // `healthy_reason`) and DR ready; then the primary region's agent holds the
  // write lease the controller grants.
  void WaitUntilSteady(const std::string& healthy_reason, std::chrono::milliseconds decide_timeout,
                       std::chrono::milliseconds lease_timeout) {
    ASSERT_TRUE(WaitFor(decide_timeout,
                        [&] {
                          json s = Status();
                          return s.is_object() &&
                                 s["decision"]["reason"].get<std::string>().find(healthy_reason) !=
                                     std::string::npos &&
                                 s["readiness"]["ready"] == true;
                        }))
        << Status().dump(2) << ControllerLog();
    ASSERT_TRUE(WaitFor(lease_timeout,
                        [&] {
                          json s = Status();
                          return s.is_object() && s["lease"].is_object() &&
                                 !s["lease"]["expires_at"].is_null() &&
                                 s["lease"]["revoked"] == false;
                        }))
        << Status().dump(2) << ReadAll(lab_.dir + "/primary/agent.log");
  }

  // `pilotlight history --json` of the lab: the journal's runs, newest first.
  json History() const {
    CommandResult h = RunPilotlight(Common({"history", "--json", "--limit", "50"}));
    return json::parse(h.out, nullptr, /*allow_exceptions=*/false);
  }
  // The journal's runs of `runbook` ("failover", "failback"), newest first.
  std::vector<json> Runs(const std::string& runbook) const {
    std::vector<json> out;
    json h = History();
    if (!h.is_array()) return out;
    for (const json& run : h) {
      if (run["runbook"] == runbook) out.push_back(run);
    }
    return out;
  }

  TestLab lab_;
  ChildProcesses children_;
  int stop_signal_ = SIGKILL;  // what TearDown sends the children still running
};

}  // namespace pilotlight::testing
