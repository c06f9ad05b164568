// The server over real loopback sockets: UDP, TCP (with several queries on one
// connection), garbage, concurrency, and a catalog change seen by the next query.
#include "dns/server/dns_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <random>
#include <thread>

#include "dns/zone/test_zone.h"
#include "testing/wait.h"

namespace pilotlight::dns {
namespace {

using Bytes = std::vector<uint8_t>;
using pilotlight::testing::WaitFor;

Bytes Query(const std::string& name, uint16_t id, uint16_t type = rrtype::kA) {
  Message m;
  m.header.id = id;
  m.questions.push_back({*Name::FromString(name), type, rrclass::kIn});
  return BuildMessage(m);
}

sockaddr_in Loopback(uint16_t port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  return sa;
}

// One UDP exchange with a 2 s receive timeout; empty on timeout.
Bytes UdpExchange(uint16_t port, const Bytes& query) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  timeval tv{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in sa = Loopback(port);
  sendto(fd, query.data(), query.size(), 0, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  Bytes buf(65535);
  ssize_t n = recv(fd, buf.data(), buf.size(), 0);
  close(fd);
  buf.resize(n > 0 ? static_cast<size_t>(n) : 0);
  return buf;
}

int TcpConnect(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in sa = Loopback(port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

bool ReadExactly(int fd, uint8_t* p, size_t n) {
  while (n > 0) {
    ssize_t r = recv(fd, p, n, 0);
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

Bytes TcpExchange(int fd, const Bytes& query) {
  Bytes framed = {static_cast<uint8_t>(query.size() >> 8), static_cast<uint8_t>(query.size())};
  framed.insert(framed.end(), query.begin(), query.end());
  if (send(fd, framed.data(), framed.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(framed.size())) {
    return {};
  }
  uint8_t len[2];
  if (!ReadExactly(fd, len, 2)) return {};
  Bytes out(len[0] << 8 | len[1]);
  if (!ReadExactly(fd, out.data(), out.size())) return {};
  return out;
}

std::string FirstA(const Bytes& response) {
  Result<Message> m = ParseMessage(response);
  if (!m.ok()) return "unparsable: " + m.status().ToString();
  for (const ResourceRecord& rr : m->answers) {
    if (rr.type == rrtype::kA) return RdataToString(rr.type, rr.rdata);
  }
  return "rcode " + RcodeName(m->rcode());
}

class DnsServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    catalog_ = Catalog::Build({testing::TestZone()}, clock_.Now()).value();
    DnsServerOptions options;
    options.port = 0;
    options.udp_workers = 2;
    Result<std::unique_ptr<DnsServer>> s = DnsServer::Start(options, *catalog_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(s).value();
    ASSERT_NE(server_->port(), 0);
  }

  FakeClock clock_;
  std::unique_ptr<Catalog> catalog_;
  std::unique_ptr<DnsServer> server_;
};

TEST_F(DnsServerTest, AnswersOverUdpAndSeesCatalogChanges) {
  EXPECT_EQ(FirstA(UdpExchange(server_->port(), Query("api.pilotlight.test.", 1))), "127.0.1.10");
  StaticHealthView health;
  health.Set("primary-api", false);
  catalog_->Refresh(health, {}, clock_.Now());
  EXPECT_EQ(FirstA(UdpExchange(server_->port(), Query("api.pilotlight.test.", 2))), "127.0.2.10");
  EXPECT_EQ(FirstA(UdpExchange(server_->port(), Query("example.org.", 3))), "rcode REFUSED");
}

TEST_F(DnsServerTest, AnswersSeveralQueriesOnOneTcpConnection) {
  int fd = TcpConnect(server_->port());
  ASSERT_GE(fd, 0);
  EXPECT_EQ(FirstA(TcpExchange(fd, Query("api.pilotlight.test.", 1))), "127.0.1.10");
  Result<Message> big = ParseMessage(TcpExchange(fd, Query("big.pilotlight.test.", 2)));
  ASSERT_TRUE(big.ok());
  EXPECT_FALSE(big->header.tc);
  EXPECT_EQ(big->answers.size(), 40u);  // too big for UDP, whole over TCP
  close(fd);
  Result<Message> udp_big =
      ParseMessage(UdpExchange(server_->port(), Query("big.pilotlight.test.", 3)));
  ASSERT_TRUE(udp_big.ok());
  EXPECT_TRUE(udp_big->header.tc);
}

TEST_F(DnsServerTest, SurvivesGarbage) {
  std::mt19937 rng(42);
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in sa = Loopback(server_->port());
  // In rounds of 50, each waited for (with a deadline) before the next: on a
  // busy machine the kernel drops datagrams a slow reader has not taken yet,
  // and the point here is what the server does with the junk it reads.
  const uint64_t before = server_->counters().udp_queries;
  for (int i = 0; i < 2000; ++i) {
    Bytes junk = Query("api.pilotlight.test.", static_cast<uint16_t>(i));
    const size_t len = rng() % 80;
    junk.resize(len);
    for (size_t k = 0; k < len; ++k) {
      if (rng() % 3 == 0) junk[k] = static_cast<uint8_t>(rng());
    }
    sendto(fd, junk.data(), junk.size(), 0, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    if ((i + 1) % 50 == 0) {
      WaitFor(std::chrono::seconds(5), [&] {
        return server_->counters().udp_queries >= before + static_cast<uint64_t>(i + 1);
      });
    }
  }
  close(fd);
  // TCP garbage: a length prefix promising more than is sent, then a hang-up.
  int tcp = TcpConnect(server_->port());
  ASSERT_GE(tcp, 0);
  const uint8_t partial[] = {0x10, 0x00, 1, 2, 3};
  send(tcp, partial, sizeof partial, MSG_NOSIGNAL);
  close(tcp);
  EXPECT_EQ(FirstA(UdpExchange(server_->port(), Query("api.pilotlight.test.", 7))), "127.0.1.10");
  int tcp2 = TcpConnect(server_->port());
  ASSERT_GE(tcp2, 0);
  EXPECT_EQ(FirstA(TcpExchange(tcp2, Query("api.pilotlight.test.", 8))), "127.0.1.10");
  close(tcp2);
  EXPECT_GT(server_->counters().udp_queries, 1000u);
}

TEST_F(DnsServerTest, ServesManyClientsConcurrently) {
  std::atomic<int> correct{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 8; ++c) {
    clients.emplace_back([&, c] {
      for (int i = 0; i < 50; ++i) {
        const uint16_t id = static_cast<uint16_t>(c * 100 + i);
        const Bytes query = Query("api.pilotlight.test.", id);
        Bytes r;
        if (i % 5 == 0) {  // every fifth query over TCP
          int fd = TcpConnect(server_->port());
          r = TcpExchange(fd, query);
          close(fd);
        } else {
          r = UdpExchange(server_->port(), query);
        }
        Result<Message> m = ParseMessage(r);
        if (m.ok() && m->header.id == id && FirstA(r) == "127.0.1.10") correct++;
      }
    });
  }
  for (std::thread& t : clients) t.join();
  EXPECT_EQ(correct.load(), 400);
}

TEST(DnsServerStartTest, ReportsBindFailures) {
  std::unique_ptr<Catalog> catalog =
      Catalog::Build({testing::TestZone()}, FakeClock().Now()).value();
  DnsServerOptions options;
  options.address = "not-an-address";
  EXPECT_EQ(DnsServer::Start(options, *catalog).status().code(), Status::Code::kInvalidArgument);
  options.address = "192.0.2.1";  // not ours: cannot bind
  options.port = 0;
  EXPECT_FALSE(DnsServer::Start(options, *catalog).ok());
}

}  // namespace
}  // namespace pilotlight::dns
