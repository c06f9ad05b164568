// HttpCall against a real HTTP peer on 127.0.0.1: each test starts a one-shot
// server (an Asio acceptor on a free port, one thread) whose handler decides how
// it misbehaves. Synchronisation is by sockets and futures, never by sleeping.
#include "controller/http_call.h"

#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <functional>
#include <future>
#include <string>
#include <thread>

#include "testing/ports.h"

namespace pilotlight::controller {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using pilotlight::testing::ClosedPort;

// Accepts ONE connection on 127.0.0.1:<free port> and hands it to `handle` on
// the server thread. The destructor stops the acceptor and joins the thread; a
// handler that blocks must end when the client closes its side.
class OneShotServer {
 public:
  explicit OneShotServer(std::function<void(tcp::socket&)> handle)
      : acceptor_(ioc_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    acceptor_.async_accept([handle = std::move(handle)](beast::error_code ec, tcp::socket s) {
      if (!ec) handle(s);
    });
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~OneShotServer() {
    ioc_.stop();
    thread_.join();
  }
  uint16_t port() const { return acceptor_.local_endpoint().port(); }

 private:
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  std::thread thread_;
};

// Reads one request; empty target on failure.
http::request<http::string_body> ReadRequest(tcp::socket& s) {
  beast::flat_buffer buffer;
  http::request<http::string_body> req;
  beast::error_code ec;
  http::read(s, buffer, req, ec);
  return req;
}

void WriteRaw(tcp::socket& s, const std::string& bytes) {
  beast::error_code ec;
  asio::write(s, asio::buffer(bytes), ec);
}

// Blocks until the client closes its side (or resets).
void WaitForClientClose(tcp::socket& s) {
  char c;
  beast::error_code ec;
  while (!ec) s.read_some(asio::buffer(&c, 1), ec);
}

HttpRequestSpec Post(const std::string& target, const std::string& body) {
  HttpRequestSpec r;
  r.method = "POST";
  r.target = target;
  r.body = body;
  r.headers = {{"Content-Type", "application/json"}};
  return r;
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

struct Seen {
  std::string method, target, body, content_type, host;
};

TEST(HttpCallTest, NormalExchangeSendsTheRequestAndReturnsStatusAndBody) {
  std::promise<Seen> seen;
  OneShotServer server([&](tcp::socket& s) {
    const auto req = ReadRequest(s);
    seen.set_value({std::string(req.method_string()), std::string(req.target()), req.body(),
                    std::string(req[http::field::content_type]),
                    std::string(req[http::field::host])});
    WriteRaw(s, "HTTP/1.1 200 OK\r\nContent-Length: 11\r\nConnection: close\r\n\r\n{\"ok\":true}");
  });
  Result<HttpReply> r = HttpCall("127.0.0.1", server.port(), Post("/v3/kv/range", "{\"k\":1}"), 2s);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "{\"ok\":true}");
  const Seen got = seen.get_future().get();
  EXPECT_EQ(got.method, "POST");
  EXPECT_EQ(got.target, "/v3/kv/range");
  EXPECT_EQ(got.body, "{\"k\":1}");
  EXPECT_EQ(got.content_type, "application/json");
  EXPECT_EQ(got.host, "127.0.0.1");
}

TEST(HttpCallTest, TheReplyCarriesTheAnswersHeaderFieldsAsSent) {
  OneShotServer server([&](tcp::socket& s) {
    ReadRequest(s);
    WriteRaw(s,
             "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Pilotlight-Lease-Mac: 0a1b\r\n"
             "X-Twice: 1\r\nX-Twice: 2\r\n\r\n{}");
  });
  HttpRequestSpec get;
  get.resolve_names = false;
  Result<HttpReply> r = HttpCall("127.0.0.1", server.port(), get, 2s);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  using Field = std::pair<std::string, std::string>;
  EXPECT_EQ(r->headers, (std::vector<Field>{{"Content-Length", "2"},
                                            {"X-Pilotlight-Lease-Mac", "0a1b"},
                                            {"X-Twice", "1"},
                                            {"X-Twice", "2"}}));
}

TEST(HttpCallTest, AnyHttpStatusIsAReplyAndChunkedBodiesAreReassembled) {
  OneShotServer server([&](tcp::socket& s) {
    ReadRequest(s);
    WriteRaw(s,
             "HTTP/1.1 409 Conflict\r\nTransfer-Encoding: chunked\r\n\r\n"
             "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
  });
  HttpRequestSpec get;
  get.resolve_names = false;
  Result<HttpReply> r = HttpCall("127.0.0.1", server.port(), get, 2s);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 409);
  EXPECT_EQ(r->body, "hello world");
}

TEST(HttpCallTest, ResolvesAHostNameWhenAllowed) {
  OneShotServer server([&](tcp::socket& s) {
    ReadRequest(s);
    WriteRaw(s, "HTTP/1.1 204 No Content\r\n\r\n");
  });
  // "localhost" may resolve to ::1 first (refused): the IPv4 address is tried next.
  Result<HttpReply> r = HttpCall("localhost", server.port(), HttpRequestSpec{}, 2s);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 204);
}

TEST(HttpCallTest, ANameIsRefusedWhenOnlyAddressesAreAllowed) {
  HttpRequestSpec spec;
  spec.resolve_names = false;
  spec.label = "lease renewal to localhost:1";
  Result<HttpReply> r = HttpCall("localhost", 1, spec, 1s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
  EXPECT_TRUE(Contains(r.status().message(),
                       "lease renewal to localhost:1: \"localhost\" is not "
                       "an IP address"))
      << r.status().message();
}

TEST(HttpCallTest, AServerThatNeverAnswersHitsTheDeadline) {
  std::promise<void> got_request;
  OneShotServer server([&](tcp::socket& s) {
    ReadRequest(s);
    got_request.set_value();
    WaitForClientClose(s);  // never answers; ends when the client gives up
  });
  const auto start = std::chrono::steady_clock::now();
  Result<HttpReply> r = HttpCall("127.0.0.1", server.port(), Post("/v1/lease", "{}"), 300ms);
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kTimeout) << r.status().ToString();
  const std::string where = "http://127.0.0.1:" + std::to_string(server.port()) + "/v1/lease";
  EXPECT_TRUE(Contains(r.status().message(), where + ": no answer within 300ms"))
      << r.status().message();
  EXPECT_GE(took, 300ms);
  EXPECT_LT(took, 5s);
  // The request did reach the server: it was the answer that never came.
  EXPECT_EQ(got_request.get_future().wait_for(5s), std::future_status::ready);
}

TEST(HttpCallTest, OneDeadlineCoversTheWholeExchangeNotEachRead) {
  // A slow server: headers at once, then one body byte every 100 ms for 3 s.
  // Every read makes progress well within 300 ms, so a per-read timeout would
  // never fire (the call would end after 3 s with the whole body); one deadline
  // for the exchange must end it at 300 ms. (The pacing is the server's
  // behaviour under test, not a synchronisation.)
  OneShotServer server([&](tcp::socket& s) {
    ReadRequest(s);
    WriteRaw(s, "HTTP/1.1 200 OK\r\nContent-Length: 30\r\n\r\n");
    beast::error_code ec;
    for (int i = 0; i < 30 && !ec; ++i) {
      std::this_thread::sleep_for(100ms);
      asio::write(s, asio::buffer("x", 1), ec);
    }
  });
  HttpRequestSpec spec;
  spec.label = "etcd at 127.0.0.1";
  Result<HttpReply> r = HttpCall("127.0.0.1", server.port(), spec, 300ms);
  ASSERT_FALSE(r.ok()) << "got a reply with a body of " << r->body.size() << " bytes";
  EXPECT_EQ(r.status().code(), Status::Code::kTimeout) << r.status().ToString();
  EXPECT_EQ(r.status().message(), "etcd at 127.0.0.1: no answer within 300ms");
}

TEST(HttpCallTest, ConnectionRefusedSaysSoAndWhere) {
  const ClosedPort closed;
  const uint16_t port = closed.port();
  for (bool resolve : {true, false}) {
    HttpRequestSpec spec = Post("/v3/lease/grant", "{}");
    spec.resolve_names = resolve;
    Result<HttpReply> r = HttpCall("127.0.0.1", port, spec, 2s);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), Status::Code::kUnavailable) << r.status().ToString();
    const std::string& m = r.status().message();
    EXPECT_TRUE(Contains(m, "127.0.0.1:" + std::to_string(port))) << m;
    EXPECT_TRUE(Contains(m, "refused")) << m;
  }
}

