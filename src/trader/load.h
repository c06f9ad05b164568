// The load client: drives orders into the trading service at a target rate and
// concurrency, the way a trading front end would through a failover, and keeps
// the acknowledgement journal that is the ground truth for RPO.
//
// Each worker thread owns one keep-alive connection and one session. Orders are
// scheduled open-loop (order i at start + i/rate; flat out when rate is 0), and
// latency is measured from the scheduled instant, so a stall is not hidden by
// coordinated omission. A failed request (connection error, timeout, 5xx) is
// retried with the same client_order_id until `retry_deadline`, re-resolving the
// service name after a connection failure when a DNS server is given; a 401 on
// an order makes a new session (it may not have replicated yet). Worker w trades
// as account "<account_prefix>-<w>" and opens its sessions with that account's
// API key from `api_keys` (the lab writes them to <lab dir>/secrets/api-keys); a
// 401 on a session request (a wrong or revoked key) ends the run with an error. Every acknowledged order
// is appended to the journal (JSON lines: client_order_id, order_id, ack_time,
// region, ...) as soon as it is acknowledged.
//
// RunLoad is called from one thread; the progress callback runs on that thread.
// Percentile and the report are pure.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/status.h"

namespace pilotlight::trader {

struct LoadOptions {
  std::string address;     // fixed service address (IPv4), unless dns_server is set
  std::string dns_server;  // "ADDR:PORT": resolve `name` there (A record, TTL honoured)
  std::string name;        // the service's DNS name
  uint16_t port = 8080;
  double rate = 0;         // orders per second; 0 = as fast as the service answers
  int concurrency = 8;
  std::optional<Duration> duration;
  std::optional<int64_t> count;
  std::string journal;     // "" = no journal
  Duration retry_deadline = std::chrono::seconds(120);
  Duration request_timeout = std::chrono::seconds(2);
  std::vector<std::string> symbols = {"AAPL", "MSFT", "GOOG", "AMZN", "NVDA", "META", "TSLA", "SPY"};
  std::string account_prefix = "load";
  // Account -> API key (ReadApiKeysFile, api_keys.h); every worker's account needs one.
  std::map<std::string, std::string> api_keys;
  std::string api_keys_file;  // where they came from, for messages
};

struct LatencySummary {
  double p50_ms = 0, p99_ms = 0, p999_ms = 0, max_ms = 0;
};

struct LoadReport {
  int64_t acked = 0;        // orders acknowledged (first answer or replay)
  int64_t replayed = 0;     // ... of which the service answered as a retry
  int64_t rejected = 0;     // refused with a 4xx other than 401 (not retried)
  int64_t gave_up = 0;      // still failing at the retry deadline
  int64_t retries = 0;      // extra attempts
  std::map<std::string, int64_t> errors;             // by kind: "connect", "timeout", "503", ...
  std::map<std::string, int64_t> acked_by_region;
  double elapsed_seconds = 0;
  double throughput = 0;    // acked / elapsed
  LatencySummary latency;
  int64_t resolutions = 0;  // DNS lookups done
};

struct LoadProgress {
  double elapsed_seconds = 0;
  int64_t acked = 0;
  int64_t errors = 0;
  int64_t in_retry = 0;   // orders currently being retried
  double recent_rate = 0; // acks/s over the last interval
  std::string last_region;
};

Result<LoadReport> RunLoad(const LoadOptions& options, Clock& clock,
                           const std::function<void(const LoadProgress&)>& on_progress);

// Nearest-rank percentile of sorted values (q in [0, 1]); 0 for none.
double Percentile(const std::vector<double>& sorted, double q);
LatencySummary Summarize(std::vector<double> latencies_ms);

std::string FormatReportText(const LoadReport& report);
std::string FormatReportJson(const LoadReport& report);
std::string FormatProgress(const LoadProgress& progress);

}  // namespace pilotlight::trader
