// Each probe kind against tiny local servers, including every kind of bad
// input: unreachable hosts, slow and endless responses, oversize headers, TLS
// to a plain port, DNS garbage. Each must fail with its reason, promptly.
#include "health/probes.h"

#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <optional>
#include <thread>

#include "health/test_servers.h"
#include "testing/ports.h"

namespace pilotlight::health {
namespace {

using namespace std::chrono_literals;
using pilotlight::testing::ClosedPort;
using testing::DnsTestServer;
using testing::HttpTestServer;

ProbeResult RunProbe(const CheckSpec& spec, const ProbeTarget& target) {
  boost::asio::io_context io;
  std::optional<ProbeResult> result;
  int calls = 0;
  StartProbe(io, SystemClock::Instance(), spec, target, [&](ProbeResult r) {
    result = std::move(r);
    ++calls;
  });
  io.run();  // returns once the probe has nothing left to wait for
  EXPECT_EQ(calls, 1);
  return result.value_or(ProbeResult{false, "no result", {}, {}, {}, std::nullopt, false});
}

CheckSpec Spec(ProbeKind kind, uint16_t port) {
  CheckSpec s;
  s.name = "t";
  s.kind = kind;
  s.host = "127.0.0.1";
  s.port = port;
  s.interval = 1s;
  s.timeout = 600ms;
  s.connect_timeout = 300ms;
  return s;
}

ProbeTarget Target(const CheckSpec& s) { return TargetFor(s, {"local", "", 0, "", ""}); }

TEST(TcpProbeTest, ConnectsAndReportsRefusal) {
  HttpTestServer server;
  CheckSpec s = Spec(ProbeKind::kTcp, server.port());
  ProbeResult ok = RunProbe(s, Target(s));
  EXPECT_TRUE(ok.ok) << ok.detail;
  EXPECT_LT(ok.latency, 300ms);

  const ClosedPort closed;
  s.port = closed.port();
  ProbeResult refused = RunProbe(s, Target(s));
  EXPECT_FALSE(refused.ok);
  EXPECT_NE(refused.detail.find("refused"), std::string::npos) << refused.detail;
  EXPECT_FALSE(refused.timed_out_after) << "a refusal is the target's definitive answer";
  EXPECT_EQ(VerdictOf(refused), ProbeVerdict::kFailed);
}

TEST(TcpProbeTest, BlackholeTimesOutAtTheConnectTimeout) {
  // A listener whose accept queue is full drops further SYNs: connect hangs.
  uint16_t port;
  int fd = testing::ListenTcp(&port, 0);
  std::vector<int> fillers;
  for (int i = 0; i < 4; ++i) {
    int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connect(c, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    fillers.push_back(c);
  }
  CheckSpec s = Spec(ProbeKind::kTcp, port);
  ProbeResult r = RunProbe(s, Target(s));
  for (int c : fillers) close(c);
  close(fd);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.detail.find("timed out after 300ms"), std::string::npos) << r.detail;
  EXPECT_LT(r.latency, 550ms);
  ASSERT_TRUE(r.timed_out_after);
  EXPECT_EQ(*r.timed_out_after, 300ms);
}

// Blocks `io`'s only thread for `d` once the probe has started: what a checker
// starved of CPU or stopped (SIGSTOP) looks like to its own timers.
ProbeResult RunProbeStarved(const CheckSpec& spec, const ProbeTarget& target, Duration d) {
  boost::asio::io_context io;
  std::optional<ProbeResult> result;
  StartProbe(io, SystemClock::Instance(), spec, target, [&](ProbeResult r) { result = r; });
  boost::asio::post(io, [d] { std::this_thread::sleep_for(d); });  // the fault, not a wait
  io.run();
  return result.value_or(ProbeResult{});
}

TEST(TcpProbeTest, ATimeoutOfAStarvedCheckerIsLateNotTheTargetsFailure) {
  uint16_t port;
  int fd = testing::ListenTcp(&port, 0);
  std::vector<int> fillers;
  for (int i = 0; i < 4; ++i) {
    int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connect(c, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    fillers.push_back(c);
  }
  CheckSpec s = Spec(ProbeKind::kTcp, port);
  ProbeResult r = RunProbeStarved(s, Target(s), 1500ms);
  for (int c : fillers) close(c);
  close(fd);
  ASSERT_TRUE(r.timed_out_after) << r.detail;
  EXPECT_GE(r.latency, 1500ms);
  EXPECT_TRUE(IsLateProbe(s, r)) << "a timer that fired 1.2 s late judged the target";

  // A refusal seen by the same starved checker is still the target's answer.
  const ClosedPort closed;
  s.port = closed.port();
  ProbeResult refused = RunProbeStarved(s, Target(s), 1500ms);
  EXPECT_FALSE(refused.ok);
  EXPECT_FALSE(IsLateProbe(s, refused)) << refused.detail;
}

TEST(TcpProbeTest, UnresolvableHostFails) {
  CheckSpec s = Spec(ProbeKind::kTcp, 80);
  s.host = "no-such-host.invalid";
  ProbeResult r = RunProbe(s, Target(s));
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.detail.find("no-such-host.invalid"), std::string::npos) << r.detail;
}

TEST(TcpProbeTest, BadSourceAddressFails) {
  HttpTestServer server;
  CheckSpec s = Spec(ProbeKind::kTcp, server.port());
  ProbeResult r = RunProbe(s, TargetFor(s, {"v", "", 0, "192.0.2.77", ""}));
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.detail.find("cannot send from 192.0.2.77"), std::string::npos) << r.detail;
}

struct HttpCase {
  const char* path;
  std::string body_contains;
  bool https;
  bool want_ok;
  const char* detail_has;
};

TEST(HttpProbeTest, Table) {
  HttpTestServer server;
  const HttpCase cases[] = {
      {"/ok", "", false, true, "HTTP 200"},
      {"/ok", "ready", false, true, "body contains 'ready'"},
      {"/ok", "absent", false, false, "'absent' is not in the first 11 bytes"},
      {"/late-marker", "ready", false, false, "not in the first 5120 bytes"},
      {"/endless", "ready", false, false, "not in the first 5120 bytes"},
      {"/endless", "", false, true, "HTTP 200"},  // does not wait for the end
      {"/503", "", false, false, "HTTP 503 (expected 200-399)"},
      {"/404", "", false, false, "HTTP 404"},
      {"/silent", "", false, false, "timed out after 600ms while waiting for the response"},
      {"/bigheaders", "ready", false, false, "response headers exceed 16384 bytes"},
      {"/garbage", "", false, false, "not an HTTP response: 'SSH-2.0"},
      {"/chunked", "ready", false, true, "body contains 'ready'"},
      {"/close", "", false, false, "closed by 127.0.0.1"},
      {"/ok", "", true, false, "TLS handshake with 127.0.0.1"},
  };
  for (const HttpCase& c : cases) {
    CheckSpec s = Spec(ProbeKind::kHttp, server.port());
    s.path = c.path;
    s.body_contains = c.body_contains;
    s.https = c.https;
    const auto start = std::chrono::steady_clock::now();
    ProbeResult r = RunProbe(s, Target(s));
    EXPECT_EQ(r.ok, c.want_ok) << c.path << ": " << r.detail;
    EXPECT_NE(r.detail.find(c.detail_has), std::string::npos) << c.path << ": " << r.detail;
    EXPECT_LT(std::chrono::steady_clock::now() - start, 1s) << c.path;
  }
}

TEST(HttpProbeTest, NoServerAndWrongStatusRange) {
  const ClosedPort closed;
  CheckSpec s = Spec(ProbeKind::kHttp, closed.port());
  ProbeResult r = RunProbe(s, Target(s));
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.detail.find("refused"), std::string::npos) << r.detail;

