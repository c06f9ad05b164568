// Boost.Beast, Boost.Asio's SSL layer and OpenSSL stay in this file.
#include "notify/https_post.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <exception>

#include "core/duration.h"

namespace pilotlight::notify {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using beast::error_code;

bool IsIpAddress(const std::string& host) {
  error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

std::string Where(const HttpsPostRequest& r) {
  return (r.host.find(':') != std::string::npos ? "[" + r.host + "]" : r.host) + ":" + r.port;
}

// Why a handshake failed, in words an operator can act on.
std::string HandshakeProblem(const HttpsPostRequest& r, SSL* ssl, const error_code& ec) {
  const long verify = SSL_get_verify_result(ssl);
  const std::string trust =
      r.ca_file.empty() ? "the system CA store" : "the CAs in ca_file " + r.ca_file;
  if (verify != X509_V_OK) {
    std::string why = X509_verify_cert_error_string(verify);
    if (verify == X509_V_ERR_HOSTNAME_MISMATCH || verify == X509_V_ERR_IP_ADDRESS_MISMATCH) {
      return "TLS: the certificate of " + Where(r) + " is not valid for '" + r.host + "' (" + why +
             "); use the name the certificate was issued for in the URL";
    }
    return "TLS: the certificate of " + Where(r) + " is not trusted (" + why + ") by " + trust +
           "; set the subscriber's ca_file to the CA that issued it, or fix the server's "
           "certificate";
  }
  return "TLS handshake with " + Where(r) + " failed: " + ec.message() +
         " (is it an https port? verified against " + trust + ")";
}

}  // namespace

Result<int> HttpsPost(const HttpsPostRequest& r) {
  try {
    ssl::context ctx(ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
    error_code ec;
    if (r.ca_file.empty()) {
      ctx.set_default_verify_paths(ec);
      if (ec) return Status::IOError("cannot load the system CA store: " + ec.message());
    } else {
      ctx.load_verify_file(r.ca_file, ec);
      if (ec) {
        return Status::InvalidArgument("cannot load ca_file " + r.ca_file + ": " + ec.message() +
                                       " (expected PEM certificates)");
      }
    }
    ctx.set_verify_mode(ssl::verify_peer);

    asio::io_context ioc;
    beast::ssl_stream<beast::tcp_stream> stream(ioc, ctx);
    SSL* handle = stream.native_handle();
    X509_VERIFY_PARAM* param = SSL_get0_param(handle);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (IsIpAddress(r.host)) {
      if (X509_VERIFY_PARAM_set1_ip_asc(param, r.host.c_str()) != 1) {
        return Status::InvalidArgument("bad IP address '" + r.host + "'");
      }
    } else {
      if (SSL_set_tlsext_host_name(handle, r.host.c_str()) != 1 ||
          X509_VERIFY_PARAM_set1_host(param, r.host.c_str(), 0) != 1) {
        return Status::InvalidArgument("bad host name '" + r.host + "'");
      }
    }

    // Resolution blocks (getaddrinfo), as for http:// webhooks; the timeout starts after it.
    tcp::resolver resolver(ioc);
    const tcp::resolver::results_type endpoints = resolver.resolve(r.host, r.port, ec);
    if (ec) return Status::Unavailable("cannot resolve '" + r.host + "': " + ec.message());

    http::request<http::string_body> req(http::verb::post, r.path, 11);
    const std::string host = r.host.find(':') != std::string::npos ? "[" + r.host + "]" : r.host;
    req.set(http::field::host, r.port == "443" ? host : Where(r));
    for (const auto& [name, value] : r.headers) req.set(name, value);
    req.keep_alive(false);
    req.body() = r.body;
    req.prepare_payload();

    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024);
    beast::flat_buffer buffer;
    std::string stage = "connect to " + Where(r);
    error_code result;
    bool handshake_failed = false;
    beast::get_lowest_layer(stream).expires_after(r.timeout);  // the whole exchange
    beast::get_lowest_layer(stream).async_connect(endpoints, [&](error_code e, const auto&) {
      if (e) {
        result = e;
        return;
      }
      stage = "TLS handshake with " + Where(r);
      stream.async_handshake(ssl::stream_base::client, [&](error_code e2) {
        if (e2) {
          result = e2;
          handshake_failed = true;
          return;
        }
        stage = "sending to " + Where(r);
        http::async_write(stream, req, [&](error_code e3, size_t) {
          if (e3) {
            result = e3;
            return;
          }
          stage = "waiting for the response of " + Where(r);
          http::async_read(stream, buffer, parser, [&](error_code e4, size_t) { result = e4; });
        });
      });
    });
    ioc.run();
    error_code ignored;
    beast::get_lowest_layer(stream).socket().close(ignored);

    if (result == beast::error::timeout) {
      return Status::Timeout(stage + " timed out (timeout " + FormatDuration(r.timeout) + ")");
    }
    // A server that closes without a TLS close_notify after a complete header
    // still answered.
    if (result && !(parser.is_header_done() && (result == ssl::error::stream_truncated ||
                                                result == http::error::partial_message ||
                                                result == http::error::body_limit))) {
      if (handshake_failed) return Status::Unavailable(HandshakeProblem(r, handle, result));
      return Status::Unavailable(stage + ": " + result.message());
    }
    return static_cast<int>(parser.get().result_int());
  } catch (const std::exception& e) {
    return Status::Internal("HTTPS POST to " + Where(r) + ": " + e.what());
  }
}

}  // namespace pilotlight::notify
