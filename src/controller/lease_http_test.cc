#include "controller/lease_http.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <atomic>
#include <cerrno>
#include <thread>
#include <vector>

#include "controller/http_call.h"
#include "controller/lease_test_flood.h"
#include "testing/scratch_dir.h"
#include "testing/wait.h"

namespace pilotlight::controller {
namespace {

using pilotlight::testing::ScratchDir;
using pilotlight::testing::WaitFor;

using namespace std::chrono_literals;

class LeaseHttpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = scratch_.path();
    secret_ = dir_ + "/lease.secret";
    ASSERT_TRUE(EnsureLeaseSecret(secret_).ok());
    keys_ = OpenKeys(secret_);
  }
  static std::shared_ptr<LeaseKeyring> OpenKeys(const std::string& path) {
    Result<std::shared_ptr<LeaseKeyring>> k = LeaseKeyring::Open(path);
    EXPECT_TRUE(k.ok()) << k.status().ToString();
    return k.ok() ? *k : nullptr;
  }
  std::unique_ptr<LeaseServer> Serve(LeaseService& service, LeaseServerOptions options = {}) {
    auto server = LeaseServer::Start("127.0.0.1", 0, service, keys_, options);
    EXPECT_TRUE(server.ok()) << server.status().ToString();
    return server.ok() ? std::move(*server) : nullptr;
  }
  ScratchDir scratch_{"lease-test"};
  std::string dir_;
  std::string secret_;
  std::shared_ptr<LeaseKeyring> keys_;
  SystemClock& clock_ = SystemClock::Instance();
};

// A raw request to the lease server, with `credential` as its Authorization
// (none when empty): what an attacker can send.
Result<HttpReply> Send(uint16_t port, const std::string& method, const std::string& authorization,
                       const std::string& body = R"({"holder":"primary"})") {
  HttpRequestSpec r;
  r.method = method;
  r.target = "/v1/lease";
  if (method == "POST") r.body = body;
  if (!authorization.empty()) r.headers = {{"Authorization", authorization}};
  return HttpCall("127.0.0.1", port, r, std::chrono::seconds(2));
}

TEST_F(LeaseHttpTest, GrantsOverHttpAndRecordsTheExpiryFirst) {
  LeaseService service(LeaseGrantor("primary", 6s), clock_, dir_ + "/lease");
  auto server = Serve(service);
  ASSERT_TRUE(server);
  LeaseSigner signer(keys_, "primary", clock_);
  Result<LeaseAnswer> a = RequestRenewal("127.0.0.1", server->port(), signer, 2s);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_TRUE(a->granted);
  EXPECT_EQ(a->duration, 6s);
  ASSERT_TRUE(service.ExpiresAt().has_value());
  ASSERT_GT(service.last_sequence("primary"), 0u);

  // A new controller process restores the expiry, and the last sequence it
  // accepted, from the state file.
  LeaseService restarted(LeaseGrantor("primary", 6s), clock_, dir_ + "/lease");
  ASSERT_TRUE(restarted.Load().ok());
  EXPECT_EQ(restarted.ExpiresAt(), service.ExpiresAt());
  EXPECT_EQ(restarted.last_sequence("primary"), service.last_sequence("primary"));
}

