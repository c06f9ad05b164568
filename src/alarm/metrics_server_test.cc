#include "alarm/metrics_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>
#include <atomic>
#include <chrono>
#include <random>
#include <stdexcept>
#include <thread>

#include "testing/wait.h"

namespace pilotlight::alarm {
namespace {

using namespace std::chrono_literals;
using pilotlight::testing::WaitFor;

// ---- pure routing ---------------------------------------------------------------

TEST(RouteMetricsRequestTest, ExtraRoutesAnswerFromTheirOwnSource) {
  const TextSource metrics = [] { return std::string("up 1\n"); };
  const std::vector<ExtraRoute> routes = {
      {"/observations", "application/json", [] { return std::string("{}"); }}};
  MetricsResponse r = RouteMetricsRequest("GET", "/observations", metrics, routes);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "{}");
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(RouteMetricsRequest("POST", "/observations", metrics, routes).status, 405);
  EXPECT_EQ(RouteMetricsRequest("GET", "/metrics", metrics, routes).body, "up 1\n");
  EXPECT_EQ(RouteMetricsRequest("GET", "/observations", metrics).status, 404);
}

TEST(RouteMetricsRequestTest, Table) {
  const TextSource source = [] { return std::string("up 1\n"); };
  struct Case {
    const char* method;
    const char* target;
    int status;
    const char* body;  // nullptr: not checked
    const char* content_type;
    bool allow;
  };
  const Case cases[] = {
      {"GET", "/metrics", 200, "up 1\n", kPrometheusContentType, false},
      {"GET", "/metrics?name[]=up", 200, "up 1\n", kPrometheusContentType, false},
      {"HEAD", "/metrics", 200, "up 1\n", kPrometheusContentType, false},
      {"GET", "/healthz", 200, "ok\n", "text/plain; charset=utf-8", false},
      {"GET", "/", 404, nullptr, "text/plain; charset=utf-8", false},
      {"GET", "/metrics/", 404, nullptr, "text/plain; charset=utf-8", false},
      {"GET", "/METRICS", 404, nullptr, "text/plain; charset=utf-8", false},
      {"GET", "*", 404, nullptr, "text/plain; charset=utf-8", false},
      {"POST", "/metrics", 405, nullptr, "text/plain; charset=utf-8", true},
      {"PUT", "/healthz", 405, nullptr, "text/plain; charset=utf-8", true},
      {"get", "/metrics", 405, nullptr, "text/plain; charset=utf-8", true},
      {"BREW", "/metrics", 405, nullptr, "text/plain; charset=utf-8", true},
      {"POST", "/elsewhere", 404, nullptr, "text/plain; charset=utf-8", false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.method) + " " + c.target);
    const MetricsResponse r = RouteMetricsRequest(c.method, c.target, source);
    EXPECT_EQ(r.status, c.status);
    if (c.body != nullptr) {
      EXPECT_EQ(r.body, c.body);
    }
    EXPECT_EQ(r.content_type, c.content_type);
    const bool has_allow =
        !r.headers.empty() && r.headers[0].first == "Allow" && r.headers[0].second == "GET, HEAD";
    EXPECT_EQ(has_allow, c.allow);
  }
}

TEST(RouteMetricsRequestTest, ASourceThatThrowsIsA500) {
  const MetricsResponse r = RouteMetricsRequest(
      "GET", "/metrics", []() -> std::string { throw std::runtime_error("registry gone"); });
  EXPECT_EQ(r.status, 500);
  EXPECT_NE(r.body.find("registry gone"), std::string::npos) << r.body;
}

