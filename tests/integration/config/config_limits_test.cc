// `pilotlight config validate` refuses what is not a config file quickly and
// clearly (issue #14, item 7). Before: /dev/zero was read until std::bad_alloc
// aborted the process at 2.1 GB of memory, and a FIFO hung the command forever.
// Each case runs the real binary under timeout(1): a kill by the timeout or an
// abort fails the test.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "test_util.h"
#include "testing/scratch_dir.h"

namespace pilotlight {
namespace {

using pilotlight::testing::ScratchDir;

using testing::Quote;
using testing::ReadAll;

struct Outcome {
  int exit_code = -1;  // 124: killed by the timeout; 134: aborted
  std::string err;
  std::chrono::milliseconds took{0};
};

// Runs `pilotlight config validate FILE` with stdin from /dev/null, killed after
// `limit_s` seconds, capped at 2 GiB of address space (so a regression fails
// fast instead of eating the machine's memory).
Outcome Validate(const std::string& file, int limit_s = 10) {
  char err_path[] = "/tmp/pilotlight-config-limits-XXXXXX";
  const int fd = mkstemp(err_path);
  if (fd >= 0) close(fd);
  const std::string cmd = "ulimit -v 2097152; exec timeout -s KILL " + std::to_string(limit_s) +
                          " " + Quote(PILOTLIGHT_BIN) + " config validate " + Quote(file) +
                          " </dev/null >/dev/null 2>" + Quote(err_path);
  const auto start = std::chrono::steady_clock::now();
  const int st = std::system(cmd.c_str());
  Outcome o;
  o.took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 start);
  o.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  o.err = ReadAll(err_path);
  unlink(err_path);
  return o;
}

class ConfigLimitsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = scratch_.path();
  }
  ScratchDir scratch_{"config-limits-dir"};
  std::string dir_;
};

TEST_F(ConfigLimitsTest, DevZeroIsOneClearErrorNotAnAbort) {
  const Outcome o = Validate("/dev/zero");
  EXPECT_EQ(o.exit_code, 1) << "124: killed by the timeout, 137: by SIGKILL, 134: aborted\n"
                            << o.err;
  EXPECT_NE(o.err.find("/dev/zero: expected a readable config file, found a character device, "
                       "not a regular file"),
            std::string::npos)
      << o.err;
  EXPECT_NE(o.err.find("1 error(s) in /dev/zero"), std::string::npos) << o.err;
  // Informational: the issue asks for an answer within a second.
  std::printf("config validate /dev/zero answered in %lld ms\n",
              static_cast<long long>(o.took.count()));
}

TEST_F(ConfigLimitsTest, FifoIsOneClearErrorNotAHang) {
  const std::string fifo = dir_ + "/lab.yaml";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  const Outcome o = Validate(fifo);
  EXPECT_EQ(o.exit_code, 1) << o.err;
  EXPECT_NE(o.err.find(fifo + ": expected a readable config file, found a FIFO (named pipe), not "
                              "a regular file"),
            std::string::npos)
      << o.err;
}

TEST_F(ConfigLimitsTest, OversizedFileIsOneClearError) {
  const std::string big = dir_ + "/big.yaml";
  {
    std::ofstream out(big);
    out << "platform: lab\n# " << std::string(5 * 1024 * 1024, 'x') << "\n";
  }
  const Outcome o = Validate(big);
  EXPECT_EQ(o.exit_code, 1) << o.err;
  EXPECT_NE(o.err.find(big + ": expected a readable config file, found more than 4 MiB"),
            std::string::npos)
      << o.err;
}

TEST_F(ConfigLimitsTest, InvalidUtf8IsReportedAtItsLineAndColumn) {
  const std::string file = dir_ + "/latin1.yaml";
  std::ofstream(file) << "platform: lab\nregions:\n  - name: caf\xe9\n";
  const Outcome o = Validate(file);
  EXPECT_EQ(o.exit_code, 1) << o.err;
  EXPECT_NE(o.err.find(file + ":3:14: expected UTF-8 text, found the byte 0xe9"), std::string::npos)
      << o.err;
}

}  // namespace
}  // namespace pilotlight
