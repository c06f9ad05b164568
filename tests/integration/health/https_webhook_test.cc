// HTTPS webhooks against a real local TLS server (Boost.Beast over OpenSSL, in
// this test) with certificates made by the `openssl` CLI in a temporary
// directory: a signed message is received when the subscriber trusts the
// server's certificate (ca_file), with SNI set for a host name; an untrusted
// certificate, a certificate for another name and a plain-HTTP port are each
// refused with a clear reason, and nothing is reported as delivered.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/ssl.h>
#include <poll.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "core/clock.h"
#include "notify/notify.h"
#include "notify/webhook_test_server.h"
#include "test_util.h"
#include "testing/scratch_dir.h"

namespace pilotlight {
namespace {

using pilotlight::testing::ScratchDir;

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

// HMAC-SHA256 computed here with OpenSSL directly, not with the code under test.
std::string ExpectedSignature(const std::string& key, const std::string& body) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac, &len);
  char hex[2 * EVP_MAX_MD_SIZE + 1];
  for (unsigned int i = 0; i < len; ++i) snprintf(hex + 2 * i, 3, "%02x", mac[i]);
  return "sha256=" + std::string(hex, 2 * len);
}

struct Received {
  std::string sni;
  std::string target;
  std::string signature;
  std::string body;
};

// Accepts TLS connections one at a time on 127.0.0.1, records each request
// (and the SNI the client sent), answers 200. Stops in its destructor.
class HttpsTestServer {
 public:
  HttpsTestServer(const std::string& cert, const std::string& key)
      : ctx_(ssl::context::tls_server), acceptor_(ioc_) {
    ctx_.use_certificate_chain_file(cert);
    ctx_.use_private_key_file(key, ssl::context::pem);
    const tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
    acceptor_.open(ep.protocol());
    acceptor_.bind(ep);
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this] { Loop(); });
  }
  ~HttpsTestServer() {
    stop_ = true;
    thread_.join();
  }
  uint16_t port() const { return port_; }
  std::vector<Received> Requests() const {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }
  int handshakes_failed() const { return handshakes_failed_; }

 private:
  void Loop() {
    while (!stop_) {
      pollfd p{acceptor_.native_handle(), POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      beast::error_code ec;
      tcp::socket socket(ioc_);
      acceptor_.accept(socket, ec);
      if (ec) continue;
      timeval tv{3, 0};  // a client that stalls cannot hold the test
      setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      beast::ssl_stream<tcp::socket> stream(std::move(socket), ctx_);
      stream.handshake(ssl::stream_base::server, ec);
      if (ec) {
        ++handshakes_failed_;
        continue;
      }
      Received r;
      if (const char* sni = SSL_get_servername(stream.native_handle(), TLSEXT_NAMETYPE_host_name)) {
        r.sni = sni;
      }
      beast::flat_buffer buffer;
      http::request<http::string_body> req;
      http::read(stream, buffer, req, ec);
      if (ec) continue;
      r.target = std::string(req.target());
      r.signature = std::string(req["X-Pilotlight-Signature"]);
      r.body = req.body();
      {
        std::lock_guard<std::mutex> lock(mu_);
        requests_.push_back(std::move(r));
      }
      http::response<http::string_body> res(http::status::ok, 11);
      res.body() = "ok";
      res.keep_alive(false);
      res.prepare_payload();
      http::write(stream, res, ec);
      stream.shutdown(ec);
    }
  }

  asio::io_context ioc_;
  ssl::context ctx_;
  tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> handshakes_failed_{0};
  mutable std::mutex mu_;
  std::vector<Received> requests_;
  std::thread thread_;
};

class HttpsWebhookTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = scratch_.path();
    // A self-signed certificate valid for 127.0.0.1 and localhost, and one for another name.
    MakeCert("good", "subjectAltName=IP:127.0.0.1,DNS:localhost");
    MakeCert("other", "subjectAltName=DNS:elsewhere.invalid");
  }

  void MakeCert(const std::string& name, const std::string& san) {
    const std::string cmd =
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1"
        " -subj /CN=pilotlight-test-" +
        name + " -addext " + testing::Quote(san) + " -keyout " + testing::Quote(Key(name)) +
        " -out " + testing::Quote(Cert(name)) + " 2>" + testing::Quote(dir_ + "/openssl.err");
    ASSERT_EQ(system(cmd.c_str()), 0) << testing::ReadAll(dir_ + "/openssl.err");
  }
  std::string Cert(const std::string& name) const { return dir_ + "/" + name + ".pem"; }
  std::string Key(const std::string& name) const { return dir_ + "/" + name + ".key"; }

  // A notifier with one webhook subscriber on topic "ops"; short deadline.
  std::unique_ptr<notify::Notifier> MakeNotifier(const std::string& url,
                                                 const std::string& ca_file) {
    notify::SubscriberSpec hook;
    hook.name = "tls-hook";
    hook.kind = notify::SubscriberKind::kWebhook;
    hook.url = url;
    hook.secret = kSecret;
    hook.ca_file = ca_file;
    hook.timeout = 2s;
    hook.initial_backoff = 100ms;
    hook.max_backoff = 200ms;
    hook.deadline = 1s;
    auto n = notify::Notifier::Create(SystemClock::Instance(), {{"ops", {hook}}});
    EXPECT_TRUE(n.ok()) << n.status().ToString();
    return n.ok() ? std::move(*n) : nullptr;
  }

  // Publishes one message and waits until it is delivered or given up.
  static std::vector<notify::DeliveryAttempt> PublishOne(notify::Notifier& n,
                                                         const std::string& json) {
    EXPECT_TRUE(n.Publish("ops", json).ok());
    EXPECT_TRUE(n.WaitIdle(15s));
    return n.Attempts();
  }

  static constexpr const char* kSecret = "tls-test-secret";
  ScratchDir scratch_{"https"};
  std::string dir_;
};

TEST_F(HttpsWebhookTest, SignedMessageArrivesOverVerifiedTls) {
  HttpsTestServer server(Cert("good"), Key("good"));
  auto n = MakeNotifier("https://127.0.0.1:" + std::to_string(server.port()) + "/hook?x=1",
                        Cert("good"));
  ASSERT_NE(n, nullptr);
  const std::string json = R"({"type":"alarm","alarm":"primary-down","to":"ALARM"})";
  const auto attempts = PublishOne(*n, json);
  ASSERT_EQ(attempts.size(), 1u);
  EXPECT_TRUE(attempts[0].ok) << attempts[0].detail;
  EXPECT_EQ(attempts[0].detail, "HTTP 200");
  const auto got = server.Requests();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].target, "/hook?x=1");
  EXPECT_EQ(got[0].body, json);
  EXPECT_EQ(got[0].signature, ExpectedSignature(kSecret, json));
  EXPECT_EQ(got[0].sni, "");  // no SNI for an IP address (RFC 6066)
}

TEST_F(HttpsWebhookTest, HostNameIsSentAsSni) {
  HttpsTestServer server(Cert("good"), Key("good"));
  auto n =
      MakeNotifier("https://localhost:" + std::to_string(server.port()) + "/hook", Cert("good"));
  ASSERT_NE(n, nullptr);
  const auto attempts = PublishOne(*n, R"({"n":1})");
  ASSERT_FALSE(attempts.empty());
  EXPECT_TRUE(attempts.back().ok) << attempts.back().detail;
  const auto got = server.Requests();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].sni, "localhost");
  EXPECT_EQ(got[0].signature, ExpectedSignature(kSecret, R"({"n":1})"));
}