TEST_F(LeaseHttpTest, AStateFileOfAnOlderVersionStillLoads) {
  std::ofstream(dir_ + "/lease") << "1700000000000000000\n";
  LeaseService service(LeaseGrantor("primary", 6s), clock_, dir_ + "/lease");
  ASSERT_TRUE(service.Load().ok());
  EXPECT_EQ(service.ExpiresAt(), WallTime(std::chrono::seconds(1'700'000'000)));
  EXPECT_EQ(service.last_sequence("primary"), 0u);
}

TEST_F(LeaseHttpTest, RefusalsCarryTheControllersReason) {
  LeaseService service(LeaseGrantor("primary", 6s), clock_, "");
  auto server = Serve(service);
  ASSERT_TRUE(server);
  LeaseSigner primary(keys_, "primary", clock_);
  service.SetGranting(false, "failing over to dr");
  Result<LeaseAnswer> a = RequestRenewal("127.0.0.1", server->port(), primary, 2s);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_FALSE(a->granted);
  EXPECT_EQ(a->reason, "failing over to dr");
  EXPECT_FALSE(a->fence_now);
  service.Revoke("failed over to dr");
  Result<LeaseAnswer> revoked = RequestRenewal("127.0.0.1", server->port(), primary, 2s);
  ASSERT_TRUE(revoked.ok());
  EXPECT_TRUE(revoked->fence_now);
  // The DR agent signs with the same secret: refused, and its sequence numbers
  // are its own (they do not make the primary's look like replays).
  LeaseSigner dr(keys_, "dr", clock_);
  Result<LeaseAnswer> other = RequestRenewal("127.0.0.1", server->port(), dr, 2s);
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  EXPECT_FALSE(other->granted);
  service.Rearm();
  Result<LeaseAnswer> again = RequestRenewal("127.0.0.1", server->port(), primary, 2s);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_TRUE(again->granted);
}

TEST_F(LeaseHttpTest, NoServerIsUnavailableNotACrash) {
  // A port nobody listens on: bind one, close it.
  LeaseService service(LeaseGrantor("primary", 6s), clock_, "");
  uint16_t port = 0;
  {
    auto server = Serve(service);
    ASSERT_TRUE(server);
    port = server->port();
  }
  LeaseSigner signer(keys_, "primary", clock_);
  Result<LeaseAnswer> a = RequestRenewal("127.0.0.1", port, signer, 500ms);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), Status::Code::kUnavailable) << a.status().ToString();
}

TEST_F(LeaseHttpTest, DamagedStateFileIsACorruptionError) {
  std::ofstream(dir_ + "/lease") << "yesterday\n";
  LeaseService service(LeaseGrantor("primary", 6s), clock_, dir_ + "/lease");
  Status st = service.Load();
  EXPECT_EQ(st.code(), Status::Code::kCorruption);
  EXPECT_NE(st.message().find("not an expiry"), std::string::npos);
}

TEST_F(LeaseHttpTest, UnrecordableGrantIsRefused) {
  LeaseService service(LeaseGrantor("primary", 6s), clock_, dir_ + "/no/such/dir/lease");
  LeaseAnswer a = service.Renew("primary");
  EXPECT_FALSE(a.granted);
  EXPECT_NE(a.reason.find("cannot record the lease"), std::string::npos);
  EXPECT_FALSE(service.ExpiresAt().has_value());
  // Over HTTP it is no answer (503), not a refusal: a keeper does not fence at
  // once because the controller's disk (or descriptors) failed it.
  auto server = Serve(service);
  ASSERT_TRUE(server);
  LeaseSigner signer(keys_, "primary", clock_);
  Result<LeaseAnswer> http = RequestRenewal("127.0.0.1", server->port(), signer, 2s);
  ASSERT_FALSE(http.ok());
  EXPECT_EQ(http.status().code(), Status::Code::kUnavailable);
  EXPECT_NE(http.status().message().find("HTTP 503"), std::string::npos) << http.status().message();
  EXPECT_FALSE(service.ExpiresAt().has_value());
}

TEST_F(LeaseHttpTest, BadRequestsGetClearErrors) {
  LeaseService service(LeaseGrantor("primary", 6s), clock_, "");
  auto server = Serve(service);
  ASSERT_TRUE(server);
  const std::string base =
      "curl -s -o - -w ' %{http_code}' http://127.0.0.1:" + std::to_string(server->port());
  auto run = [](const std::string& cmd) {
    std::string out;
    FILE* p = popen(cmd.c_str(), "r");
    char buf[512];
    size_t n;
    while (p && (n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    if (p) pclose(p);
    return out;
  };
  if (system("command -v curl >/dev/null") != 0) GTEST_SKIP() << "curl not installed";
  const std::string unsigned_post = run(base + "/v1/lease -d '{\"holder\":\"primary\"}'");
  EXPECT_NE(unsigned_post.find("needs a signed request"), std::string::npos) << unsigned_post;
  EXPECT_NE(unsigned_post.find(" 401"), std::string::npos) << unsigned_post;
  EXPECT_NE(run(base + "/elsewhere").find(" 404"), std::string::npos);
  EXPECT_NE(run(base + "/v1/lease -X DELETE").find(" 405"), std::string::npos);
  const std::string get = run(base + "/v1/lease");
  EXPECT_NE(get.find(" 401"), std::string::npos) << get;
  EXPECT_EQ(get.find("granting"), std::string::npos) << get;
  // A signed request with a body that is not a lease request.
  LeaseSigner signer(keys_, "primary", clock_);
  const std::string bad = run(base + "/v1/lease -d 'not json' -H 'Authorization: " +
                              FormatLeaseAuthorization(signer.Sign("POST")) + "'");
  EXPECT_NE(bad.find("expected a JSON object"), std::string::npos) << bad;
  EXPECT_NE(bad.find(" 400"), std::string::npos) << bad;
  const std::string other = run(base + "/v1/lease -d '{\"holder\":\"dr\"}' -H 'Authorization: " +
                                FormatLeaseAuthorization(signer.Sign("POST")) + "'");
  EXPECT_NE(other.find("not the one the credential signs for"), std::string::npos) << other;
  EXPECT_FALSE(service.ExpiresAt().has_value());  // none of these granted anything
}

// The keeper loop against a real lease server: it holds the lease while the
// controller grants it, fences once the controller goes away, and lifts its own
// fence when a controller grants the lease again.
TEST_F(LeaseHttpTest, KeeperFencesWhenTheControllerGoesAwayAndUnfencesOnRegrant) {
  LeaseService service(LeaseGrantor("primary", 600ms), clock_, "");
  auto server = Serve(service);
  ASSERT_TRUE(server);
  const uint16_t port = server->port();
  std::atomic<int> fences{0}, unfences{0};
  LeaseEffects effects{[&] { ++fences; return Status::OK(); },
                       [&] { ++unfences; return Status::OK(); }};
  LeaseKeeperOptions o;
  o.controller = "127.0.0.1:" + std::to_string(port);
  o.holder = "primary";
  o.secret_file = secret_;
  o.request_timeout = 200ms;
  o.keeper.retry_every = 100ms;
  std::atomic<bool> stop{false};
  std::thread keeper([&] { RunLeaseKeeper(o, effects, clock_, stop); });
  ASSERT_TRUE(WaitFor(2s, [&] { return service.ExpiresAt().has_value(); }));
  const WallTime stopped_at = clock_.Now();
  server->Stop();
  ASSERT_TRUE(WaitFor(3s, [&] { return fences.load() == 1; }));
  // It fenced before the controller's own view of the lease ran out.
  EXPECT_LT(clock_.Now(), *service.ExpiresAt() + 200ms);
  EXPECT_GE(clock_.Now(), stopped_at);
  EXPECT_EQ(unfences.load(), 0);

  LeaseService again(LeaseGrantor("primary", 600ms), clock_, "");
  auto server2 = LeaseServer::Start("127.0.0.1", port, again, keys_);
  ASSERT_TRUE(server2.ok()) << server2.status().ToString();
  EXPECT_TRUE(WaitFor(3s, [&] { return unfences.load() == 1; }));
  EXPECT_EQ(fences.load(), 1);
  stop = true;
  keeper.join();
}

// ---- Attacks on the lease (issue #14 item 4) ----------------------------------------
//
// Each one runs against the real server on a fake clock: after a first grant
// the clock moves on 1 s, so a second grant would move the expiry the
// controller acts on (decide::Decide waits it out) by 1 s. A refused attack
// leaves it exactly where it was.

class LeaseAttackTest : public LeaseHttpTest {
 protected:
  void SetUp() override {
    LeaseHttpTest::SetUp();
    server_ = Serve(service_);
    ASSERT_TRUE(server_);
    LeaseSigner agent(keys_, "primary", fake_);
    Result<LeaseAnswer> granted = RequestRenewal("127.0.0.1", server_->port(), agent, 2s);
    ASSERT_TRUE(granted.ok()) << granted.status().ToString();
    ASSERT_TRUE(granted->granted);
    expiry_ = *service_.ExpiresAt();
    fake_.Advance(1s);
  }
  // The expiry the controller acts on did not move.
  void ExpectUnchanged() {
    ASSERT_TRUE(service_.ExpiresAt().has_value());
    EXPECT_EQ(*service_.ExpiresAt(), expiry_) << "the attack moved the lease's expiry";
  }
  FakeClock fake_;
  LeaseService service_{LeaseGrantor("primary", 6s), fake_, ""};
  std::unique_ptr<LeaseServer> server_;
  WallTime expiry_{};
};

TEST_F(LeaseAttackTest, AnUnsignedRenewalIsRefusedAndChangesNothing) {
  Result<HttpReply> r = Send(server_->port(), "POST", "");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 401) << r->body;
  ExpectUnchanged();
  // A made-up credential is no better.
  LeaseCredential forged{
      "primary", service_.last_sequence("primary") + 1,
      std::chrono::duration_cast<std::chrono::milliseconds>(fake_.Now().time_since_epoch()).count(),
      std::string(64, '0')};
  r = Send(server_->port(), "POST", FormatLeaseAuthorization(forged));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 401) << r->body;
  r = Send(server_->port(), "POST", "Basic cHJpbWFyeTpwcmltYXJ5");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 401) << r->body;
  ExpectUnchanged();
  // The primary's own next renewal still works (the attacks consumed nothing).
  LeaseSigner agent(keys_, "primary", fake_);
  Result<LeaseAnswer> a = RequestRenewal("127.0.0.1", server_->port(), agent, 2s);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_TRUE(a->granted);
  EXPECT_EQ(*service_.ExpiresAt(), expiry_ + 1s);
}

