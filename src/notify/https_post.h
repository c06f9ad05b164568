// One HTTPS POST for webhook subscribers: Boost.Beast over OpenSSL, both kept
// in https_post.cc. Private to src/notify.
//
// The server's certificate is verified against the system CA store, or only
// against the PEM certificates in `ca_file` when it is set; the host name of
// the URL is sent as SNI (unless it is an IP address) and must match the
// certificate (a DNS name, or an IP address in its subjectAltName). TLS 1.2 at
// least. The whole exchange (connect, handshake, request, response headers) is
// bounded by `timeout`.
//
// Thread-safety: a free function with no shared state; call from any thread.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/status.h"

namespace pilotlight::notify {

struct HttpsPostRequest {
  std::string host;  // a DNS name or an IP address (no brackets)
  std::string port = "443";
  std::string path = "/";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string ca_file;  // empty: the system CA store
  Duration timeout = std::chrono::seconds(5);
};

// The HTTP status the server answered, or why there is none (resolution,
// connection, a certificate that does not verify, with OpenSSL's reason, a
// timeout, or not an HTTP response).
Result<int> HttpsPost(const HttpsPostRequest& request);

}  // namespace pilotlight::notify