TEST(HttpCallTest, AMalformedAnswerIsAnErrorNotACrash) {
  OneShotServer server([&](tcp::socket& s) {
    ReadRequest(s);
    WriteRaw(s, "SMTP READY\r\nnot: http\r\n\r\n");
  });
  Result<HttpReply> r = HttpCall("127.0.0.1", server.port(), HttpRequestSpec{}, 2s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kUnavailable);
  EXPECT_TRUE(Contains(r.status().message(), "127.0.0.1:" + std::to_string(server.port())))
      << r.status().message();
  EXPECT_TRUE(Contains(r.status().message(), "malformed HTTP answer")) << r.status().message();
}

TEST(HttpCallTest, AClosedConnectionWithoutAnAnswerIsAnError) {
  OneShotServer server([&](tcp::socket& s) {
    ReadRequest(s);
    s.shutdown(tcp::socket::shutdown_send);  // EOF before any status line
    WaitForClientClose(s);
  });
  Result<HttpReply> r = HttpCall("127.0.0.1", server.port(), HttpRequestSpec{}, 2s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kUnavailable);
  EXPECT_TRUE(Contains(r.status().message(), "closed the connection without an answer"))
      << r.status().message();
}

TEST(HttpCallTest, ABodyOverTheLimitIsRefused) {
  OneShotServer server([&](tcp::socket& s) {
    ReadRequest(s);
    WriteRaw(s, "HTTP/1.1 200 OK\r\nContent-Length: 2048\r\n\r\n" + std::string(2048, 'x'));
    WaitForClientClose(s);
  });
  HttpRequestSpec spec;
  spec.body_limit = 1024;
  Result<HttpReply> r = HttpCall("127.0.0.1", server.port(), spec, 2s);
  ASSERT_FALSE(r.ok()) << "HTTP " << r->status << " with " << r->body.size() << " bytes";
  EXPECT_EQ(r.status().code(), Status::Code::kUnavailable);
  EXPECT_TRUE(Contains(r.status().message(), "larger than 1024 bytes")) << r.status().message();
}

TEST(HttpCallTest, AChunkedBodyOverTheLimitIsRefused) {
  OneShotServer server([&](tcp::socket& s) {
    ReadRequest(s);
    WriteRaw(s,
             "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
             "8\r\n01234567\r\n8\r\n89abcdef\r\n0\r\n\r\n");
    WaitForClientClose(s);
  });
  HttpRequestSpec spec;
  spec.body_limit = 10;
  Result<HttpReply> r = HttpCall("127.0.0.1", server.port(), spec, 2s);
  ASSERT_FALSE(r.ok()) << "HTTP " << r->status << " with " << r->body.size() << " bytes";
  EXPECT_TRUE(Contains(r.status().message(), "larger than 10 bytes")) << r.status().message();
}

TEST(HttpCallTest, AnUnknownMethodIsAnInvalidArgument) {
  HttpRequestSpec spec;
  spec.method = "FROB";
  const ClosedPort closed;
  Result<HttpReply> r = HttpCall("127.0.0.1", closed.port(), spec, 1s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
  EXPECT_TRUE(Contains(r.status().message(), "FROB")) << r.status().message();
}

}  // namespace
}  // namespace pilotlight::controller
