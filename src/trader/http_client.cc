#include "trader/http_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <optional>

namespace pilotlight::trader {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct HttpClient::Impl {
  asio::io_context io;
  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buffer;
};

HttpClient::HttpClient(std::string address, uint16_t port, Duration timeout)
    : address_(std::move(address)), port_(port), timeout_(timeout), impl_(new Impl) {}

HttpClient::~HttpClient() { Close(); }

void HttpClient::Close() {
  if (impl_->stream) {
    beast::error_code ignored;
    impl_->stream->socket().shutdown(tcp::socket::shutdown_both, ignored);
    impl_->stream->close();
    impl_->stream.reset();
  }
  impl_->buffer.clear();
}

void HttpClient::Retarget(std::string address, uint16_t port) {
  if (address == address_ && port == port_) return;
  Close();
  address_ = std::move(address);
  port_ = port;
}

Result<HttpResult> HttpClient::Request(
    const std::string& method, const std::string& target, const std::string& body,
    const std::vector<std::pair<std::string, std::string>>& headers) {
  const std::string where = address_ + ":" + std::to_string(port_);
  const auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(timeout_);
  beast::error_code ec;
  const asio::ip::address ip = asio::ip::make_address(address_, ec);
  if (ec) return Status::InvalidArgument("not an IP address: '" + address_ + "'");
  Impl& s = *impl_;
  const bool reused = s.stream.has_value();
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!s.stream) {
      s.stream.emplace(s.io);
      s.stream->expires_after(timeout);
      s.stream->async_connect(tcp::endpoint(ip, port_), [&](beast::error_code e) { ec = e; });
      s.io.restart();
      s.io.run();
      if (ec) {
        Close();
        if (ec == beast::error::timeout) {
          return Status::Timeout("connect to " + where + " timed out");
        }
        return Status::Unavailable("cannot connect to " + where + ": " + ec.message());
      }
      s.stream->socket().set_option(tcp::no_delay(true), ec);
    }
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    req.set(http::field::host, address_);
    req.set(http::field::user_agent, "pilotlight-load");
    for (const auto& [name, value] : headers) req.set(name, value);
    if (!body.empty()) {
      req.set(http::field::content_type, "application/json");
      req.body() = body;
    }
    req.keep_alive(true);
    req.prepare_payload();
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    s.stream->expires_after(timeout);
    ec = {};
    http::async_write(*s.stream, req, [&](beast::error_code e, size_t) {
      ec = e;
      if (!e) http::async_read(*s.stream, s.buffer, parser, [&](beast::error_code e2, size_t) {
        ec = e2;
      });
    });
    s.io.restart();
    s.io.run();
    if (ec) {
      Close();
      // A kept-alive connection the server closed meanwhile: one fresh try, since
      // the request never reached it.
      if (attempt == 0 && reused && ec != beast::error::timeout &&
          (ec == http::error::end_of_stream || ec == asio::error::connection_reset ||
           ec == asio::error::broken_pipe || ec == asio::error::eof)) {
        continue;
      }
      if (ec == beast::error::timeout) {
        return Status::Timeout(method + " " + target + " to " + where + " timed out");
      }
      return Status::Unavailable(method + " " + target + " to " + where + ": " + ec.message());
    }
    http::response<http::string_body> res = parser.release();
    HttpResult out;
    out.status = res.result_int();
    for (const auto& field : res) {
      std::string name(field.name_string());
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      out.headers[name] = std::string(field.value());
    }
    out.body = std::move(res.body());
    if (!res.keep_alive()) Close();
    return out;
  }
  return Status::Unavailable(method + " " + target + " to " + where + ": connection lost");
}

}  // namespace pilotlight::trader