TEST_F(LeaseAttackTest, AReplayedRenewalIsRefusedAndChangesNothing) {
  // An eavesdropper recorded a renewal the agent sent; it was accepted.
  LeaseSigner agent(keys_, "primary", fake_);
  const std::string recorded = FormatLeaseAuthorization(agent.Sign("POST"));
  Result<HttpReply> first = Send(server_->port(), "POST", recorded);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->status, 200) << first->body;
  expiry_ = *service_.ExpiresAt();
  fake_.Advance(1s);
  Result<HttpReply> replay = Send(server_->port(), "POST", recorded);
  ASSERT_TRUE(replay.ok());
  EXPECT_EQ(replay->status, 403) << replay->body;
  EXPECT_NE(replay->body.find("replayed"), std::string::npos) << replay->body;
  ExpectUnchanged();
  // An older recording (a lower sequence than the last accepted) is refused too.
  LeaseSigner old(keys_, "primary", fake_);
  LeaseCredential older = old.Sign("POST");
  older.seq = service_.last_sequence("primary") - 1;
  older.mac = keys_->Sign(LeaseRequestMessage("POST", kLeaseTarget, older));
  Result<HttpReply> r = Send(server_->port(), "POST", FormatLeaseAuthorization(older));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 403) << r->body;
  ExpectUnchanged();
  // ... and after a restart of the controller, which reads its state file.
  LeaseService persisted(LeaseGrantor("primary", 6s), fake_, dir_ + "/lease");
  auto server = Serve(persisted);
  LeaseSigner agent2(keys_, "primary", fake_);
  const std::string recorded2 = FormatLeaseAuthorization(agent2.Sign("POST"));
  ASSERT_EQ(Send(server->port(), "POST", recorded2)->status, 200);
  server->Stop();
  const WallTime granted = *persisted.ExpiresAt();
  fake_.Advance(1s);
  LeaseService restarted(LeaseGrantor("primary", 6s), fake_, dir_ + "/lease");
  ASSERT_TRUE(restarted.Load().ok());
  auto server2 = Serve(restarted);
  Result<HttpReply> after = Send(server2->port(), "POST", recorded2);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->status, 403) << after->body;
  EXPECT_EQ(*restarted.ExpiresAt(), granted);
}

