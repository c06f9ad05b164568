// Topics and subscribers against real local endpoints: a webhook server, real
// commands, real files. A dead subscriber must not stop the others.
#include "notify/notify.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "notify/webhook_test_server.h"
#include "testing/wait.h"

namespace pilotlight::notify {
namespace {

using namespace std::chrono_literals;
using pilotlight::testing::WaitFor;
using testing::WebhookTestServer;

std::string TempPath(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          ("pilotlight-notify-" + std::to_string(getpid()) + "-" + name))
      .string();
}

std::vector<std::string> Lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

SubscriberSpec File(const std::string& name, const std::string& path) {
  SubscriberSpec s;
  s.name = name;
  s.kind = SubscriberKind::kFile;
  s.path = path;
  return s;
}

TEST(HmacTest, Rfc4231TestCase2) {
  EXPECT_EQ(HmacSha256Hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(Signature("Jefe", "what do ya want for nothing?").substr(0, 15), "sha256=5bdcc146");
}

TEST(NotifierTest, ValidatesTopics) {
  SubscriberSpec hook;
  hook.name = "hook";
  hook.kind = SubscriberKind::kWebhook;
  hook.url = "ftp://example.com/x";
  SubscriberSpec exec;
  exec.name = "hook";
  exec.kind = SubscriberKind::kExec;
  SubscriberSpec plain_with_ca;
  plain_with_ca.name = "plain";
  plain_with_ca.kind = SubscriberKind::kWebhook;
  plain_with_ca.url = "http://127.0.0.1:9/x";
  plain_with_ca.ca_file = "/etc/hostname";
  SubscriberSpec missing_ca;
  missing_ca.name = "missing";
  missing_ca.kind = SubscriberKind::kWebhook;
  missing_ca.url = "https://127.0.0.1:9/x";
  missing_ca.ca_file = "/nonexistent/ca.pem";
  Status st =
      ValidateTopics({{"ops", {hook, exec}}, {"ops", {}}, {"tls", {plain_with_ca, missing_ca}}});
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("expected an http:// or https:// URL, found 'ftp://example.com/x'"),
            std::string::npos)
      << st.message();
  EXPECT_NE(st.message().find("ca_file: applies to https:// URLs only"), std::string::npos)
      << st.message();
  EXPECT_NE(st.message().find("ca_file: cannot read '/nonexistent/ca.pem'"), std::string::npos)
      << st.message();
  EXPECT_NE(st.message().find("expected a unique non-empty name, found 'hook'"), std::string::npos);
  EXPECT_NE(st.message().find("command: expected a command"), std::string::npos);
  EXPECT_NE(st.message().find("duplicate topic name 'ops'"), std::string::npos);
}

TEST(NotifierTest, HttpsUrlsAreValid) {
  for (const char* url :
       {"https://example.com/x", "https://127.0.0.1:8443/hook", "https://[::1]/"}) {
    SubscriberSpec hook;
    hook.name = "hook";
    hook.kind = SubscriberKind::kWebhook;
    hook.url = url;
    EXPECT_TRUE(ValidateTopics({{"ops", {hook}}}).ok()) << url;
  }
}

TEST(NotifierTest, UnknownTopicIsAnError) {
  auto n = Notifier::Create(SystemClock::Instance(), {{"ops", {}}});
  ASSERT_TRUE(n.ok());
  Status st = (*n)->Publish("nope", "{}");
  EXPECT_EQ(st.code(), Status::Code::kNotFound);
}

TEST(NotifierTest, WebhookIsSignedAndRetriedWithBackoff) {
  WebhookTestServer server(/*fail_first=*/2);
  SubscriberSpec hook;
  hook.name = "ops-hook";
  hook.kind = SubscriberKind::kWebhook;
  hook.url = server.Url("/alerts");
  hook.secret = "s3cret";
  hook.initial_backoff = 50ms;
  hook.timeout = 1s;
  auto n = Notifier::Create(SystemClock::Instance(), {{"ops", {hook}}});
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  const std::string body = R"({"type":"check","check":"primary-pg","to":"unhealthy"})";
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE((*n)->Publish("ops", body).ok());
  ASSERT_TRUE((*n)->WaitIdle(5s));
  // Two failures then success: backoff 50 ms then 100 ms.
  EXPECT_GE(std::chrono::steady_clock::now() - start, 150ms);
  auto reqs = server.Requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].method, "POST");
  EXPECT_EQ(reqs[0].path, "/alerts");
  EXPECT_EQ(reqs[0].body, body);
  EXPECT_EQ(reqs[0].headers["content-type"], "application/json");
  EXPECT_EQ(reqs[0].headers["x-pilotlight-topic"], "ops");
  EXPECT_EQ(reqs[0].headers["x-pilotlight-signature"], "sha256=" + HmacSha256Hex("s3cret", body));
  EXPECT_NE(reqs[0].headers["x-pilotlight-signature"],
            "sha256=" + HmacSha256Hex("wrong", body));
  auto attempts = (*n)->Attempts();
  ASSERT_EQ(attempts.size(), 3u);
  EXPECT_FALSE(attempts[0].ok);
  EXPECT_EQ(attempts[0].detail, "HTTP 500");
  EXPECT_FALSE(attempts[1].final);
  EXPECT_TRUE(attempts[2].ok);
  EXPECT_TRUE(attempts[2].final);
  EXPECT_EQ(attempts[2].attempt, 3);
}

