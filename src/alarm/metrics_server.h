// MetricsServer: the HTTP/1.1 endpoint Prometheus scrapes.
//
//   GET /metrics   200, the exposition text (Content-Type: text/plain; version=0.0.4)
//   GET /healthz   200 "ok"
//   GET <path>     200, each of MetricsServerOptions::routes (e.g. a probe agent's
//                  /observations JSON), same rules as /metrics
//   other paths    404;  other methods 405 (Allow: GET, HEAD);  HEAD as GET without a body
//   a malformed request 400, headers over the limit 431, a request body over the limit 413
//   (each then closes the connection); an idle or slow connection is closed at its timeout.
//
// The text is not a snapshot taken at start: every GET /metrics calls the
// caller's TextSource, so a scrape shows the live registry. Connections are
// asynchronous on one thread (Boost.Asio, kept in metrics_server.cc), so many
// concurrent scrapes need no thread each. What one client may hold follows
// http/client_bounds.h, as on every pilotlight server: beyond max_connections,
// or beyond its address's share of them, a new connection is closed at once; a
// connection waits idle_timeout for a request's first byte, then the whole
// request (headers and body) must arrive within request_deadline; out of
// descriptors, a reserve lets the accept go on instead of spinning.
//
// Thread-safety: Start, Stop and the destructor from the owner thread; port()
// and requests() from any thread. The TextSource is called on the server's own
// thread while the owner's threads keep running, so it must be safe to call
// concurrently with them (Detector::Prometheus is: it reads under the
// registry's and the book's locks). An exception it throws becomes a 500.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/status.h"

namespace pilotlight::alarm {

inline constexpr const char* kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

// Returns the current exposition text.
using TextSource = std::function<std::string()>;

// One more GET path the server answers from its own live source.
struct ExtraRoute {
  std::string path;          // "/observations"
  std::string content_type;  // "application/json"
  TextSource source;
};

struct MetricsServerOptions {
  size_t max_header_bytes = 8 * 1024;  // request line + headers
  size_t max_body_bytes = 1024;        // scrapes carry none
  size_t max_connections = 512;
  size_t max_connections_per_client = 0;  // 0: a quarter of max_connections
  // Waiting for a request's first byte (a new or a keep-alive connection), and
  // writing an answer.
  Duration idle_timeout = std::chrono::seconds(10);
  // From a request's first byte to its last: headers and body.
  Duration request_deadline = std::chrono::seconds(10);
  std::vector<ExtraRoute> routes;  // beside /metrics and /healthz
};

// What the server answers to one parsed request. Pure apart from `source`.
struct MetricsResponse {
  int status = 200;
  std::string content_type;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers (Allow)
};
MetricsResponse RouteMetricsRequest(std::string_view method, std::string_view target,
                                    const TextSource& source,
                                    const std::vector<ExtraRoute>& routes = {});

// "127.0.0.1:9100", "[::1]:9100", "0.0.0.0:0" (port 0: any free port), ":9100"
// (every interface). The error names what was expected.
Result<std::pair<std::string, uint16_t>> ParseListenAddress(std::string_view text);

class MetricsServer {
 public:
  // Listens on address:port and serves until Stop().
  static Result<std::unique_ptr<MetricsServer>> Start(const std::string& address, uint16_t port,
                                                      TextSource source,
                                                      MetricsServerOptions options = {});
  ~MetricsServer();  // Stop()s
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  uint16_t port() const;      // the bound port (the chosen one when started with 0)
  uint64_t requests() const;  // answered requests, any status
  // Closes the listener and every connection, then joins the thread. Idempotent.
  void Stop();

 private:
  struct Impl;
  explicit MetricsServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace pilotlight::alarm
