// Prometheus /metrics of a running `pilotlight watch`, scraped over plain HTTP
// with a socket: the check's healthy gauge and its alarm's state follow a real
// local server going down; /healthz answers; other methods and paths get 405
// and 404; a bad --metrics-listen is refused before anything starts.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>

#include "health/test_servers.h"
#include "test_util.h"

extern char** environ;

namespace pilotlight {
namespace {

using namespace std::chrono_literals;
using testing::CommandResult;
using testing::ReadAll;
using testing::RunPilotlight;
using testing::WaitFor;

struct HttpReply {
  int status = -1;
  std::string head;
  std::string body;
};

// One request over a fresh connection (Connection: close), read to the end.
HttpReply Request(uint16_t port, const std::string& method, const std::string& path) {
  HttpReply reply;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    close(fd);
    return reply;
  }
  const std::string req =
      method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  if (send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    close(fd);
    return reply;
  }
  std::string all;
  char buf[8192];
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    all.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  const size_t end = all.find("\r\n\r\n");
  if (all.compare(0, 9, "HTTP/1.1 ") != 0 || end == std::string::npos) return reply;
  reply.status = std::stoi(all.substr(9, 3));
  reply.head = all.substr(0, end);
  reply.body = all.substr(end + 4);
  return reply;
}

// The value of the sample line `series` (name{labels}) in an exposition, or "".
std::string Sample(const std::string& text, const std::string& series) {
  const std::string prefix = series + " ";
  size_t at = 0;
  while ((at = text.find(prefix, at)) != std::string::npos) {
    if (at == 0 || text[at - 1] == '\n') {
      const size_t eol = text.find('\n', at);
      return text.substr(at + prefix.size(), eol - at - prefix.size());
    }
    at += prefix.size();
  }
  return "";
}

// `pilotlight watch` in the background, stopped with SIGTERM by the destructor.
class Watch {
 public:
  Watch(const std::vector<std::string>& args, const std::string& dir)
      : out_(dir + "/watch.out"), err_(dir + "/watch.err") {
    std::vector<std::string> argv = {PILOTLIGHT_BIN, "watch"};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> cargv;
    for (std::string& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (posix_spawn(&pid_, PILOTLIGHT_BIN, &fa, nullptr, cargv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&fa);
  }
  ~Watch() { Stop(); }

  bool running() const { return pid_ > 0; }
  std::string err() const { return ReadAll(err_); }
  std::string out() const { return ReadAll(out_); }

  // SIGTERM, then its exit status (-1 if it had to be killed).
  int Stop() {
    if (pid_ <= 0) return exit_;
    kill(pid_, SIGTERM);
    int st = 0;
    const bool exited = WaitFor(10s, [&] { return waitpid(pid_, &st, WNOHANG) == pid_; });
    if (!exited) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &st, 0);
    }
    exit_ = exited && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    pid_ = -1;
    return exit_;
  }

 private:
  std::string out_;
  std::string err_;
  pid_t pid_ = -1;
  int exit_ = -1;
};

class MetricsEndpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/pilotlight-metrics-XXXXXX";
    dir_ = mkdtemp(tmpl);
    config_ = dir_ + "/platform.yaml";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void WriteConfig(uint16_t http_port) {
    std::ofstream(config_) << "platform: metrics-endpoint\n"
                              "regions:\n"
                              "  - {name: primary, role: primary, address: 127.0.1.1}\n"
                              "  - {name: dr, role: dr, address: 127.0.2.1}\n"
                              "health_checks:\n"
                              "  - {name: web, type: http, host: 127.0.0.1, port: "
                           << http_port
                           << ", path: /ok, body_contains: ready, interval: 100ms,"
                              " failure_threshold: 2, success_threshold: 1}\n"
                              "alarms:\n"
                              "  - {name: web-down, check: web, period: 200ms}\n"
                              "detection:\n"
                              "  alarm_evaluation_interval: 50ms\n";
  }