TEST_F(LeaseAttackTest, ARenewalSignedWithAnotherKeyIsRefusedAndChangesNothing) {
  const std::string other = dir_ + "/other.secret";
  ASSERT_TRUE(EnsureLeaseSecret(other).ok());
  LeaseSigner stranger(OpenKeys(other), "primary", fake_);
  Result<HttpReply> r =
      Send(server_->port(), "POST", FormatLeaseAuthorization(stranger.Sign("POST")));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 401) << r->body;
  EXPECT_NE(r->body.find("does not verify"), std::string::npos) << r->body;
  ExpectUnchanged();
  // Through the agent's own client: an error (no answer), never a lease answer.
  Result<LeaseAnswer> a = RequestRenewal("127.0.0.1", server_->port(), stranger, 2s);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), Status::Code::kUnavailable);
  EXPECT_NE(a.status().message().find("HTTP 401: the controller refused the credential"),
            std::string::npos)
      << a.status().message();
  ExpectUnchanged();
}

TEST_F(LeaseAttackTest, AStaleOrFutureTimestampIsRefusedAndChangesNothing) {
  // A recording held back 7 s (the window is the 6 s lease), or a signer whose
  // clock is 7 s ahead.
  for (const Duration off : {Duration(-7s), Duration(7s)}) {
    FakeClock skewed(fake_.Now() + off);
    LeaseSigner signer(keys_, "primary", skewed);
    Result<HttpReply> r =
        Send(server_->port(), "POST", FormatLeaseAuthorization(signer.Sign("POST")));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, 403) << r->body;
    EXPECT_NE(r->body.find("off the controller's clock"), std::string::npos) << r->body;
    ExpectUnchanged();
  }
  // A renewal that arrives 5 s late (within the window) is granted, counted
  // from its arrival.
  LeaseSigner agent(keys_, "primary", fake_);
  const std::string delayed = FormatLeaseAuthorization(agent.Sign("POST"));
  fake_.Advance(5s);
  Result<HttpReply> r = Send(server_->port(), "POST", delayed);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(*service_.ExpiresAt(), fake_.Now() + 6s);
}