TEST_F(HttpsWebhookTest, UntrustedCertificateIsRejected) {
  HttpsTestServer server(Cert("good"), Key("good"));
  // No ca_file: the system CA store, which has never heard of this self-signed certificate.
  auto n = MakeNotifier("https://127.0.0.1:" + std::to_string(server.port()) + "/hook", "");
  ASSERT_NE(n, nullptr);
  const auto attempts = PublishOne(*n, R"({"n":2})");
  ASSERT_FALSE(attempts.empty());
  for (const notify::DeliveryAttempt& a : attempts) {
    EXPECT_FALSE(a.ok) << a.detail;
    EXPECT_NE(a.detail.find("is not trusted"), std::string::npos) << a.detail;
    EXPECT_NE(a.detail.find("self-signed certificate"), std::string::npos) << a.detail;
    EXPECT_NE(a.detail.find("ca_file"), std::string::npos) << a.detail;
  }
  EXPECT_TRUE(attempts.back().final);
  EXPECT_TRUE(server.Requests().empty());
  EXPECT_TRUE(testing::WaitFor(5s, [&] { return server.handshakes_failed() >= 1; }));
}

TEST_F(HttpsWebhookTest, CertificateForAnotherNameIsRejected) {
  HttpsTestServer server(Cert("other"), Key("other"));
  // Trusted, but issued for elsewhere.invalid, not for 127.0.0.1.
  auto n =
      MakeNotifier("https://127.0.0.1:" + std::to_string(server.port()) + "/hook", Cert("other"));
  ASSERT_NE(n, nullptr);
  const auto attempts = PublishOne(*n, R"({"n":3})");
  ASSERT_FALSE(attempts.empty());
  for (const notify::DeliveryAttempt& a : attempts) {
    EXPECT_FALSE(a.ok) << a.detail;
    EXPECT_NE(a.detail.find("is not valid for '127.0.0.1'"), std::string::npos) << a.detail;
  }
  EXPECT_TRUE(server.Requests().empty());
}

TEST_F(HttpsWebhookTest, PlainHttpPortFailsTheHandshakeCleanly) {
  notify::testing::WebhookTestServer plain;
  auto n =
      MakeNotifier("https://127.0.0.1:" + std::to_string(plain.port()) + "/hook", Cert("good"));
  ASSERT_NE(n, nullptr);
  const auto attempts = PublishOne(*n, R"({"n":4})");
  ASSERT_FALSE(attempts.empty());
  for (const notify::DeliveryAttempt& a : attempts) {
    EXPECT_FALSE(a.ok) << a.detail;
    EXPECT_NE(a.detail.find("TLS handshake with 127.0.0.1:"), std::string::npos) << a.detail;
  }
}

TEST_F(HttpsWebhookTest, WatchPostsToAnHttpsWebhookWithItsCaFile) {
  HttpsTestServer server(Cert("good"), Key("good"));
  // A TCP check on a closed port: it goes unhealthy, and the transition is posted.
  const std::string config = dir_ + "/platform.yaml";
  const testing::ClosedPort closed;
  std::ofstream(config) << "platform: https-webhook\n"
                           "regions:\n"
                           "  - {name: primary, role: primary, address: 127.0.1.1}\n"
                           "  - {name: dr, role: dr, address: 127.0.2.1}\n"
                           "health_checks:\n"
                           "  - {name: gone, type: tcp, host: 127.0.0.1, port: "
                        << closed.port()
                        << ", interval: 100ms, failure_threshold: 1}\n";
  setenv("PILOTLIGHT_HTTPS_TEST_SECRET", kSecret, 1);
  testing::CommandResult r = testing::RunPilotlight(
      {"watch", "--config", config, "--duration", "2s", "--webhook",
       "https://localhost:" + std::to_string(server.port()) + "/hook", "--webhook-ca-file",
       Cert("good"), "--webhook-secret-env", "PILOTLIGHT_HTTPS_TEST_SECRET"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const auto got = server.Requests();
  ASSERT_FALSE(got.empty()) << r.err;
  EXPECT_NE(got[0].body.find("\"gone\""), std::string::npos) << got[0].body;
  EXPECT_EQ(got[0].signature, ExpectedSignature(kSecret, got[0].body));
  EXPECT_EQ(got[0].sni, "localhost");
}

}  // namespace
}  // namespace pilotlight
