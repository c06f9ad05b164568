#include "sys/process.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "testing/scratch_dir.h"

namespace pilotlight::sys {
namespace {

using pilotlight::testing::ScratchDir;

TEST(ProcessTest, PidFileRoundTripsAndRejectsGarbage) {
  ScratchDir scratch("sys-test");
  const std::string dir = scratch.path();
  ASSERT_TRUE(WritePidFile(dir + "/x.pid", 4242).ok());
  Result<pid_t> pid = ReadPidFile(dir + "/x.pid");
  ASSERT_TRUE(pid.ok());
  EXPECT_EQ(*pid, 4242);
  std::ofstream(dir + "/bad.pid") << "not a pid\n";
  EXPECT_EQ(ReadPidFile(dir + "/bad.pid").status().code(), Status::Code::kCorruption);
  EXPECT_EQ(ReadPidFile(dir + "/missing.pid").status().code(), Status::Code::kNotFound);
}

TEST(ProcessTest, PortCheckSeesAListener) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  socklen_t len = sizeof sa;
  getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  const uint16_t port = ntohs(sa.sin_port);
  Status busy = CheckPortFree("127.0.0.1", port);
  EXPECT_EQ(busy.code(), Status::Code::kAlreadyExists);
  EXPECT_NE(busy.message().find(std::to_string(port)), std::string::npos);
  close(fd);
  EXPECT_TRUE(CheckPortFree("127.0.0.1", port).ok());
  EXPECT_EQ(CheckPortFree("not-an-ip", port).code(), Status::Code::kInvalidArgument);
}

TEST(ProcessTest, DaemonRunsInItsOwnGroupAndDiesBySignal) {
  ScratchDir scratch("sys-test");
  const std::string dir = scratch.path();
  Result<pid_t> pid = SpawnDaemon({{"/bin/sleep", "30"}, dir + "/sleep.log", std::nullopt});
  ASSERT_TRUE(pid.ok()) << pid.status().ToString();
  EXPECT_TRUE(ProcessAlive(*pid));
  EXPECT_EQ(getpgid(*pid), *pid);
  EXPECT_NE(ProcessCommandLine(*pid).find("sleep 30"), std::string::npos);
  SignalGroup(*pid, SIGKILL);
  EXPECT_TRUE(WaitGroupGone(*pid, std::chrono::seconds(5)));
  EXPECT_FALSE(ProcessAlive(*pid));
}

TEST(ProcessTest, ExecFailureAndNonZeroExitAreReported) {
  ScratchDir scratch("sys-test");
  const std::string dir = scratch.path();
  Result<pid_t> missing = SpawnDaemon({{"/nonexistent/binary"}, dir + "/log", std::nullopt});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("/nonexistent/binary"), std::string::npos);

  Status failed = RunToCompletion(
      {{"/bin/sh", "-c", "echo the-reason-it-failed; exit 3"}, dir + "/log", std::nullopt},
      std::chrono::seconds(10));
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.message().find("status 3"), std::string::npos) << failed.message();
  EXPECT_NE(failed.message().find("the-reason-it-failed"), std::string::npos) << failed.message();
}

TEST(ProcessTest, MissingBinaryNamesTheDebianPackage) {
  Result<std::string> r = FindBinary({"/nonexistent/redis-server"}, "redis-server");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("apt-get install redis-server"), std::string::npos);
  EXPECT_TRUE(FindBinary({"/nonexistent/sh", "/bin/sh"}, "dash").ok());
}

}  // namespace
}  // namespace pilotlight::sys