TEST_F(LeaseAttackTest, ReadingTheLeaseNeedsTheCredentialAndRevealsNothingWithout) {
  const std::string other = dir_ + "/other.secret";
  ASSERT_TRUE(EnsureLeaseSecret(other).ok());
  LeaseSigner stranger(OpenKeys(other), "primary", fake_);
  for (const std::string& authorization :
       {std::string(), FormatLeaseAuthorization(stranger.Sign("GET"))}) {
    Result<HttpReply> r = Send(server_->port(), "GET", authorization);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, 401) << r->body;
    for (const char* secret : {"primary", "expires_at", "granting", "revoked", "2023"}) {
      EXPECT_EQ(r->body.find(secret), std::string::npos) << secret << " in " << r->body;
    }
    for (const auto& [name, value] : r->headers) {
      EXPECT_NE(name, kLeaseAnswerMacHeader);
      EXPECT_EQ(value.find("primary"), std::string::npos) << name << ": " << value;
    }
  }
  // A signed POST credential does not open a GET (the method is signed).
  LeaseSigner agent(keys_, "primary", fake_);
  Result<HttpReply> cross =
      Send(server_->port(), "GET", FormatLeaseAuthorization(agent.Sign("POST")));
  ASSERT_TRUE(cross.ok());
  EXPECT_EQ(cross->status, 401);
  // With the credential: the state.
  Result<std::string> state = RequestLeaseState("127.0.0.1", server_->port(), agent, 2s);
  ASSERT_TRUE(state.ok()) << state.status().ToString();
  const nlohmann::json j = nlohmann::json::parse(*state);
  EXPECT_EQ(j["holder"], "primary");
  EXPECT_EQ(j["expires_at"], FormatTime(expiry_));
  ExpectUnchanged();
}

// Something that answers on the controller's lease endpoint with `answer`
// (one connection), e.g. an impostor on the path to the controller.
class FakeLeaseEndpoint {
 public:
  explicit FakeLeaseEndpoint(std::string answer) : answer_(std::move(answer)) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (bind(fd_, reinterpret_cast<sockaddr*>(&a), len) != 0 || listen(fd_, 4) != 0 ||
        getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      return;
    }
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] {
      const int c = accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      std::string request;
      char buf[4096];
      while (request.find("\r\n\r\n") == std::string::npos) {
        const ssize_t n = read(c, buf, sizeof buf);
        if (n <= 0) break;
        request.append(buf, static_cast<size_t>(n));
      }
      (void)!write(c, answer_.data(), answer_.size());
      close(c);
    });
  }
  ~FakeLeaseEndpoint() {
    shutdown(fd_, SHUT_RDWR);
    if (thread_.joinable()) thread_.join();
    close(fd_);
  }
  uint16_t port() const { return port_; }

 private:
  std::string answer_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
};

std::string HttpAnswer(const std::string& body, const std::string& mac) {
  return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n" +
         (mac.empty() ? "" : std::string(kLeaseAnswerMacHeader) + ": " + mac + "\r\n") + "\r\n" +
         body;
}

// The agent believes only answers the controller signed for its very request:
// an impostor's grant without a MAC, with a MAC under another key, or the
// controller's own signed grant to an earlier request (replayed) is no answer,
// so it cannot keep a primary writable that the controller let go.
TEST_F(LeaseHttpTest, AGrantTheControllerDidNotSignForThisRequestIsNoAnswer) {
  const std::string body = R"({"granted":true,"duration_ms":60000,"epoch":1})";
  LeaseService service(LeaseGrantor("primary", 6s), clock_, "");
  auto server = Serve(service);
  ASSERT_TRUE(server);
  LeaseSigner agent(keys_, "primary", clock_);
  const LeaseCredential earlier = agent.Sign("POST");
  Result<HttpReply> genuine = Send(server->port(), "POST", FormatLeaseAuthorization(earlier));
  ASSERT_TRUE(genuine.ok());
  ASSERT_EQ(genuine->status, 200);
  std::string genuine_mac;
  for (const auto& [name, value] : genuine->headers) {
    if (name == kLeaseAnswerMacHeader) genuine_mac = value;
  }
  ASSERT_FALSE(genuine_mac.empty());
  const std::string other = dir_ + "/other.secret";
  ASSERT_TRUE(EnsureLeaseSecret(other).ok());
  std::shared_ptr<LeaseKeyring> other_keys = OpenKeys(other);
  const std::string forged_mac = other_keys->Sign(LeaseAnswerMessage(earlier, 200, body));
  struct Row {
    const char* name;
    std::string answer;
    const char* says;
  } rows[] = {
      {"no MAC", HttpAnswer(body, ""), "without an answer MAC"},
      {"another key", HttpAnswer(body, forged_mac), "with a wrong answer MAC"},
      {"replayed answer", HttpAnswer(genuine->body, genuine_mac), "with a wrong answer MAC"},
  };
  for (const Row& r : rows) {
    FakeLeaseEndpoint impostor(r.answer);
    ASSERT_NE(impostor.port(), 0);
    Result<LeaseAnswer> a = RequestRenewal("127.0.0.1", impostor.port(), agent, 2s);
    ASSERT_FALSE(a.ok()) << r.name << ": believed a grant it cannot verify";
    EXPECT_EQ(a.status().code(), Status::Code::kUnavailable) << r.name;
    EXPECT_NE(a.status().message().find(r.says), std::string::npos)
        << r.name << ": " << a.status().message();
  }
}