  HttpTestServer server;
  s.port = server.port();
  s.path = "/503";
  s.status_min = 500;
  s.status_max = 503;
  r = RunProbe(s, Target(s));
  EXPECT_TRUE(r.ok) << r.detail;
}

TEST(PgProbeTest, RefusedAndNotPostgres) {
  const ClosedPort closed;
  CheckSpec s = Spec(ProbeKind::kPostgres, closed.port());
  ProbeResult r = RunProbe(s, Target(s));
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.detail.find("PostgreSQL at 127.0.0.1"), std::string::npos) << r.detail;

  // An HTTP server is not PostgreSQL: it times out or hangs up, the probe fails.
  HttpTestServer server;
  s.port = server.port();
  r = RunProbe(s, Target(s));
  EXPECT_FALSE(r.ok);
  EXPECT_FALSE(r.detail.empty());
  EXPECT_LT(r.latency, 900ms) << r.detail;
}

TEST(DnsProbeTest, Table) {
  DnsTestServer server;
  struct Case {
    const char* name;
    bool want_ok;
    const char* detail_has;
  };
  const Case cases[] = {
      {"ok.test", true, "NOERROR, 1 answer"},
      {"stray.test", true, "NOERROR, 1 answer"},
      {"nx.test", false, "NXDOMAIN"},
      {"empty.test", false, "no answer"},
      {"garbage.test", false, "does not echo the question"},
      {"silent.test", false, "timed out after 600ms"},
      {"bad..name", false, "labels must be 1-63 bytes"},
  };
  for (const Case& c : cases) {
    CheckSpec s = Spec(ProbeKind::kDns, server.port());
    s.dns_name = c.name;
    ProbeResult r = RunProbe(s, Target(s));
    EXPECT_EQ(r.ok, c.want_ok) << c.name << ": " << r.detail;
    EXPECT_NE(r.detail.find(c.detail_has), std::string::npos) << c.name << ": " << r.detail;
  }
  // Nothing listening: the ICMP error ends the probe early.
  const ClosedPort closed;  // holds TCP only: a UDP query there meets no socket
  CheckSpec s = Spec(ProbeKind::kDns, closed.port());
  s.dns_name = "ok.test";
  ProbeResult r = RunProbe(s, Target(s));
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.detail.find("refused"), std::string::npos) << r.detail;
}

}  // namespace
}  // namespace pilotlight::health
