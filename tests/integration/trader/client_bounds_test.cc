// What a client can hold of the trading service (http/client_bounds.h), tried as
// an attacker on the same host would: 600 connections that send an order's
// headers and never its body (or a chunked body that never ends) are each
// closed within the request deadline, while a real client's orders keep
// succeeding; one address over its share is refused while another still gets in.
//
// The instance under attack is one of the test's own (`trader serve` on its own
// port, a 2 s request deadline) beside the lab's. PILOTLIGHT_TRADER_BIN runs it
// from another build (e.g. main's, to watch the attack succeed there; flags that
// build does not know must then be dropped by a wrapper script).
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "lab_fixture.h"
#include "trader/api_keys.h"
#include "trader/http_client.h"

namespace pilotlight {
namespace {

using nlohmann::json;
using testing::ReadAll;
using testing::RunPilotlight;
using testing::TestLab;
using testing::WaitFor;
using trader::HttpClient;
using trader::HttpResult;
using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

constexpr auto kRequestDeadline = 2s;
constexpr int kMaxConnections = 512;
constexpr int kPerClient = 128;

std::string NetOf(const std::string& address) {  // "127.N.1.1" -> "127.N"
  return address.substr(0, address.find('.', 4));
}

// A TCP connection from `source` to address:port (blocking connect), or -1.
int ConnectFrom(const std::string& source, const std::string& address, uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in from{};
  from.sin_family = AF_INET;
  inet_pton(AF_INET, source.c_str(), &from.sin_addr);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  inet_pton(AF_INET, address.c_str(), &to.sin_addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0 ||
      connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// One GET /healthz from `source`; the status, or -1 when the connection was
// refused or closed without an answer.
int HealthzFrom(const std::string& source, const std::string& address, uint16_t port) {
  const int fd = ConnectFrom(source, address, port);
  if (fd < 0) return -1;
  const std::string req = "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string got;
  if (write(fd, req.data(), req.size()) == static_cast<ssize_t>(req.size())) {
    char buf[512];
    ssize_t n;
    while (got.size() < 12 && (n = read(fd, buf, sizeof buf)) > 0) got.append(buf, n);
  }
  close(fd);
  if (got.size() < 12 || got.compare(0, 5, "HTTP/") != 0) return -1;
  return std::stoi(got.substr(9, 3));
}

// Keeps `n` connections from `source`, each opened with `opening` (headers of a
// request whose body never comes) and, when `drip`, fed one more chunk of a
// chunked body every 200 ms so that it is never idle. A connection the server
// closes is reopened 50 ms later. Counts what the server did to them.
class SlowFlood {
 public:
  SlowFlood(std::string source, std::string address, uint16_t port, int n, std::string opening,
            bool drip)
      : source_(std::move(source)), address_(std::move(address)), port_(port), n_(n),
        opening_(std::move(opening)), drip_(drip) {
    thread_ = std::thread([this] { Run(); });
  }
  ~SlowFlood() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int opened() const { return opened_; }
  int refused() const { return refused_; }           // answered 503 (or reset) at once
  int cut_off() const { return cut_off_; }           // held, then closed by the server
  int answered_other() const { return other_; }      // got some other answer (413, 400...)
  // The longest any connection was held open, closed or still open.
  std::chrono::milliseconds longest_held() const {
    std::lock_guard<std::mutex> lock(mu_);
    auto longest = longest_;
    const auto now = SteadyClock::now();
    for (const Conn& c : conns_) {
      longest = std::max(longest,
                         std::chrono::duration_cast<std::chrono::milliseconds>(now - c.opened));
    }
    return longest;
  }

 private:
  struct Conn {
    int fd;
    SteadyClock::time_point opened;
    SteadyClock::time_point dripped;
    std::string got;
  };

  void Run() {
    std::vector<SteadyClock::time_point> reopen_at;  // closed ones, reopened 50 ms later
    while (!stop_) {
      const auto now = SteadyClock::now();
      {
        std::lock_guard<std::mutex> lock(mu_);
        std::vector<SteadyClock::time_point> later;
        int due = n_ - static_cast<int>(conns_.size()) - static_cast<int>(reopen_at.size());
        for (auto t : reopen_at) {
          if (t <= now) {
            ++due;
          } else {
            later.push_back(t);
          }
        }
        reopen_at.swap(later);
        for (int i = 0; i < due; ++i) {
          const int fd = ConnectFrom(source_, address_, port_);
          if (fd < 0) {
            reopen_at.push_back(now + 50ms);
            continue;
          }
          ++opened_;
          (void)!write(fd, opening_.data(), opening_.size());
          fcntl(fd, F_SETFL, O_NONBLOCK);
          conns_.push_back({fd, now, now, ""});
        }
      }
      std::vector<pollfd> pfds;
      {
        std::lock_guard<std::mutex> lock(mu_);
        for (const Conn& c : conns_) pfds.push_back({c.fd, POLLIN, 0});
      }
      poll(pfds.data(), pfds.size(), 20);
      std::lock_guard<std::mutex> lock(mu_);
      std::vector<Conn> kept;
      for (size_t i = 0; i < conns_.size(); ++i) {
        Conn& c = conns_[i];
        bool gone = false;
        if (pfds[i].revents & (POLLIN | POLLHUP | POLLERR)) {
          char buf[1024];
          const ssize_t r = read(c.fd, buf, sizeof buf);
          if (r > 0) {
            c.got.append(buf, static_cast<size_t>(r));
          } else {
            gone = true;
          }
        }
        if (!gone && drip_ && SteadyClock::now() - c.dripped > 200ms) {
          if (write(c.fd, "1\r\nx\r\n", 6) < 0 && errno != EAGAIN) gone = true;
          c.dripped = SteadyClock::now();
        }
        if (!gone) {
          kept.push_back(c);
          continue;
        }
        const auto held =
            std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - c.opened);
        if (c.got.rfind("HTTP/1.1 503", 0) == 0 || (c.got.empty() && held < 200ms)) {
          ++refused_;
        } else if (!c.got.empty()) {
          ++other_;
          longest_ = std::max(longest_, held);
        } else {
          ++cut_off_;
          longest_ = std::max(longest_, held);
        }
        close(c.fd);
        reopen_at.push_back(SteadyClock::now() + 50ms);
      }
      conns_.swap(kept);
    }
    std::lock_guard<std::mutex> lock(mu_);
    for (const Conn& c : conns_) close(c.fd);
    conns_.clear();
  }

  const std::string source_, address_;
  const uint16_t port_;
  const int n_;
  const std::string opening_;
  const bool drip_;
  std::atomic<bool> stop_{false};
  std::atomic<int> opened_{0}, refused_{0}, cut_off_{0}, other_{0};
  mutable std::mutex mu_;
  std::vector<Conn> conns_;
  std::chrono::milliseconds longest_{0};
  std::thread thread_;
};

// `trader serve` of the lab's primary region on a port of its own, stopped
// (SIGTERM: its drain) at the end.
class OwnTrader {
 public:
  OwnTrader(const TestLab& lab, uint16_t port)
      : log_(lab.dir + "/trader-bounds-" + std::to_string(port) + ".log") {
    const char* bin = getenv("PILOTLIGHT_TRADER_BIN");
    const std::string exe = bin != nullptr ? bin : PILOTLIGHT_BIN;
    std::vector<std::string> args = {exe,
                                     "trader",
                                     "serve",
                                     "--config",
                                     lab.dir + "/config.yaml",
                                     "--region",
                                     "primary",
                                     "--dir",
                                     lab.dir,
                                     "--instance",
                                     "trader-bounds",
                                     "--port",
                                     std::to_string(port),
                                     "--request-deadline",
                                     std::to_string(kRequestDeadline.count()) + "s",
                                     "--max-connections",
                                     std::to_string(kMaxConnections),
                                     "--max-connections-per-client",
                                     std::to_string(kPerClient)};
    pid_ = fork();
    if (pid_ == 0) {
      const int fd = open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(fd, 1);
      dup2(fd, 2);
      rlimit rl{4096, 4096};
      setrlimit(RLIMIT_NOFILE, &rl);
      std::vector<char*> argv;
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(exe.c_str(), argv.data());
      _exit(127);
    }
  }
  ~OwnTrader() { Stop(); }
  bool WaitListening() {
    return WaitFor(60s, [&] { return ReadAll(log_).find(" listening on ") != std::string::npos; });
  }
  int Stop() {
    if (pid_ <= 0) return -1;
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  std::string log() const { return ReadAll(log_); }

 private:
  std::string log_;
  pid_t pid_ = -1;
};

class ClientBoundsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    rlimit rl{};
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = std::min<rlim_t>(rl.rlim_max, 8192);
    setrlimit(RLIMIT_NOFILE, &rl);
    lab_ = new TestLab(testing::MakeTestLab("", /*trader_production_size=*/1,
                                            /*trader_pilot_light_size=*/1));
    testing::CommandResult up = RunPilotlight(lab_->Args({"up"}));
    ASSERT_EQ(up.exit_code, 0) << up.err;
  }
  static void TearDownTestSuite() {
    lab_->Destroy();
    delete lab_;
    lab_ = nullptr;
  }
  static TestLab* lab_;
};
TestLab* ClientBoundsTest::lab_ = nullptr;

TEST_F(ClientBoundsTest, NeverFinishedBodiesAreCutOffAndOrdersKeepSucceeding) {
  const uint16_t port = testing::PickPort(lab_->primary_address);
  OwnTrader trader(*lab_, port);
  ASSERT_TRUE(trader.WaitListening()) << trader.log();
  const std::string net = NetOf(lab_->primary_address);
  const std::string attacker = net + ".1.101";
  const std::string other = net + ".1.102";

  // The real client logs in before the flood (its session), then orders during it.
  HttpClient client(lab_->primary_address, port, 5s);
  Result<std::map<std::string, std::string>> keys =
      trader::ReadApiKeysFile(lab_->dir + "/secrets/api-keys");  // the lab's load accounts
  ASSERT_TRUE(keys.ok() && keys->count("load-0")) << keys.status().ToString();
  Result<HttpResult> login = client.Request(
      "POST", "/v1/sessions", json({{"account", "load-0"}, {"api_key", keys->at("load-0")}}).dump());
  ASSERT_TRUE(login.ok() && login->status == 201) << (login.ok() ? login->body : login.status().ToString());
  const std::string token = json::parse(login->body)["token"];
  client.Close();  // it connects again during the flood, as a new client would

  const std::string order_headers =
      "POST /v1/orders HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer x\r\n"
      "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"client_order_id\"";
  const std::string chunked_headers =
      "POST /v1/orders HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n{\r\n";
  SlowFlood bodies(attacker, lab_->primary_address, port, 500, order_headers, /*drip=*/false);
  SlowFlood chunks(attacker, lab_->primary_address, port, 100, chunked_headers, /*drip=*/true);
  ASSERT_TRUE(WaitFor(30s, [&] { return bodies.opened() >= 500 && chunks.opened() >= 100; }));

  // Another address still gets in while the attacker holds (more than) its share.
  const int other_status = HealthzFrom(other, lab_->primary_address, port);

  // Orders for 3 request deadlines, one after another, each on a fresh connection.
  std::vector<double> latencies_ms;
  int ok = 0, failed = 0;
  std::string last_failure;
  const auto until = SteadyClock::now() + 3 * kRequestDeadline;
  for (int i = 0; SteadyClock::now() < until; ++i) {
    const auto start = SteadyClock::now();
    Result<HttpResult> r = client.Request(
        "POST", "/v1/orders",
        json({{"client_order_id", "bounds-" + std::to_string(i)}, {"symbol", "SPY"},
              {"side", i % 2 ? "buy" : "sell"}, {"price", 100.0 + (i % 5) * 0.01}, {"qty", 1}})
            .dump(),
        {{"Authorization", "Bearer " + token}});
    latencies_ms.push_back(
        std::chrono::duration<double, std::milli>(SteadyClock::now() - start).count());
    if (r.ok() && r->status == 201) {
      ++ok;
    } else {
      ++failed;
      last_failure = r.ok() ? std::to_string(r->status) + " " + r->body : r.status().ToString();
    }
    if (i % 10 == 9) client.Close();
  }
  const auto longest = std::max(bodies.longest_held(), chunks.longest_held());
  const int cut_off = bodies.cut_off() + chunks.cut_off();
  const int refused = bodies.refused() + chunks.refused();
  bodies.Stop();
  chunks.Stop();
  std::sort(latencies_ms.begin(), latencies_ms.end());
  const double p50 = latencies_ms.empty() ? 0 : latencies_ms[latencies_ms.size() / 2];
  const double p99 = latencies_ms.empty() ? 0 : latencies_ms[latencies_ms.size() * 99 / 100];
  std::printf(
      "during the flood: %d orders ok, %d failed, p50 %.1f ms, p99 %.1f ms, max %.1f ms; flood: "
      "%d opened, %d cut off by the deadline, %d refused at the accept (share %d), %d other "
      "answers; longest held %lld ms (deadline %lld ms)\n",
      ok, failed, p50, p99, latencies_ms.empty() ? 0 : latencies_ms.back(),
      bodies.opened() + chunks.opened(), cut_off, refused, kPerClient,
      bodies.answered_other() + chunks.answered_other(),
      static_cast<long long>(longest.count()),
      static_cast<long long>(std::chrono::milliseconds(kRequestDeadline).count()));

  EXPECT_EQ(failed, 0) << "last failure: " << last_failure;
  EXPECT_GT(ok, 0);
  EXPECT_EQ(other_status, 200) << "another address could not get in during the flood";
  // Every never-finished request was closed by the server, none held past the
  // deadline (plus slack for a busy machine: the flood ran 3 deadlines).
  EXPECT_GT(cut_off, 0);
  EXPECT_LT(longest, kRequestDeadline + 3s);
  // The attacker's address was held to its share: the rest were refused.
  EXPECT_GT(refused, 0);

  // The drain still works after the flood: SIGTERM, exit 0.
  EXPECT_EQ(trader.Stop(), 0) << trader.log();
  EXPECT_NE(trader.log().find("trader: drained"), std::string::npos) << trader.log();
}

TEST_F(ClientBoundsTest, OversizedBodyAndHeadersAreRefusedBeforeTheyAreRead) {
  const uint16_t port = testing::PickPort(lab_->primary_address);
  OwnTrader trader(*lab_, port);
  ASSERT_TRUE(trader.WaitListening()) << trader.log();
  const std::string source = NetOf(lab_->primary_address) + ".1.103";
  auto first_line = [&](const std::string& request) {
    const int fd = ConnectFrom(source, lab_->primary_address, port);
    if (fd < 0) return std::string("no connection");
    timeval tv{10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    (void)!write(fd, request.data(), request.size());
    std::string got;
    char buf[1024];
    ssize_t n;
    while (got.find("\r\n") == std::string::npos && (n = read(fd, buf, sizeof buf)) > 0) {
      got.append(buf, n);
    }
    close(fd);
    return got.substr(0, got.find("\r\n"));
  };
  // A body announced at 1 MB, never sent: 413 at once, not after the deadline.
  EXPECT_EQ(first_line("POST /v1/orders HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\n\r\n"),
            "HTTP/1.1 413 Payload Too Large");
  EXPECT_EQ(first_line("GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(9000, 'a') +
                       "\r\n\r\n"),
            "HTTP/1.1 431 Request Header Fields Too Large");
}

}  // namespace
}  // namespace pilotlight