TEST(ParseListenAddressTest, Table) {
  struct Case {
    const char* text;
    const char* host;  // nullptr: an error
    uint16_t port;
  };
  const Case cases[] = {
      {"127.0.0.1:9464", "127.0.0.1", 9464},
      {"0.0.0.0:0", "0.0.0.0", 0},
      {":9464", "0.0.0.0", 9464},
      {"[::1]:9464", "::1", 9464},
      {"127.0.0.1:65535", "127.0.0.1", 65535},
      {"127.0.0.1:65536", nullptr, 0},
      {"127.0.0.1", nullptr, 0},
      {"127.0.0.1:", nullptr, 0},
      {"127.0.0.1:-1", nullptr, 0},
      {"127.0.0.1:http", nullptr, 0},
      {"127.0.0.1:999999", nullptr, 0},
      {"localhost:9464", nullptr, 0},
      {"::1:9464", nullptr, 0},
      {"[::1]", nullptr, 0},
      {"[::1:9464", nullptr, 0},
      {"[]:9464", nullptr, 0},
      {"", nullptr, 0},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    auto r = ParseListenAddress(c.text);
    if (c.host == nullptr) {
      ASSERT_FALSE(r.ok());
      EXPECT_NE(r.status().message().find("ADDRESS:PORT"), std::string::npos)
          << r.status().message();
    } else {
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      EXPECT_EQ(r->first, c.host);
      EXPECT_EQ(r->second, c.port);
    }
  }
}

// ---- over real sockets -------------------------------------------------------------

int Connect(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    close(fd);
    return -1;
  }
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

// A connection to 127.0.0.1:port from another loopback address (a second client).
int ConnectFrom(const char* source, uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in from{};
  from.sin_family = AF_INET;
  inet_pton(AF_INET, source, &from.sin_addr);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0 ||
      connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    close(fd);
    return -1;
  }
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

