#include "trader/load.h"

#include <sys/random.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "core/duration.h"
#include "trader/dns_client.h"
#include "trader/http_client.h"

namespace pilotlight::trader {
namespace {

using nlohmann::json;

double Ms(Duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// The service's address: fixed, or the A records of a name, re-resolved when the
// TTL runs out or after a connection failure.
class Target {
 public:
  Target(const LoadOptions& o, const Clock& clock) : o_(o), clock_(clock) {}

  Result<std::string> Address(int worker) {
    if (o_.dns_server.empty()) return o_.address;
    std::lock_guard<std::mutex> lock(mu_);
    const MonoTime now = clock_.Monotonic();
    if (addresses_.empty() || now >= expires_) {
      // At most one lookup per 100 ms whatever the failures, so a dead region
      // does not become a query storm.
      if (addresses_.empty() || now - last_lookup_ >= std::chrono::milliseconds(100)) {
        last_lookup_ = now;
        resolutions_++;
        Result<ARecords> r = ResolveA(o_.dns_server, o_.name, std::chrono::milliseconds(500));
        if (r.ok()) {
          addresses_ = r->addresses;
          expires_ = now + std::chrono::seconds(r->ttl_seconds);
        } else if (addresses_.empty()) {
          return r.status();
        }
      }
    }
    return addresses_[static_cast<size_t>(worker) % addresses_.size()];
  }
  // After a connection failure: look the name up again before the next attempt.
  void Invalidate() {
    std::lock_guard<std::mutex> lock(mu_);
    expires_ = MonoTime{};
  }
  int64_t resolutions() {
    std::lock_guard<std::mutex> lock(mu_);
    return resolutions_;
  }

 private:
  const LoadOptions& o_;
  const Clock& clock_;
  std::mutex mu_;
  std::vector<std::string> addresses_;
  MonoTime expires_{};
  MonoTime last_lookup_{};
  int64_t resolutions_ = 0;
};

struct Shared {
  std::mutex mu;
  LoadReport report;
  std::vector<double> latencies_ms;
  std::ofstream journal;
  std::string last_region;
  std::atomic<int64_t> acked{0};
  std::atomic<int64_t> errors{0};
  std::atomic<int64_t> in_retry{0};
};

std::string RunId() {
  uint32_t v = 0;
  if (getrandom(&v, sizeof v, 0) != sizeof v) v = static_cast<uint32_t>(std::random_device{}());
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08x", v);
  return buf;
}

}  // namespace

double Percentile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  const double rank = std::ceil(q * static_cast<double>(sorted.size()));
  const size_t index = rank < 1 ? 0 : static_cast<size_t>(rank) - 1;
  return sorted[std::min(index, sorted.size() - 1)];
}

LatencySummary Summarize(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  LatencySummary s;
  s.p50_ms = Percentile(v, 0.50);
  s.p99_ms = Percentile(v, 0.99);
  s.p999_ms = Percentile(v, 0.999);
  s.max_ms = v.empty() ? 0 : v.back();
  return s;
}

Result<LoadReport> RunLoad(const LoadOptions& o, Clock& clock,
                           const std::function<void(const LoadProgress&)>& on_progress) {
  if (o.concurrency < 1) return Status::InvalidArgument("--concurrency must be at least 1");
  if (o.rate < 0) return Status::InvalidArgument("--rate cannot be negative");
  if (!o.duration && !o.count) return Status::InvalidArgument("give --duration or --count");
  if (o.dns_server.empty() && o.address.empty()) {
    return Status::InvalidArgument("give a target (--target, --dir) or --dns with --name");
  }
  if (!o.dns_server.empty() && o.name.empty()) {
    return Status::InvalidArgument("--dns needs --name, the service's DNS name");
  }
  if (o.symbols.empty()) return Status::InvalidArgument("no symbols to trade");
  for (int w = 0; w < o.concurrency; ++w) {
    const std::string account = o.account_prefix + "-" + std::to_string(w);
    if (o.api_keys.count(account) == 0) {
      return Status::InvalidArgument(
          (o.api_keys_file.empty() ? std::string("no API keys given (--api-keys FILE)")
                                   : o.api_keys_file + " has no key") +
          " for account " + account + ", which worker " + std::to_string(w) +
          " trades as; the lab writes keys for load-0.. to <lab dir>/secrets/api-keys, "
          "`pilotlight trader accounts add` makes more");
    }
  }

  Shared shared;
  if (!o.journal.empty()) {
    shared.journal.open(o.journal, std::ios::app);
    if (!shared.journal) {
      return Status::IOError("cannot open the journal " + o.journal + " for appending");
    }
  }
  Target target(o, clock);
  {
    Result<std::string> first = target.Address(0);
    if (!first.ok()) return first.status().Annotate("cannot find the trading service");
  }

  const std::string run = RunId();
  const MonoTime start = clock.Monotonic();
  const std::optional<MonoTime> end =
      o.duration ? std::optional<MonoTime>(start + *o.duration) : std::nullopt;
  std::atomic<int64_t> next{0};
  std::atomic<bool> stop{false};
  std::mutex fatal_mu;
  std::string fatal;  // why the run was stopped, "" when it was not

  auto worker = [&](int w) {
    HttpClient http("", o.port, o.request_timeout);
    std::string token;
    const std::string account = o.account_prefix + "-" + std::to_string(w);
    const std::string session_body =
        json({{"account", account}, {"api_key", o.api_keys.at(account)}}).dump();
    std::mt19937_64 rng(std::hash<std::string>{}(run) + static_cast<uint64_t>(w));
    std::map<std::string, int64_t> errors;
    auto count_error = [&](const std::string& kind) {
      errors[kind]++;
      shared.errors++;
    };
    int64_t retries = 0, replayed = 0, rejected = 0, gave_up = 0;
    std::vector<double> latencies;

    for (;;) {
      const int64_t i = next.fetch_add(1);
      if (stop.load() || (o.count && i >= *o.count)) break;
      const MonoTime scheduled =
          o.rate > 0 ? start + std::chrono::duration_cast<Duration>(
                                   std::chrono::duration<double>(static_cast<double>(i) / o.rate))
                     : clock.Monotonic();
      if (end && scheduled >= *end) break;
      // Open-loop pacing: wait for this order's slot.
      const Duration wait = scheduled - clock.Monotonic();
      if (wait > Duration::zero()) clock.SleepFor(wait);

      const std::string id = run + "-" + std::to_string(w) + "-" + std::to_string(i);
      const std::string& symbol = o.symbols[rng() % o.symbols.size()];
      const bool buy = rng() % 2 == 0;
      const int ticks = static_cast<int>(rng() % 21) - 10;
      char price[32];
      std::snprintf(price, sizeof price, "%.2f", 100.0 + ticks * 0.01);
      const json order = {{"client_order_id", id}, {"symbol", symbol},
                          {"side", buy ? "buy" : "sell"}, {"price", std::string(price)},
                          {"qty", 1 + static_cast<int>(rng() % 10)}};
      const std::string body = order.dump();
      const MonoTime deadline = scheduled + o.retry_deadline;
      Duration backoff = std::chrono::milliseconds(50);
      int attempts = 0;
      bool counted_retry = false;
      for (;;) {
        if (attempts > 0) {
          retries++;
          if (!counted_retry) shared.in_retry++, counted_retry = true;
          if (clock.Monotonic() + backoff >= deadline) {
            gave_up++;
            break;
          }
          clock.SleepFor(backoff);  // retry pacing, not synchronization
          backoff = std::min<Duration>(backoff * 2, std::chrono::seconds(1));
        }
        attempts++;
        Result<std::string> address = target.Address(w);
        if (!address.ok()) {
          count_error("dns");
          continue;
        }
        http.Retarget(*address, o.port);
        if (token.empty()) {
          Result<HttpResult> login = http.Request("POST", "/v1/sessions", session_body);
          if (login.ok() && login->status == 401) {
            // The key is wrong or revoked: no retry makes it right.
            count_error("401");
            std::lock_guard<std::mutex> lock(fatal_mu);
            if (fatal.empty()) {
              fatal = "the service refused account " + account + "'s API key (401: " +
                      login->body.substr(0, 200) + ")" +
                      (o.api_keys_file.empty() ? "" : "; check " + o.api_keys_file);
            }
            stop.store(true);
            break;
          }
          if (!login.ok() || login->status != 201) {
            count_error(login.ok() ? std::to_string(login->status)
                                   : login.status().code() == Status::Code::kTimeout ? "timeout"
                                                                                     : "connect");
            if (!login.ok()) target.Invalidate();
            continue;
          }
          json j = json::parse(login->body, nullptr, false);
          if (!j.is_object() || !j["token"].is_string()) {
            count_error("bad_response");
            continue;
          }
          token = j["token"].get<std::string>();
        }
        Result<HttpResult> r =
            http.Request("POST", "/v1/orders", body, {{"Authorization", "Bearer " + token}});
        if (!r.ok()) {
          count_error(r.status().code() == Status::Code::kTimeout ? "timeout" : "connect");
          target.Invalidate();
          continue;
        }
        if (r->status == 401) {
          count_error("401");
          token.clear();
          continue;
        }
        if (r->status >= 500) {
          count_error(std::to_string(r->status));
          continue;
        }
        if (r->status != 200 && r->status != 201) {
          count_error(std::to_string(r->status));
          rejected++;
          break;
        }
        json ack = json::parse(r->body, nullptr, false);
        if (!ack.is_object() || !ack["order_id"].is_number_integer()) {
          count_error("bad_response");
          continue;
        }
        const WallTime ack_time = clock.Now();
        const double latency = Ms(clock.Monotonic() - scheduled);
        latencies.push_back(latency);
        if (r->status == 200) replayed++;
        const std::string region = r->headers.count("x-pilotlight-region")
                                       ? r->headers["x-pilotlight-region"]
                                       : "";
        {
          std::lock_guard<std::mutex> lock(shared.mu);
          shared.report.acked_by_region[region]++;
          shared.last_region = region;
          if (shared.journal.is_open()) {
            shared.journal << json({{"client_order_id", id},
                                    {"order_id", ack["order_id"]},
                                    {"ack_time", FormatTime(ack_time)},
                                    {"region", region},
                                    {"status", ack.value("status", "")},
                                    {"filled_qty", ack.value("filled_qty", 0)},
                                    {"attempts", attempts},
                                    {"latency_ms", std::round(latency * 1000) / 1000}})
                                  .dump()
                           << "\n";
            shared.journal.flush();
          }
        }
        shared.acked++;
        break;
      }
      if (counted_retry) shared.in_retry--;
    }
    std::lock_guard<std::mutex> lock(shared.mu);
    for (const auto& [kind, n] : errors) shared.report.errors[kind] += n;
    shared.report.retries += retries;
    shared.report.replayed += replayed;
    shared.report.rejected += rejected;
    shared.report.gave_up += gave_up;
    shared.latencies_ms.insert(shared.latencies_ms.end(), latencies.begin(), latencies.end());
  };

  std::vector<std::thread> threads;
  for (int w = 0; w < o.concurrency; ++w) threads.emplace_back(worker, w);
  std::atomic<int> running{o.concurrency};
  std::thread progress([&] {
    int64_t last_acked = 0;
    MonoTime last = start;
    while (running.load() > 0) {
      clock.SleepFor(std::chrono::seconds(1));  // progress cadence
      if (running.load() == 0) break;
      const MonoTime now = clock.Monotonic();
      LoadProgress p;
      p.elapsed_seconds = ToSeconds(now - start);
      p.acked = shared.acked.load();
      p.errors = shared.errors.load();
      p.in_retry = shared.in_retry.load();
      p.recent_rate = (p.acked - last_acked) / std::max(1e-9, ToSeconds(now - last));
      {
        std::lock_guard<std::mutex> lock(shared.mu);
        p.last_region = shared.last_region;
      }
      last_acked = p.acked;
      last = now;
      if (on_progress) on_progress(p);
    }
  });
  for (std::thread& t : threads) t.join();
  const MonoTime finished = clock.Monotonic();
  running.store(0);
  progress.join();
  if (!fatal.empty()) return Status::FailedPrecondition(fatal);

  LoadReport report = std::move(shared.report);
  report.acked = shared.acked.load();
  report.elapsed_seconds = ToSeconds(finished - start);
  report.throughput = report.elapsed_seconds > 0 ? report.acked / report.elapsed_seconds : 0;
  report.latency = Summarize(std::move(shared.latencies_ms));
  report.resolutions = target.resolutions();
  return report;
}

std::string FormatProgress(const LoadProgress& p) {
  char line[256];
  std::snprintf(line, sizeof line,
                "t=%6.1fs acked=%-9lld %8.1f/s errors=%-6lld retrying=%-4lld region=%s",
                p.elapsed_seconds, static_cast<long long>(p.acked), p.recent_rate,
                static_cast<long long>(p.errors), static_cast<long long>(p.in_retry),
                p.last_region.empty() ? "-" : p.last_region.c_str());
  return line;
}

std::string FormatReportText(const LoadReport& r) {
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "orders acked: %lld in %.1f s = %.1f orders/s (replayed %lld, rejected %lld, "
                "gave up %lld, retries %lld)\n"
                "latency ms:   p50 %.2f  p99 %.2f  p99.9 %.2f  max %.2f\n",
                static_cast<long long>(r.acked), r.elapsed_seconds, r.throughput,
                static_cast<long long>(r.replayed), static_cast<long long>(r.rejected),
                static_cast<long long>(r.gave_up), static_cast<long long>(r.retries),
                r.latency.p50_ms, r.latency.p99_ms, r.latency.p999_ms, r.latency.max_ms);
  std::string out = buf;
  out += "errors:      ";
  if (r.errors.empty()) out += " none";
  for (const auto& [kind, n] : r.errors) out += " " + kind + "=" + std::to_string(n);
  out += "\nby region:   ";
  for (const auto& [region, n] : r.acked_by_region) {
    out += " " + (region.empty() ? std::string("?") : region) + "=" + std::to_string(n);
  }
  return out + "\n";
}

std::string FormatReportJson(const LoadReport& r) {
  json j = {{"acked", r.acked},
            {"replayed", r.replayed},
            {"rejected", r.rejected},
            {"gave_up", r.gave_up},
            {"retries", r.retries},
            {"errors", r.errors},
            {"acked_by_region", r.acked_by_region},
            {"elapsed_seconds", r.elapsed_seconds},
            {"throughput", r.throughput},
            {"latency_ms",
             {{"p50", r.latency.p50_ms},
              {"p99", r.latency.p99_ms},
              {"p99_9", r.latency.p999_ms},
              {"max", r.latency.max_ms}}},
            {"dns_resolutions", r.resolutions}};
  return j.dump(2) + "\n";
}

}  // namespace pilotlight::trader
