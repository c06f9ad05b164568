#include "testing/ports.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <set>

namespace pilotlight::testing {
namespace {

sockaddr_in Loopback(uint16_t port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return sa;
}

int Listen(uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in sa = Loopback(port);
  if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || listen(fd, 4) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

TEST(ClosedPortTest, RefusesConnectionsAndCannotBeTakenWhileHeld) {
  ClosedPort closed;
  ASSERT_NE(closed.port(), 0);
  const int c = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa = Loopback(closed.port());
  EXPECT_NE(connect(c, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  EXPECT_EQ(errno, ECONNREFUSED);
  close(c);
  EXPECT_EQ(Listen(closed.port()), -1) << "another server could take the port";
}

int BlockOf(uint16_t port) { return (port - 20000) / 64; }

TEST(PickPortTest, HandsOutPortsOfItsOwnBlockOnce) {
  std::set<uint16_t> seen;
  const uint16_t first = PickPort();
  for (int i = 0; i < 63; ++i) {
    const uint16_t p = PickPort();
    EXPECT_GE(p, 20000);
    EXPECT_LT(p, 32768);  // below the ephemeral range
    EXPECT_EQ(BlockOf(p), BlockOf(first));
    EXPECT_TRUE(seen.insert(p).second) << p << " handed out twice";
  }
}

TEST(PickPortTest, SkipsAPortSomethingHolds) {
  const uint16_t held = PickPort();
  const int fd = Listen(held);
  ASSERT_GE(fd, 0);
  for (int i = 0; i < 64; ++i) EXPECT_NE(PickPort(), held);
  close(fd);
}

TEST(PickPortTest, AnotherProcessDrawsFromAnotherBlock) {
  const uint16_t mine = PickPort();
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {  // a forked child inherits the parent's claim and must not use it
    const uint16_t theirs = PickPort();
    _exit(write(pipe_fds[1], &theirs, sizeof theirs) == sizeof theirs ? 0 : 1);
  }
  uint16_t theirs = 0;
  ASSERT_EQ(read(pipe_fds[0], &theirs, sizeof theirs), static_cast<ssize_t>(sizeof theirs));
  int status = 0;
  waitpid(pid, &status, 0);
  close(pipe_fds[0]);
  close(pipe_fds[1]);
  EXPECT_NE(BlockOf(theirs), BlockOf(mine)) << "mine " << mine << ", theirs " << theirs;
}

}  // namespace
}  // namespace pilotlight::testing