  // The port `watch` printed it serves /metrics on.
  static uint16_t ServedPort(const Watch& w) {
    static const std::regex kLine(
        "serving Prometheus metrics at http://127\\.0\\.0\\.1:([0-9]+)/metrics");
    std::smatch m;
    const std::string err = w.err();
    if (!std::regex_search(err, m, kLine)) return 0;
    return static_cast<uint16_t>(std::stoi(m[1]));
  }

  std::string dir_;
  std::string config_;
};

TEST_F(MetricsEndpointTest, ScrapesFollowTheTargetGoingDown) {
  auto target = std::make_unique<health::testing::HttpTestServer>();
  WriteConfig(target->port());
  Watch watch({"--config", config_, "--metrics-listen", "127.0.0.1:0"}, dir_);
  ASSERT_TRUE(watch.running());
  uint16_t port = 0;
  ASSERT_TRUE(WaitFor(10s, [&] { return (port = ServedPort(watch)) != 0; })) << watch.err();

  const std::string healthy = "pilotlight_check_healthy{check=\"web\"}";
  const std::string ok = "pilotlight_alarm_state{alarm=\"web-down\",state=\"OK\"}";
  const std::string alarm = "pilotlight_alarm_state{alarm=\"web-down\",state=\"ALARM\"}";
  HttpReply scrape;
  ASSERT_TRUE(WaitFor(10s,
                      [&] {
                        scrape = Request(port, "GET", "/metrics");
                        return Sample(scrape.body, healthy) == "1" &&
                               Sample(scrape.body, ok) == "1";
                      }))
      << scrape.status << "\n"
      << scrape.body << watch.err();
  EXPECT_EQ(scrape.status, 200);
  EXPECT_NE(scrape.head.find("Content-Type: text/plain; version=0.0.4"), std::string::npos)
      << scrape.head;
  EXPECT_EQ(Sample(scrape.body, alarm), "0") << scrape.body;
  EXPECT_EQ(Sample(scrape.body, "pilotlight_check_state{check=\"web\",state=\"healthy\"}"), "1");
  EXPECT_NE(
      Sample(scrape.body, "pilotlight_probe_latency_seconds{check=\"web\",vantage=\"local\"}"), "")
      << scrape.body;
  EXPECT_NE(scrape.body.find("# TYPE pilotlight_check_healthy gauge\n"), std::string::npos);

  target.reset();  // the target goes down: its port now refuses connections
  ASSERT_TRUE(WaitFor(10s,
                      [&] {
                        scrape = Request(port, "GET", "/metrics");
                        return Sample(scrape.body, healthy) == "0" &&
                               Sample(scrape.body, alarm) == "1";
                      }))
      << scrape.body << watch.err();
  EXPECT_EQ(Sample(scrape.body, ok), "0");
  EXPECT_EQ(Sample(scrape.body, "pilotlight_check_state{check=\"web\",state=\"unhealthy\"}"), "1");

  EXPECT_EQ(Request(port, "GET", "/healthz").status, 200);
  EXPECT_EQ(Request(port, "POST", "/metrics").status, 405);
  EXPECT_EQ(Request(port, "GET", "/").status, 404);
  EXPECT_EQ(watch.Stop(), 0) << watch.err();
  // The transitions were printed as well, as without --metrics-listen.
  EXPECT_NE(watch.out().find("web-down"), std::string::npos) << watch.out();
}

TEST_F(MetricsEndpointTest, BadListenAddressIsRefused) {
  health::testing::HttpTestServer target;
  WriteConfig(target.port());
  CommandResult r = RunPilotlight(
      {"watch", "--config", config_, "--metrics-listen", "localhost", "--duration", "5s"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--metrics-listen"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("ADDRESS:PORT"), std::string::npos) << r.err;
}

TEST_F(MetricsEndpointTest, PortInUseIsAClearError) {
  health::testing::HttpTestServer target;
  WriteConfig(target.port());
  // The target's own port is taken.
  CommandResult r =
      RunPilotlight({"watch", "--config", config_, "--metrics-listen",
                     "127.0.0.1:" + std::to_string(target.port()), "--duration", "5s"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("cannot serve /metrics on 127.0.0.1:" + std::to_string(target.port())),
            std::string::npos)
      << r.err;
}

}  // namespace
}  // namespace pilotlight