// Rotation as docs/operations.md describes it, with the real server and the
// real keeper: no renewal fails and the agent never fences.
TEST_F(LeaseHttpTest, RotatingTheSecretNeverFencesTheAgent) {
  const std::string server_file = dir_ + "/controller.secret";
  std::filesystem::copy_file(secret_, server_file);
  LeaseService service(LeaseGrantor("primary", 900ms), clock_, "");
  auto server = LeaseServer::Start("127.0.0.1", 0, service, OpenKeys(server_file));
  ASSERT_TRUE(server.ok());
  std::atomic<int> fences{0};
  LeaseEffects effects{[&] {
                         ++fences;
                         return Status::OK();
                       },
                       [] { return Status::OK(); }};
  LeaseKeeperOptions o;
  o.controller = "127.0.0.1:" + std::to_string((*server)->port());
  o.holder = "primary";
  o.secret_file = secret_;
  o.keeper.retry_every = 100ms;
  std::atomic<bool> stop{false};
  std::thread keeper([&] { RunLeaseKeeper(o, effects, clock_, stop); });
  // After each step the keeper's renewals go on for a whole lease duration (so
  // a keeper that did not believe the answers would have fenced by then), and
  // the agent's client verifies the controller's answers (a signed read).
  std::shared_ptr<LeaseKeyring> agent_keys = OpenKeys(secret_);
  LeaseSigner reader(agent_keys, "primary", clock_);
  auto renewed_after = [&](WallTime t) {
    const bool renewed =
        WaitFor(5s, [&] { return service.ExpiresAt() && *service.ExpiresAt() > t + 2 * 900ms; });
    EXPECT_TRUE(agent_keys->Refresh().ok());
    Result<std::string> state = RequestLeaseState("127.0.0.1", (*server)->port(), reader, 2s);
    EXPECT_TRUE(state.ok()) << state.status().ToString();
    EXPECT_EQ(fences.load(), 0);
    return renewed;
  };
  auto replace = [](const std::string& path, const std::string& text) {
    const std::string tmp = path + ".new";
    {
      std::ofstream out(tmp);
      out << text;
    }
    chmod(tmp.c_str(), 0600);
    std::filesystem::rename(tmp, path);
  };
  std::ifstream in(secret_);
  std::string old_key;
  std::getline(in, old_key);
  const std::string new_key(64, 'e');
  ASSERT_TRUE(renewed_after(clock_.Now()));
  replace(server_file, new_key + "\n" + old_key + "\n");  // 1. the controller accepts both
  ASSERT_TRUE(renewed_after(clock_.Now()));
  replace(secret_, new_key + "\n");  // 2. the agent signs with the new key
  ASSERT_TRUE(renewed_after(clock_.Now()));
  replace(server_file, new_key + "\n");  // 3. the old key is gone
  ASSERT_TRUE(renewed_after(clock_.Now()));
  EXPECT_EQ(fences.load(), 0);
  // An agent still on the old key now gets no lease.
  const std::string stale = dir_ + "/stale.secret";
  replace(stale, old_key + "\n");
  LeaseSigner old_agent(OpenKeys(stale), "primary", clock_);
  Result<LeaseAnswer> refused = RequestRenewal("127.0.0.1", (*server)->port(), old_agent, 2s);
  EXPECT_FALSE(refused.ok());
  stop = true;
  keeper.join();
}

// 1,500 idle connections (re-opened as fast as the server closes them) against
// a lease server whose process may hold only 1,024 descriptors, the limit at
// which the old server ran out and the agent, unable to renew, fenced its own
// healthy PostgreSQL. The real server, the real keeper loop in the same
// process (it needs descriptors too), the attacker in a child process.
// ---- What one client may hold (http/client_bounds.h) ------------------------------

// A connection to the lease server on 127.0.0.1 from another loopback address
// (`source`), with a 5 s receive timeout; -1 when it cannot connect.
int ConnectFrom(const char* source, uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in from{};
  from.sin_family = AF_INET;
  inet_pton(AF_INET, source, &from.sin_addr);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0 ||
      connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    close(fd);
    return -1;
  }
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

bool SendText(int fd, const std::string& s) {
  return send(fd, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size());
}

// What the server sent until it closed (or 5 s of silence); `closed` says which.
std::string ReadToClose(int fd, bool* closed = nullptr) {
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (closed != nullptr) *closed = n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
    return out;
  }
}