TEST(NotifierTest, GivesUpAtTheDeadline) {
  SubscriberSpec hook;
  hook.name = "nobody";
  hook.kind = SubscriberKind::kWebhook;
  {
    WebhookTestServer closed;
    hook.url = closed.Url();
  }  // nothing listens there any more
  hook.initial_backoff = 20ms;
  hook.max_backoff = 40ms;
  hook.deadline = 200ms;
  auto n = Notifier::Create(SystemClock::Instance(), {{"ops", {hook}}});
  ASSERT_TRUE(n.ok());
  ASSERT_TRUE((*n)->Publish("ops", "{}").ok());
  ASSERT_TRUE((*n)->WaitIdle(3s));
  auto attempts = (*n)->Attempts();
  ASSERT_GE(attempts.size(), 3u);
  EXPECT_TRUE(attempts.back().final);
  EXPECT_FALSE(attempts.back().ok);
  EXPECT_NE(attempts.back().detail.find("deadline 200ms reached"), std::string::npos)
      << attempts.back().detail;
  EXPECT_NE(attempts[0].detail.find("refused"), std::string::npos) << attempts[0].detail;
}

TEST(NotifierTest, ExecGetsTheJsonOnStdinAndFailuresAreReported) {
  const std::string out = TempPath("exec.json");
  std::filesystem::remove(out);
  SubscriberSpec good;
  good.name = "cat";
  good.kind = SubscriberKind::kExec;
  good.command = {"sh", "-c", "cat > '" + out + "'"};
  SubscriberSpec bad;
  bad.name = "fails";
  bad.kind = SubscriberKind::kExec;
  bad.command = {"sh", "-c", "echo pager service down >&2; exit 3"};
  bad.deadline = 1ms;  // one attempt
  SubscriberSpec missing = bad;
  missing.name = "missing";
  missing.command = {"/nonexistent/pager"};
  auto n = Notifier::Create(SystemClock::Instance(), {{"ops", {good, bad, missing}}});
  ASSERT_TRUE(n.ok());
  ASSERT_TRUE((*n)->Publish("ops", R"({"a":1})").ok());
  ASSERT_TRUE((*n)->WaitIdle(5s));
  std::ifstream in(out);
  std::string got((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(got, R"({"a":1})");
  std::map<std::string, DeliveryAttempt> by;
  for (const auto& a : (*n)->Attempts()) by[a.subscriber] = a;
  EXPECT_TRUE(by["cat"].ok);
  EXPECT_FALSE(by["fails"].ok);
  EXPECT_NE(by["fails"].detail.find("exit 3: pager service down"), std::string::npos)
      << by["fails"].detail;
  EXPECT_FALSE(by["missing"].ok);
  std::filesystem::remove(out);
}

TEST(NotifierTest, CommandThatIgnoresStdinDoesNotKillTheProcess) {
  SubscriberSpec deaf;
  deaf.name = "deaf";
  deaf.kind = SubscriberKind::kExec;
  deaf.command = {"true"};  // exits at once: writing 1 MiB to its stdin hits EPIPE
  auto n = Notifier::Create(SystemClock::Instance(), {{"ops", {deaf}}});
  ASSERT_TRUE(n.ok());
  ASSERT_TRUE((*n)->Publish("ops", "\"" + std::string(1 << 20, 'x') + "\"").ok());
  ASSERT_TRUE((*n)->WaitIdle(5s));  // still alive (no SIGPIPE)
  ASSERT_EQ((*n)->Attempts().size(), 1u);
  EXPECT_TRUE((*n)->Attempts()[0].ok) << (*n)->Attempts()[0].detail;
}

TEST(NotifierTest, HungSubscribersDoNotDelayOthers) {
  WebhookTestServer hung(0, /*hang=*/true);
  const std::string path = TempPath("lines.jsonl");
  std::filesystem::remove(path);
  SubscriberSpec hook;
  hook.name = "hung-hook";
  hook.kind = SubscriberKind::kWebhook;
  hook.url = hung.Url();
  hook.timeout = 1s;
  SubscriberSpec sleeper;
  sleeper.name = "sleeper";
  sleeper.kind = SubscriberKind::kExec;
  sleeper.command = {"sleep", "30"};
  sleeper.timeout = 300ms;
  sleeper.deadline = 1ms;
  // Two file subscribers append to one file concurrently: lines never interleave.
  auto n = Notifier::Create(SystemClock::Instance(),
                            {{"ops", {hook, sleeper, File("f1", path), File("f2", path)}}});
  ASSERT_TRUE(n.ok());
  const auto start = std::chrono::steady_clock::now();
  const std::string pad(300, 'p');
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE((*n)->Publish("ops", R"({"i":)" + std::to_string(i) + R"(,"pad":")" + pad +
                                          "\"}").ok());
  }
  // The files fill up while the webhook is still stuck on its first message (a
  // Publish that waited for the hook, 1 s a message, would have moved it on).
  std::vector<std::string> lines;
  WaitFor(10s, [&] { return (lines = Lines(path)).size() >= 400; });
  ASSERT_EQ(lines.size(), 400u);
  std::multiset<std::string> seen(lines.begin(), lines.end());
  for (int i = 0; i < 200; ++i) {
    EXPECT_EQ(seen.count(R"({"i":)" + std::to_string(i) + R"(,"pad":")" + pad + "\"}"), 2u) << i;
  }
  EXPECT_EQ(hung.attempts(), 1);  // still on message 1
  (*n)->Stop();                   // drops what the hung ones still hold, and returns
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace pilotlight::notify
