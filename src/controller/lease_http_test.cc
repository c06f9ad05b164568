#include "controller/lease_http.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

namespace pilotlight::controller {
namespace {

using namespace std::chrono_literals;

bool WaitFor(Duration timeout, const std::function<bool()>& condition) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return condition();
}

class LeaseHttpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/pilotlight-lease-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
  SystemClock& clock_ = SystemClock::Instance();
};

TEST_F(LeaseHttpTest, GrantsOverHttpAndRecordsTheExpiryFirst) {
  LeaseService service(LeaseGrantor("primary", 6s), clock_, dir_ + "/lease");
  auto server = LeaseServer::Start("127.0.0.1", 0, service);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  Result<LeaseAnswer> a = RequestRenewal("127.0.0.1", (*server)->port(), "primary", 2s);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_TRUE(a->granted);
  EXPECT_EQ(a->duration, 6s);
  ASSERT_TRUE(service.ExpiresAt().has_value());

  // A new controller process restores the expiry from the state file.
  LeaseService restarted(LeaseGrantor("primary", 6s), clock_, dir_ + "/lease");
  ASSERT_TRUE(restarted.Load().ok());
  EXPECT_EQ(restarted.ExpiresAt(), service.ExpiresAt());
}

TEST_F(LeaseHttpTest, RefusalsCarryTheControllersReason) {
  LeaseService service(LeaseGrantor("primary", 6s), clock_, "");
  auto server = LeaseServer::Start("127.0.0.1", 0, service);
  ASSERT_TRUE(server.ok());
  service.SetGranting(false, "failing over to dr");
  Result<LeaseAnswer> a = RequestRenewal("127.0.0.1", (*server)->port(), "primary", 2s);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_FALSE(a->granted);
  EXPECT_EQ(a->reason, "failing over to dr");
  EXPECT_FALSE(a->fence_now);
  service.Revoke("failed over to dr");
  Result<LeaseAnswer> revoked = RequestRenewal("127.0.0.1", (*server)->port(), "primary", 2s);
  ASSERT_TRUE(revoked.ok());
  EXPECT_TRUE(revoked->fence_now);
  Result<LeaseAnswer> other = RequestRenewal("127.0.0.1", (*server)->port(), "dr", 2s);
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(other->granted);
}

TEST_F(LeaseHttpTest, NoServerIsUnavailableNotACrash) {
  // A port nobody listens on: bind one, close it.
  LeaseService service(LeaseGrantor("primary", 6s), clock_, "");
  uint16_t port = 0;
  {
    auto server = LeaseServer::Start("127.0.0.1", 0, service);
    ASSERT_TRUE(server.ok());
    port = (*server)->port();
  }
  Result<LeaseAnswer> a = RequestRenewal("127.0.0.1", port, "primary", 500ms);
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
}

TEST_F(LeaseHttpTest, BadRequestsGetClearErrors) {
  LeaseService service(LeaseGrantor("primary", 6s), clock_, "");
  auto server = LeaseServer::Start("127.0.0.1", 0, service);
  ASSERT_TRUE(server.ok());
  const std::string base = "curl -s -o - -w ' %{http_code}' http://127.0.0.1:" +
                           std::to_string((*server)->port());
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
  const std::string bad = run(base + "/v1/lease -d 'not json'");
  EXPECT_NE(bad.find("expected a JSON object"), std::string::npos) << bad;
  EXPECT_NE(bad.find(" 400"), std::string::npos) << bad;
  EXPECT_NE(run(base + "/elsewhere").find(" 404"), std::string::npos);
  EXPECT_NE(run(base + "/v1/lease -X DELETE").find(" 405"), std::string::npos);
  EXPECT_NE(run(base + "/v1/lease").find("\"granting\":true"), std::string::npos);
  EXPECT_FALSE(service.ExpiresAt().has_value());  // none of these granted anything
}

// The keeper loop against a real lease server: it holds the lease while the
// controller grants it, fences once the controller goes away, and lifts its own
// fence when a controller grants the lease again.
TEST_F(LeaseHttpTest, KeeperFencesWhenTheControllerGoesAwayAndUnfencesOnRegrant) {
  LeaseService service(LeaseGrantor("primary", 600ms), clock_, "");
  auto server = LeaseServer::Start("127.0.0.1", 0, service);
  ASSERT_TRUE(server.ok());
  const uint16_t port = (*server)->port();
  std::atomic<int> fences{0}, unfences{0};
  LeaseEffects effects{[&] { ++fences; return Status::OK(); },
                       [&] { ++unfences; return Status::OK(); }};
  LeaseKeeperOptions o;
  o.controller = "127.0.0.1:" + std::to_string(port);
  o.holder = "primary";
  o.request_timeout = 200ms;
  o.keeper.retry_every = 100ms;
  std::atomic<bool> stop{false};
  std::thread keeper([&] { RunLeaseKeeper(o, effects, clock_, stop); });
  ASSERT_TRUE(WaitFor(2s, [&] { return service.ExpiresAt().has_value(); }));
  const WallTime stopped_at = clock_.Now();
  (*server)->Stop();
  ASSERT_TRUE(WaitFor(3s, [&] { return fences.load() == 1; }));
  // It fenced before the controller's own view of the lease ran out.
  EXPECT_LT(clock_.Now(), *service.ExpiresAt() + 200ms);
  EXPECT_GE(clock_.Now(), stopped_at);
  EXPECT_EQ(unfences.load(), 0);

  LeaseService again(LeaseGrantor("primary", 600ms), clock_, "");
  auto server2 = LeaseServer::Start("127.0.0.1", port, again);
  ASSERT_TRUE(server2.ok()) << server2.status().ToString();
  EXPECT_TRUE(WaitFor(3s, [&] { return unfences.load() == 1; }));
  EXPECT_EQ(fences.load(), 1);
  stop = true;
  keeper.join();
}

}  // namespace
}  // namespace pilotlight::controller