// A request whose body never comes, or a chunked body that never ends, is cut
// off at the request deadline without an answer.
TEST_F(LeaseHttpTest, ANeverFinishedBodyIsCutOffAtTheRequestDeadline) {
  LeaseService service(LeaseGrantor("primary", 6s), clock_, "");
  LeaseServerOptions options;
  options.request_deadline = 300ms;
  auto server = Serve(service, options);
  ASSERT_TRUE(server);
  const int never = ConnectFrom("127.0.0.1", server->port());
  ASSERT_GE(never, 0);
  ASSERT_TRUE(SendText(never, "POST /v1/lease HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"));
  const int drip = ConnectFrom("127.0.0.1", server->port());
  ASSERT_GE(drip, 0);
  ASSERT_TRUE(SendText(drip, "POST /v1/lease HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"));
  std::atomic<bool> stop{false};
  std::thread dripping([&] {
    while (!stop && SendText(drip, "1\r\nx\r\n")) std::this_thread::sleep_for(50ms);
  });
  bool closed_never = false, closed_drip = false;
  EXPECT_EQ(ReadToClose(never, &closed_never), "");
  EXPECT_EQ(ReadToClose(drip, &closed_drip), "");
  stop = true;
  dripping.join();
  close(never);
  close(drip);
  EXPECT_TRUE(closed_never) << "a body that never came held the connection";
  EXPECT_TRUE(closed_drip) << "a chunked body that never ended held the connection";
  EXPECT_FALSE(service.ExpiresAt().has_value());
}

// Headers over the limit are answered 431, a body announced over it 413, before
// more is read.
TEST_F(LeaseHttpTest, OversizedHeadersAndBodiesAreAnsweredAtOnce) {
  LeaseService service(LeaseGrantor("primary", 6s), clock_, "");
  auto server = Serve(service);
  ASSERT_TRUE(server);
  auto status_of = [&](const std::string& request) {
    const int fd = ConnectFrom("127.0.0.1", server->port());
    if (fd < 0) return std::string("no connection");
    SendText(fd, request);
    const std::string r = ReadToClose(fd);
    close(fd);
    return r.substr(0, r.find("\r\n"));
  };
  EXPECT_EQ(status_of("POST /v1/lease HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(5000, 'a') +
                      "\r\n\r\n"),
            "HTTP/1.1 431 Request Header Fields Too Large");
  EXPECT_EQ(status_of("POST /v1/lease HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n"),
            "HTTP/1.1 413 Payload Too Large");
}

// A flood from one address pushes out only its own connections: another
// address's session, still reading its (slow) request, survives it and is
// answered. Without a per-client share, the flood at the cap would push out the
// oldest reading session of anyone: the agent's.
TEST_F(LeaseHttpTest, AFloodFromOneAddressPushesOutOnlyItsOwn) {
  LeaseService service(LeaseGrantor("primary", 6s), clock_, "");
  LeaseServerOptions options;
  options.max_connections = 8;
  options.max_connections_per_client = 2;
  options.request_deadline = 20s;
  auto server = Serve(service, options);
  ASSERT_TRUE(server);
  const int agent = ConnectFrom("127.0.0.3", server->port());
  ASSERT_GE(agent, 0);
  ASSERT_TRUE(SendText(agent, "POST /v1/lease HTTP/1.1\r\n"));  // the rest comes later
  std::vector<int> flood;
  for (int i = 0; i < 20; ++i) {
    const int fd = ConnectFrom("127.0.0.2", server->port());
    ASSERT_GE(fd, 0);
    flood.push_back(fd);
  }
  // Every flood connection beyond its share of 2 is pushed out by the next one.
  auto closed_flood = [&] {
    int closed = 0;
    for (int fd : flood) {
      char c;
      const ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT | MSG_PEEK);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) ++closed;
    }
    return closed;
  };
  EXPECT_TRUE(WaitFor(5s, [&] { return closed_flood() >= 18; })) << closed_flood();
  LeaseSigner signer(keys_, "primary", clock_);
  const std::string body = R"({"holder":"primary"})";
  ASSERT_TRUE(SendText(agent, "Host: x\r\nAuthorization: " +
                                  FormatLeaseAuthorization(signer.Sign("POST")) +
                                  "\r\nContent-Type: application/json\r\nContent-Length: " +
                                  std::to_string(body.size()) + "\r\n\r\n" + body));
  const std::string answer = ReadToClose(agent);
  close(agent);
  for (int fd : flood) close(fd);
  EXPECT_EQ(answer.substr(0, answer.find("\r\n")), "HTTP/1.1 200 OK") << answer;
  EXPECT_TRUE(service.ExpiresAt().has_value());
}

class LeaseFloodTest : public LeaseHttpTest {
 protected:
  // Floods the real server with 1,500 connections that each send `opening`,
  // while the real keeper renews; expects no fence and renewals throughout.
  void FloodAndExpectNoFence(const std::string& opening);
};

