// The leader election's etcd with its own authentication on (a real etcd started
// by the test, no lab): an open etcd lets anyone take the leader key, which is
// the attack; once auth is enabled an anonymous client, or one with a wrong
// password, gets nothing, and pilotlight's client, logged in, campaigns and
// keeps its session across the expiry of etcd's auth token.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "controller/leader.h"
#include "controller_fixture.h"

namespace pilotlight {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;
using testing::ReadAll;
using testing::WaitFor;

constexpr char kKey[] = "/pilotlight/auth-test/leader";

std::string Base64(const std::string& in) {
  static constexpr char kChars[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  int val = 0, bits = -6;
  for (unsigned char c : in) {
    val = (val << 8) + c;
    bits += 8;
    while (bits >= 0) {
      out.push_back(kChars[(val >> bits) & 0x3F]);
      bits -= 6;
    }
  }
  if (bits > -6) out.push_back(kChars[((val << 8) >> (bits + 8)) & 0x3F]);
  while (out.size() % 4) out.push_back('=');
  return out;
}

class EtcdAuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    client_port_ = testing::PickPort("127.0.0.1");
    peer_port_ = testing::PickPort("127.0.0.1");
    const std::string peer = "http://127.0.0.1:" + std::to_string(peer_port_);
    // Auth tokens that expire after 2 s, so the test sees the client log in again.
    children_.Spawn("/usr/bin/etcd",
                    {"--name", "pl-auth", "--data-dir", dir_.path() + "/etcd",
                     "--listen-client-urls", Url(), "--advertise-client-urls", Url(),
                     "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                     "--initial-cluster", "pl-auth=" + peer, "--auth-token", "simple",
                     "--auth-token-ttl", "2"},
                    dir_.path() + "/etcd.log");
    ASSERT_TRUE(WaitFor(20s, [&] {
      return Curl("/health", "").find("\"health\":\"true\"") != std::string::npos;
    })) << ReadAll(dir_.path() + "/etcd.log");
    password_file_ = dir_.path() + "/etcd.password";
    std::ofstream(password_file_) << "s3cret-for-pilotlight\n";
    chmod(password_file_.c_str(), 0600);
    wrong_file_ = dir_.path() + "/wrong.password";
    std::ofstream(wrong_file_) << "guessed\n";
    chmod(wrong_file_.c_str(), 0600);
  }

  std::string Url() const { return "http://127.0.0.1:" + std::to_string(client_port_); }

  // POSTs `body` to `path` with curl (the operator's side: etcdctl is not
  // installed), with an auth token when given; returns the answer.
  std::string Curl(const std::string& path, const std::string& body,
                   const std::string& token = "") const {
    std::string cmd = "curl -s -m 2 ";
    if (!token.empty()) cmd += "-H 'Authorization: " + token + "' ";
    if (!body.empty()) cmd += "-X POST -d '" + body + "' ";
    cmd += Url() + path + " 2>/dev/null";
    std::string out;
    FILE* p = popen(cmd.c_str(), "r");
    if (p == nullptr) return out;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    pclose(p);
    return out;
  }

  // What an operator does: a root user, a user for pilotlight whose role may
  // read and write only under /pilotlight/, then `auth enable`.
  void EnableAuth() {
    const std::vector<std::pair<std::string, std::string>> calls = {
        {"/v3/auth/role/add", R"({"name":"root"})"},
        {"/v3/auth/user/add", R"({"name":"root","password":"root-pw"})"},
        {"/v3/auth/user/grant", R"({"user":"root","role":"root"})"},
        {"/v3/auth/role/add", R"({"name":"pilotlight-leader"})"},
        {"/v3/auth/role/grant",
         json{{"name", "pilotlight-leader"},
              {"perm",
               {{"permType", "READWRITE"},
                {"key", Base64("/pilotlight/")},
                {"range_end", Base64("/pilotlight0")}}}}
             .dump()},
        {"/v3/auth/user/add", R"({"name":"pilotlight","password":"s3cret-for-pilotlight"})"},
        {"/v3/auth/user/grant", R"({"user":"pilotlight","role":"pilotlight-leader"})"},
        {"/v3/auth/enable", "{}"},
    };
    for (const auto& [path, body] : calls) {
      const std::string answer = Curl(path, body);
      ASSERT_EQ(answer.find("error"), std::string::npos) << path << ": " << answer;
      ASSERT_NE(answer.find("header"), std::string::npos) << path << ": " << answer;
    }
  }

