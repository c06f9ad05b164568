// HttpCall: one plain-HTTP/1.1 exchange (connect, write one request, read one
// response) under ONE deadline for the whole exchange. The controller's two
// small HTTP clients use it: the etcd JSON gateway client (leader.cc) and the
// write-lease renewal (lease_http.cc). No TLS, no keep-alive, no redirects.
//
// Any HTTP status is a reply (the caller decides what a 409 or a 503 means);
// only a failed exchange is an error, and its message names where (the
// request's `label`, by default "http://HOST:PORT<target>") and what failed:
//   Timeout          "<where>: no answer within 1s" (connect, write and read all
//                    count against `timeout`)
//   Unavailable      "<where>: cannot resolve HOST: ...", "<where>: Connection
//                    refused", "<where>: malformed HTTP answer (...)", "<where>:
//                    answer body larger than N bytes"
//   InvalidArgument  a bad method, or a host that is not an IP address when
//                    `resolve_names` is false
// Name resolution (when allowed) is a blocking getaddrinfo BEFORE the deadline
// starts, as it cannot be cancelled; IP literals never touch DNS.
//
// Boost.Beast stays in http_call.cc. Thread-safety: HttpCall is a free function
// with no shared state; call it from any number of threads at once.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/duration.h"
#include "core/status.h"

namespace pilotlight::controller {

struct HttpRequestSpec {
  std::string method = "GET";  // "GET", "POST", "PUT", "DELETE"...
  std::string target = "/";    // path and query, e.g. "/v3/kv/range"
  std::string body;            // sent with a Content-Length
  // Extra request headers ("Content-Type", "application/json"). Host is set
  // from `host` (without the port), as both call sites always did.
  std::vector<std::pair<std::string, std::string>> headers;
  // false: `host` must be an IPv4/IPv6 literal (no DNS lookup); true: a name is
  // resolved (all its addresses are tried in turn under the one deadline).
  bool resolve_names = true;
  // The answer's body may not exceed this; larger is an Unavailable error.
  uint64_t body_limit = 8u << 20;
  // Prefix of every error message; "" gives "http://HOST:PORT<target>".
  std::string label;
};

struct HttpReply {
  int status = 0;    // 200, 409, 503...
  std::string body;  // the whole body (chunked answers are reassembled)
  // The answer's header fields as sent (names in the server's case), in order.
  std::vector<std::pair<std::string, std::string>> headers;
};

Result<HttpReply> HttpCall(const std::string& host, uint16_t port, const HttpRequestSpec& request,
                           Duration timeout);

}  // namespace pilotlight::controller