void LeaseFloodTest::FloodAndExpectNoFence(const std::string& opening) {
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  rlimit low = saved;
  low.rlim_cur = 1024;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  struct Restore {
    rlimit r;
    ~Restore() { setrlimit(RLIMIT_NOFILE, &r); }
  } restore{saved};

  constexpr Duration kLease = 3s;  // renewed every 1 s, fenced 0.5 s before it ends
  LeaseService service(LeaseGrantor("primary", kLease), clock_, "");
  auto server = Serve(service);
  ASSERT_TRUE(server);
  std::atomic<int> fences{0};
  LeaseEffects effects{[&] {
                         ++fences;
                         return Status::OK();
                       },
                       [] { return Status::OK(); }};
  LeaseKeeperOptions o;
  o.controller = "127.0.0.1:" + std::to_string(server->port());
  o.holder = "primary";
  o.secret_file = secret_;
  std::atomic<bool> stop{false};
  std::thread keeper([&] { RunLeaseKeeper(o, effects, clock_, stop); });
  ASSERT_TRUE(WaitFor(5s, [&] { return service.ExpiresAt().has_value(); }));

  testing::ConnectionFlood flood(server->port(), 1500, opening);
  ASSERT_TRUE(flood.started());
  const bool held = WaitFor(20s, [&] { return flood.ready(); });
  // The attack lasts three lease durations: without renewals the agent would
  // have fenced twice over. Waiting is the attack here, not a synchronisation.
  const WallTime flood_at = clock_.Now();
  std::this_thread::sleep_for(3 * kLease);
  const WallTime expiry_during_flood = *service.ExpiresAt();
  const int fences_during_flood = fences.load();
  const uint64_t closed = flood.closed_by_server();
  flood.Stop();
  std::cout << "flood: 1500 " << (opening.empty() ? "idle" : "slow") << " connections held, "
            << closed
            << " of them closed by the server and re-opened; agent fences: " << fences_during_flood
            << "; last grant " << FormatDuration(expiry_during_flood - kLease - flood_at)
            << " after the flood began\n";
  stop = true;
  keeper.join();
  EXPECT_TRUE(held) << "the flood never held its 1,500 connections at once";
  EXPECT_EQ(fences_during_flood, 0) << "the agent fenced a healthy primary";
  // Renewals got through until the end: the last grant came in the attack's
  // final lease duration.
  EXPECT_GT(expiry_during_flood, flood_at + 2 * kLease) << "no renewal got through the flood";
}

TEST_F(LeaseFloodTest, IdleConnectionsNeverMakeTheAgentFenceAHealthyPrimary) {
  FloodAndExpectNoFence("");
}

// Slow clients: each connection sends the start of a request and then nothing
// (a session that is "busy" reading until its deadline). The oldest one still
// reading is pushed out all the same.
TEST_F(LeaseFloodTest, SlowRequestsNeverMakeTheAgentFenceAHealthyPrimary) {
  FloodAndExpectNoFence("POST /v1/lease HTTP/1.1\r\nHost: x\r\n");
}

// When the controller's process has no descriptor left (its other parts hold
// them all), the lease server still accepts the agent's renewal and records the
// grant, with the descriptors it keeps in reserve, instead of spinning on
// accept. The agent is another process here, as in production.
TEST_F(LeaseHttpTest, WithNoDescriptorLeftTheServerStillAnswersAndRecordsTheRenewal) {
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  rlimit low = saved;
  low.rlim_cur = 1024;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  struct Restore {
    rlimit r;
    ~Restore() { setrlimit(RLIMIT_NOFILE, &r); }
  } restore{saved};
  LeaseService service(LeaseGrantor("primary", 6s), clock_, dir_ + "/lease");
  auto server = Serve(service);
  ASSERT_TRUE(server);
  LeaseSigner agent(keys_, "primary", clock_);
  int go[2];
  ASSERT_EQ(pipe(go), 0);
  const uint16_t port = server->port();
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(go[1]);
    char c;
    if (read(go[0], &c, 1) != 1) _exit(3);
    Result<LeaseAnswer> a = RequestRenewal("127.0.0.1", port, agent, 5s);
    _exit(a.ok() && a->granted ? 0 : 1);
  }
  close(go[0]);
  std::vector<int> held;  // every descriptor this process may still open
  for (;;) {
    const int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0) break;
    held.push_back(fd);
  }
  const int exhausted = errno;
  const bool sent = write(go[1], "g", 1) == 1;
  int status = 0;
  waitpid(child, &status, 0);
  for (int fd : held) close(fd);
  close(go[1]);
  ASSERT_EQ(exhausted, EMFILE);
  ASSERT_TRUE(sent);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "the agent's renewal failed while descriptors ran short";
  EXPECT_TRUE(service.ExpiresAt().has_value());
  // Recorded: a restarted controller waits it out.
  LeaseService restarted(LeaseGrantor("primary", 6s), clock_, dir_ + "/lease");
  ASSERT_TRUE(restarted.Load().ok());
  EXPECT_EQ(restarted.ExpiresAt(), service.ExpiresAt());
}

}  // namespace
}  // namespace pilotlight::controller