// True when the server closed the connection (EOF or reset) with nothing sent,
// false when it sent something or 5 s passed with the connection still open.
bool ClosedUnanswered(int fd) {
  char buf[512];
  const ssize_t n = recv(fd, buf, sizeof buf, 0);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

bool SendAll(int fd, const std::string& data) {
  size_t sent = 0;
  while (sent < data.size()) {
    ssize_t n = send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

// Everything the server sends until it closes (or 5 s of silence).
std::string ReadUntilClose(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

std::string Exchange(uint16_t port, const std::string& request) {
  int fd = Connect(port);
  if (fd < 0) return "connect failed";
  SendAll(fd, request);  // the server may answer and close before all is sent
  std::string out = ReadUntilClose(fd);
  close(fd);
  return out;
}

int StatusOf(const std::string& response) {
  if (response.size() < 12 || response.compare(0, 5, "HTTP/") != 0) return -1;
  return std::stoi(response.substr(9, 3));
}

std::string BodyOf(const std::string& response) {
  const size_t end = response.find("\r\n\r\n");
  return end == std::string::npos ? "" : response.substr(end + 4);
}

class MetricsServerTest : public ::testing::Test {
 protected:
  void StartServer(MetricsServerOptions options = {}) {
    auto s = MetricsServer::Start(
        "127.0.0.1", 0,
        [this] { return "pilotlight_test_value " + std::to_string(value_.load()) + "\n"; },
        options);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(*s);
    ASSERT_NE(server_->port(), 0);
  }
  std::string Get(const std::string& path) {
    return Exchange(server_->port(),
                    "GET " + path + " HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  }

  std::atomic<int> value_{7};
  std::unique_ptr<MetricsServer> server_;
};

TEST_F(MetricsServerTest, ServesTheLiveTextAndHealthz) {
  StartServer();
  std::string r = Get("/metrics");
  EXPECT_EQ(StatusOf(r), 200) << r;
  EXPECT_NE(r.find("Content-Type: text/plain; version=0.0.4"), std::string::npos) << r;
  EXPECT_EQ(BodyOf(r), "pilotlight_test_value 7\n");
  value_ = 8;  // the next scrape calls the source again
  EXPECT_EQ(BodyOf(Get("/metrics")), "pilotlight_test_value 8\n");
  r = Get("/healthz");
  EXPECT_EQ(StatusOf(r), 200) << r;
  EXPECT_EQ(BodyOf(r), "ok\n");
  EXPECT_EQ(server_->requests(), 3u);
}

TEST_F(MetricsServerTest, BadRequestsGetAnErrorAndTheServerKeepsServing) {
  StartServer();
  const std::string big_header(20 * 1024, 'a');
  struct Case {
    const char* name;
    std::string request;
    int status;
  };
  const Case cases[] = {
      {"wrong method",
       "POST /metrics HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n"
       "Connection: close\r\n\r\n{}",
       405},
      {"delete healthz", "DELETE /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 405},
      {"unknown path", "GET /admin HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 404},
      {"no request line", "GARBAGE\r\n\r\n", 400},
      {"no version", "GET /metrics\r\n\r\n", 400},
      {"bad version", "GET /metrics HTTP/9.x\r\n\r\n", 400},
      {"space in target", "GET /me trics HTTP/1.1\r\n\r\n", 400},
      {"control bytes", std::string("G\0T /metrics HTTP/1.1\r\n\r\n", 25), 400},
      {"tls hello", std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 15), 400},
      {"ssh banner", "SSH-2.0-OpenSSH_9.2\r\n\r\n", 400},
      {"bad header", "GET /metrics HTTP/1.1\r\nNo colon here\r\n\r\n", 400},
      {"bad content length", "GET /metrics HTTP/1.1\r\nContent-Length: abc\r\n\r\n", 400},
      {"two content lengths",
       "GET /metrics HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400},
      {"oversize header", "GET /metrics HTTP/1.1\r\nX-Big: " + big_header + "\r\n\r\n", 431},
      {"oversize line without end", "GET /" + std::string(100 * 1024, 'm'), 431},
      {"oversize body", "POST /metrics HTTP/1.1\r\nContent-Length: 100000\r\n\r\n", 413},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string r = Exchange(server_->port(), c.request);
    EXPECT_EQ(StatusOf(r), c.status) << r;
    // Still serving after each.
    EXPECT_EQ(StatusOf(Get("/healthz")), 200);
  }
}

TEST_F(MetricsServerTest, HeadHasTheLengthButNoBody) {
  StartServer();
  const std::string r =
      Exchange(server_->port(), "HEAD /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(StatusOf(r), 200) << r;
  EXPECT_NE(r.find("Content-Length: 24\r\n"), std::string::npos) << r;
  EXPECT_EQ(BodyOf(r), "");
}

TEST_F(MetricsServerTest, KeepAliveAnswersPipelinedRequestsInOrder) {
  StartServer();
  int fd = Connect(server_->port());
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(SendAll(fd,
                      "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"
                      "GET /nothing HTTP/1.1\r\nHost: t\r\n\r\n"
                      "GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"));
  const std::string all = ReadUntilClose(fd);
  close(fd);
  const size_t first = all.find("HTTP/1.1 200");
  const size_t second = all.find("HTTP/1.1 404");
  const size_t third = all.find("HTTP/1.1 200", first + 1);
  ASSERT_NE(first, std::string::npos) << all;
  ASSERT_NE(second, std::string::npos) << all;
  ASSERT_NE(third, std::string::npos) << all;
  EXPECT_LT(first, second);
  EXPECT_LT(second, third);
  EXPECT_NE(all.find("pilotlight_test_value 7\n", third), std::string::npos) << all;
}

TEST_F(MetricsServerTest, ManyConcurrentScrapesAllAnswered) {
  // All from 127.0.0.1: this address may hold every slot here (the default
  // share, a quarter, is the per-client test's).
  MetricsServerOptions options;
  options.max_connections_per_client = options.max_connections;
  StartServer(options);
  // 200 connections open at once, each holding a request, before any is read:
  // one thread must serve them all.
  constexpr int kClients = 200;
  std::vector<int> fds;
  for (int i = 0; i < kClients; ++i) {
    const int fd = Connect(server_->port());
    ASSERT_GE(fd, 0) << i;
    fds.push_back(fd);
  }
  for (int fd : fds) {
    ASSERT_TRUE(SendAll(fd, "GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"));
  }
  int ok = 0;
  for (int fd : fds) {
    const std::string r = ReadUntilClose(fd);
    close(fd);
    if (StatusOf(r) == 200 && BodyOf(r) == "pilotlight_test_value 7\n") ++ok;
  }
  EXPECT_EQ(ok, kClients);
}

TEST_F(MetricsServerTest, SilentConnectionsTimeOutAndDoNotBlockOthers) {
  MetricsServerOptions options;
  options.idle_timeout = 300ms;
  options.request_deadline = 300ms;
  StartServer(options);
  int silent = Connect(server_->port());
  ASSERT_GE(silent, 0);
  ASSERT_TRUE(SendAll(silent, "GET /metr"));  // half a request, then nothing
  EXPECT_EQ(StatusOf(Get("/metrics")), 200);
  const auto start = std::chrono::steady_clock::now();
  const std::string r = ReadUntilClose(silent);  // closed by the server, unanswered
  close(silent);
  EXPECT_EQ(r, "");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 4s);
}

// A request whose body never comes, or a chunked body that never ends while
// bytes keep trickling in, is cut off at the request deadline, not held for as
// long as the client keeps the connection open (http/client_bounds.h).
TEST_F(MetricsServerTest, ABodyThatNeverEndsIsCutOffAtTheRequestDeadline) {
  MetricsServerOptions options;
  options.idle_timeout = 60s;
  options.request_deadline = 300ms;
  options.max_body_bytes = 1 << 20;
  StartServer(options);
  int never = Connect(server_->port());
  ASSERT_GE(never, 0);
  ASSERT_TRUE(SendAll(never, "GET /metrics HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n"));
  int drip = Connect(server_->port());
  ASSERT_GE(drip, 0);
  ASSERT_TRUE(SendAll(drip, "GET /metrics HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"));
  std::atomic<bool> stop{false};
  std::thread dripping([&] {  // a chunk every 50 ms: never idle, never done
    while (!stop && SendAll(drip, "1\r\nx\r\n")) std::this_thread::sleep_for(50ms);
  });
  EXPECT_TRUE(ClosedUnanswered(never));
  EXPECT_TRUE(ClosedUnanswered(drip));
  stop = true;
  dripping.join();
  close(never);
  close(drip);
  EXPECT_EQ(StatusOf(Get("/healthz")), 200);
}

// An idle keep-alive connection is closed at the idle timeout.
TEST_F(MetricsServerTest, AnIdleKeepAliveConnectionIsClosed) {
  MetricsServerOptions options;
  options.idle_timeout = 300ms;
  StartServer(options);
  int fd = Connect(server_->port());
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(SendAll(fd, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"));
  char buf[512];
  ASSERT_GT(recv(fd, buf, sizeof buf, 0), 0);
  EXPECT_TRUE(ClosedUnanswered(fd));
  close(fd);
}

// No client address holds more than its share of the connections: beyond it
// its new connections are closed at once, while another address is served.
TEST_F(MetricsServerTest, OneAddressIsHeldToItsShareWhileAnotherGetsIn) {
  MetricsServerOptions options;
  options.max_connections = 8;
  options.max_connections_per_client = 2;
  StartServer(options);
  std::vector<int> held;
  for (int i = 0; i < 2; ++i) {
    const int fd = Connect(server_->port());
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(SendAll(fd, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"));
    char buf[512];
    ASSERT_GT(recv(fd, buf, sizeof buf, 0), 0);  // accepted and answered, kept alive
    held.push_back(fd);
  }
  const int over = Connect(server_->port());
  ASSERT_GE(over, 0);
  SendAll(over, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
  EXPECT_TRUE(ClosedUnanswered(over));
  close(over);
  const int other = ConnectFrom("127.0.0.2", server_->port());
  ASSERT_GE(other, 0);
  ASSERT_TRUE(SendAll(other, "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"));
  EXPECT_EQ(StatusOf(ReadUntilClose(other)), 200);
  close(other);
  for (int fd : held) close(fd);
}

TEST(MetricsServerOptionsTest, AShareAboveTheCapIsRefusedNamingTheField) {
  MetricsServerOptions options;
  options.max_connections = 4;
  options.max_connections_per_client = 5;
  auto s = MetricsServer::Start("127.0.0.1", 0, [] { return std::string(); }, options);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("max_connections_per_client"), std::string::npos)
      << s.status().ToString();
}

TEST_F(MetricsServerTest, ConnectionsBeyondTheLimitAreClosed) {
  MetricsServerOptions options;
  options.max_connections = 2;
  options.max_connections_per_client = 2;  // the cap, not the share, refuses here
  StartServer(options);
  int a = Connect(server_->port());
  int b = Connect(server_->port());
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  // Both held: make sure the server has accepted them by having them answered
  // once each (keep-alive keeps them open).
  for (int fd : {a, b}) {
    ASSERT_TRUE(SendAll(fd, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"));
    char buf[512];
    ASSERT_GT(recv(fd, buf, sizeof buf, 0), 0);
  }
  const std::string refused = Get("/healthz");
  EXPECT_EQ(refused, "");  // closed without an answer
  close(a);
  // Once one is gone, a new scrape is served again (the server notices the close).
  EXPECT_TRUE(WaitFor(5s, [&] { return StatusOf(Get("/healthz")) == 200; }));
  close(b);
}

TEST_F(MetricsServerTest, StopClosesOpenConnections) {
  StartServer();
  int fd = Connect(server_->port());
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(SendAll(fd, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"));
  char buf[512];
  ASSERT_GT(recv(fd, buf, sizeof buf, 0), 0);
  server_->Stop();
  EXPECT_EQ(ReadUntilClose(fd), "");  // EOF, not a 5 s timeout
  close(fd);
  EXPECT_EQ(Connect(server_->port()), -1);
}

// Random bytes and randomly damaged requests, from a fixed seed: every one gets
// an HTTP answer or a close, never a crash or a hang, and the server keeps serving.
TEST_F(MetricsServerTest, DamagedRequestsNeverBreakTheServer) {
  MetricsServerOptions options;
  options.idle_timeout = 200ms;
  StartServer(options);
  std::mt19937 rng(20261126);
  const std::string valid =
      "GET /metrics?x=1 HTTP/1.1\r\nHost: t\r\nAccept: */*\r\nContent-Length: 0\r\n\r\n";
  int answered = 0;
  for (int i = 0; i < 300; ++i) {
    std::string req;
    if (i % 3 == 0) {  // random bytes
      req.resize(rng() % 2048);
      for (char& c : req) c = static_cast<char>(rng());
    } else {  // a valid request with bytes flipped, cut or repeated
      req = valid;
      for (int k = 1 + rng() % 4; k > 0; --k) {
        const size_t at = rng() % req.size();
        switch (rng() % 3) {
          case 0:
            req[at] = static_cast<char>(rng());
            break;
          case 1:
            req.resize(std::max<size_t>(1, at));
            break;
          default:
            req.insert(at, req.substr(at, rng() % 64));
        }
      }
    }
    SCOPED_TRACE(i);
    int fd = Connect(server_->port());
    ASSERT_GE(fd, 0);
    SendAll(fd, req);
    shutdown(fd, SHUT_WR);  // no more is coming: the server must not wait for it
    const std::string r = ReadUntilClose(fd);
    close(fd);
    if (!r.empty()) {
      const int status = StatusOf(r);
      EXPECT_TRUE(status == 200 || status == 400 || status == 404 || status == 405 ||
                  status == 413 || status == 431)
          << status << "\n"
          << r;
      ++answered;
    }
  }
  EXPECT_GT(answered, 0);
  EXPECT_EQ(StatusOf(Get("/healthz")), 200);
}

TEST(MetricsServerStartTest, PortInUseAndBadAddressAreClearErrors) {
  auto first = MetricsServer::Start("127.0.0.1", 0, [] { return std::string(); });
  ASSERT_TRUE(first.ok());
  auto second = MetricsServer::Start("127.0.0.1", (*first)->port(), [] { return std::string(); });
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("--metrics-listen"), std::string::npos)
      << second.status().message();
  auto bad = MetricsServer::Start("not-an-ip", 0, [] { return std::string(); });
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("not an IP address"), std::string::npos);
}

}  // namespace
}  // namespace pilotlight::alarm
