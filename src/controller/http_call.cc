#include "controller/http_call.h"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <exception>

namespace pilotlight::controller {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

// What went wrong in the exchange, for the operator.
std::string Describe(const beast::error_code& ec, uint64_t body_limit) {
  if (ec == http::error::end_of_stream) {
    return "the server closed the connection without an answer";
  }
  if (ec == http::error::body_limit) {
    return "answer body larger than " + std::to_string(body_limit) + " bytes";
  }
  if (ec.category() == http::make_error_code(http::error::bad_version).category()) {
    return "malformed HTTP answer (" + ec.message() + ")";
  }
  return ec.message();
}

}  // namespace

Result<HttpReply> HttpCall(const std::string& host, uint16_t port, const HttpRequestSpec& request,
                           Duration timeout) {
  const std::string where = !request.label.empty()
                                ? request.label
                                : "http://" + host + ":" + std::to_string(port) + request.target;
  try {
    const http::verb verb = http::string_to_verb(request.method);
    if (verb == http::verb::unknown) {
      return Status::InvalidArgument(where + ": unknown HTTP method \"" + request.method + "\"");
    }
    asio::io_context ioc;
    beast::error_code ec;
    // Where to connect: one literal address, or whatever the name resolves to.
    tcp::resolver::results_type resolved;
    tcp::endpoint literal;
    if (request.resolve_names) {
      tcp::resolver resolver(ioc);
      resolved = resolver.resolve(host, std::to_string(port), ec);
      if (ec) return Status::Unavailable(where + ": cannot resolve " + host + ": " + ec.message());
    } else {
      const asio::ip::address addr = asio::ip::make_address(host, ec);
      if (ec) {
        return Status::InvalidArgument(where + ": \"" + host + "\" is not an IP address (" +
                                       ec.message() + ")");
      }
      literal = tcp::endpoint(addr, port);
    }

    http::request<http::string_body> req{verb, request.target, 11};
    req.set(http::field::host, host);
    for (const auto& [name, value] : request.headers) req.set(name, value);
    req.body() = request.body;
    req.prepare_payload();
    http::response_parser<http::string_body> parser;
    parser.body_limit(request.body_limit);
    beast::flat_buffer buffer;

    // One deadline: tcp_stream's expiry covers every operation started below.
    beast::tcp_stream stream(ioc);
    beast::error_code result = asio::error::timed_out;
    stream.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(timeout));
    auto on_connect = [&](beast::error_code e) {
      if (e) {
        result = e;
        return;
      }
      http::async_write(stream, req, [&](beast::error_code e2, size_t) {
        if (e2) {
          result = e2;
          return;
        }
        http::async_read_header(stream, buffer, parser, [&](beast::error_code e3, size_t) {
          if (e3) {
            result = e3;
            return;
          }
          // Boost 1.74's parser does not apply body_limit to a Content-Length
          // body (it does to chunked and to-EOF ones): check it here.
          if (parser.content_length() && *parser.content_length() > request.body_limit) {
            result = http::error::body_limit;
            return;
          }
          http::async_read(stream, buffer, parser,
                           [&](beast::error_code e4, size_t) { result = e4; });
        });
      });
    };
    if (request.resolve_names) {
      stream.async_connect(resolved,
                           [&](beast::error_code e, const tcp::endpoint&) { on_connect(e); });
    } else {
      stream.async_connect(literal, on_connect);
    }
    ioc.run();

    if (result == beast::error::timeout || result == asio::error::timed_out) {
      return Status::Timeout(where + ": no answer within " + FormatDuration(timeout));
    }
    if (result) return Status::Unavailable(where + ": " + Describe(result, request.body_limit));
    HttpReply reply;
    reply.status = static_cast<int>(parser.get().result_int());
    reply.body = std::move(parser.get().body());
    for (const auto& field : parser.get()) {
      reply.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    return reply;
  } catch (const std::exception& e) {
    return Status::Unavailable(where + ": " + e.what());
  }
}

}  // namespace pilotlight::controller