  controller::EtcdClient Client(const std::string& user, const std::string& password_file) const {
    return controller::EtcdClient({Url()}, 2s, user, password_file);
  }

  testing::ScratchDir dir_;
  testing::ChildProcesses children_;
  uint16_t client_port_ = 0;
  uint16_t peer_port_ = 0;
  std::string password_file_;
  std::string wrong_file_;
};

TEST_F(EtcdAuthTest, OnlyTheLoggedInUserMayCampaignForTheLeaderKey) {
  // The attack, on an etcd without auth: anyone may write the leader key.
  controller::EtcdClient anonymous = Client("", "");
  ASSERT_TRUE(anonymous.Put(kKey, "intruder").ok());
  Result<std::optional<std::string>> taken = anonymous.Get(kKey);
  ASSERT_TRUE(taken.ok() && *taken == std::optional<std::string>("intruder"));
  ASSERT_NO_FATAL_FAILURE(EnableAuth());

  // With auth on: no campaign, no write, no read for an anonymous client (etcd
  // 3.4 still grants it a lease: leases are not permission-checked, keys are).
  Result<std::pair<int64_t, Duration>> grant = anonymous.Grant(5s);
  if (grant.ok()) {
    Result<controller::CampaignResult> campaign =
        anonymous.Campaign(kKey, "intruder-again", grant->first);
    EXPECT_FALSE(campaign.ok());
  }
  EXPECT_FALSE(anonymous.Put(kKey, "intruder-again").ok());
  Result<std::optional<std::string>> peek = anonymous.Get(kKey);
  EXPECT_FALSE(peek.ok());

  // A wrong password: refused at the login, and the error says so.
  controller::EtcdClient guesser = Client("pilotlight", wrong_file_);
  Result<std::pair<int64_t, Duration>> guessed = guesser.Grant(5s);
  ASSERT_FALSE(guessed.ok());
  EXPECT_NE(guessed.status().message().find("etcd login as pilotlight"), std::string::npos)
      << guessed.status().ToString();
  EXPECT_EQ(guessed.status().message().find("guessed"), std::string::npos)
      << "the error must not carry the password";

  // pilotlight, logged in: a session and the leader key (the intruder's value
  // was written without a lease; a campaign compares the key's creation, so
  // the test clears it as the root user would).
  const std::string root_token =
      json::parse(Curl("/v3/auth/authenticate", R"({"name":"root","password":"root-pw"})"),
                  nullptr, false)
          .value("token", "");
  ASSERT_FALSE(root_token.empty());
  ASSERT_EQ(Curl("/v3/kv/deleterange", json{{"key", Base64(kKey)}}.dump(), root_token)
                .find("error"),
            std::string::npos);
  controller::EtcdClient pilotlight = Client("pilotlight", password_file_);
  Result<std::pair<int64_t, Duration>> session = pilotlight.Grant(5s);
  ASSERT_TRUE(session.ok()) << session.status().ToString();
  Result<controller::CampaignResult> won = pilotlight.Campaign(kKey, "controller-a", session->first);
  ASSERT_TRUE(won.ok()) << won.status().ToString();
  Result<std::optional<std::string>> leader = pilotlight.Get(kKey);
  ASSERT_TRUE(leader.ok()) << leader.status().ToString();
  EXPECT_EQ(*leader, std::optional<std::string>("controller-a"));

  // etcd's token expires after 2 s without use (--auth-token-ttl 2): idle for
  // 3 s (time passing is what is tested, not a wait for something); the next
  // read is refused the expired token, and the client logs in again.
  SystemClock::Instance().SleepFor(3s);
  Result<std::optional<std::string>> still = pilotlight.Get(kKey);  // keys are checked
  ASSERT_TRUE(still.ok()) << still.status().ToString();
  EXPECT_EQ(*still, std::optional<std::string>("controller-a"));
  const std::string stale_token_answer = Curl("/v3/kv/range", json{{"key", Base64(kKey)}}.dump(),
                                              "an-expired-or-forged-token");
  EXPECT_NE(stale_token_answer.find("invalid auth token"), std::string::npos)
      << stale_token_answer;
}

}  // namespace
}  // namespace pilotlight
