// health_bench: N HTTP checks at a fixed interval against a local HTTP server,
// for a duration; reports the CPU the checker used and how late probes started
// against their schedule (p50/p99/max), against the ideal schedule of the same
// run (probes expected = checks * duration / interval).
//
//   health_bench [--checks 10000] [--interval-ms 1000] [--duration-s 60] [--silent 0]
//
// --silent N adds N checks of a path the server reads and never answers (each
// probe of them times out): the lateness and failures reported are those of
// the answering checks, so the run shows whether a silent server delays them
// (the claim health/monitor_test.cc used to time; see README.md).
//
// The server runs in a forked child (its own CPU is reported separately). The
// checks are spread over 100 loopback addresses (127.240.0.1-100) so 10,000
// connections a second do not exhaust one address pair's ephemeral ports.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <utility>  // before Boost.Asio 1.74 (std::exchange in C++20 mode)
#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <chrono>
#include <cstdio>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/log.h"
#include "health/monitor.h"

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;
using pilotlight::Duration;

namespace {

// A minimal HTTP/1.1 server: reads the request head, answers 200, closes.
class Session : public std::enable_shared_from_this<Session> {
 public:
  explicit Session(tcp::socket s) : socket_(std::move(s)) {}
  void Start() { Read(); }

 private:
  void Read() {
    auto self = shared_from_this();
    socket_.async_read_some(asio::buffer(buf_), [self](boost::system::error_code ec, size_t n) {
      if (ec) return;
      self->req_.append(self->buf_.data(), n);
      if (self->req_.find("\r\n\r\n") == std::string::npos) {
        if (self->req_.size() < 16384) self->Read();
        return;
      }
      if (self->req_.rfind("GET /silent", 0) == 0) {
        self->Drain();  // read on, never answer
        return;
      }
      static const std::string kResp =
          "HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\nready\n";
      // Let the client close first (as a probe does once it has its answer): a
      // server-side close would race it, leave TIME_WAIT on both ends, and at
      // 10,000 connections a second new SYNs would hit old TIME_WAIT tuples.
      asio::async_write(self->socket_, asio::buffer(kResp),
                        [self](boost::system::error_code ec, size_t) {
                          if (!ec) self->Drain();
                        });
    });
  }
  void Drain() {
    auto self = shared_from_this();
    socket_.async_read_some(asio::buffer(buf_), [self](boost::system::error_code ec, size_t) {
      if (!ec) self->Drain();  // until the client's FIN (or RST)
    });
  }
  tcp::socket socket_;
  std::array<char, 2048> buf_;
  std::string req_;
};

void Accept(tcp::acceptor& acceptor) {
  acceptor.async_accept([&acceptor](boost::system::error_code ec, tcp::socket s) {
    if (!ec) std::make_shared<Session>(std::move(s))->Start();
    Accept(acceptor);
  });
}

double CpuSeconds(int who) {
  rusage ru{};
  getrusage(who, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

class Collector : public pilotlight::health::HealthListener {
 public:
  void OnProbe(const pilotlight::health::CheckSpec& check,
               const pilotlight::health::VantageSpec&,
               const pilotlight::health::ProbeResult& r,
               pilotlight::health::HealthStatus) override {
    if (!measuring.load(std::memory_order_relaxed)) return;
    if (check.path == "/silent") {
      ++silent_probes;
      return;
    }
    lateness_us.push_back(std::chrono::duration_cast<std::chrono::microseconds>(r.lateness).count());
    if (!r.ok) {
      ++failures;
      if (first_failure.empty()) first_failure = r.detail;
    }
  }
  std::atomic<bool> measuring{false};
  std::vector<int64_t> lateness_us;  // written on the loop thread; read after Stop
  int64_t failures = 0;
  int64_t silent_probes = 0;
  std::string first_failure;
};

}  // namespace

int main(int argc, char** argv) {
  int checks = 10000, interval_ms = 1000, duration_s = 60, silent = 0;
  for (int i = 1; i < argc; i += 2) {
    if (!strcmp(argv[i], "--help") || i + 1 >= argc) {
      printf("health_bench [--checks 10000] [--interval-ms 1000] [--duration-s 60] [--silent 0]\n"
             "N HTTP checks against a local server; prints probes, lateness and CPU.\n"
             "--silent N: N more checks of a server that never answers (see README.md).\n");
      return strcmp(argv[i], "--help") ? 2 : 0;
    }
    if (!strcmp(argv[i], "--checks")) checks = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--interval-ms")) interval_ms = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--duration-s")) duration_s = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--silent")) silent = atoi(argv[i + 1]);
    else {
      fprintf(stderr, "health_bench: unknown option %s (see --help)\n", argv[i]);
      return 2;
    }
  }
  pilotlight::InitLogging(pilotlight::LogLevel::kWarn);
  rlimit nofile{65536, 65536};
  setrlimit(RLIMIT_NOFILE, &nofile);

  asio::io_context server_io;
  tcp::acceptor acceptor(server_io, tcp::endpoint(tcp::v4(), 0));
  acceptor.listen(4096);
  const uint16_t port = acceptor.local_endpoint().port();
  const pid_t server = fork();
  if (server == 0) {
    Accept(acceptor);
    server_io.run();
    _exit(0);
  }
  acceptor.close();

  std::vector<pilotlight::health::CheckSpec> specs;
  for (int i = 0; i < checks + silent; ++i) {
    pilotlight::health::CheckSpec s;
    s.name = (i < checks ? "http-" : "silent-") + std::to_string(i);
    s.kind = pilotlight::health::ProbeKind::kHttp;
    s.host = "127.240.0." + std::to_string(1 + i % 100);
    s.port = port;
    s.path = i < checks ? "/health" : "/silent";
    s.body_contains = "ready";
    s.interval = std::chrono::milliseconds(interval_ms);
    s.timeout = s.interval * 9 / 10;
    s.connect_timeout = s.timeout / 2;
    specs.push_back(s);
  }
  auto made = pilotlight::health::HealthMonitor::Create(pilotlight::SystemClock::Instance(),
                                                        std::move(specs));
  if (!made.ok()) {
    fprintf(stderr, "%s\n", made.status().ToString().c_str());
    return 1;
  }
  auto& monitor = **made;
  Collector collector;
  collector.lateness_us.reserve(static_cast<size_t>(checks) * duration_s * 1000 / interval_ms + 1000);
  monitor.SetListener(&collector);
  if (!monitor.Start().ok()) return 1;

  // Warm up one interval (the first probes are spread over it), then measure.
  std::this_thread::sleep_for(std::chrono::milliseconds(interval_ms) + 500ms);
  double load_before[1] = {0};
  getloadavg(load_before, 1);
  collector.measuring = true;
  const double cpu0 = CpuSeconds(RUSAGE_SELF);
  const auto t0 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(duration_s));
  collector.measuring = false;
  const double cpu = CpuSeconds(RUSAGE_SELF) - cpu0;
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  monitor.Stop();
  kill(server, SIGTERM);
  waitpid(server, nullptr, 0);
  const double server_cpu = CpuSeconds(RUSAGE_CHILDREN);

  auto& l = collector.lateness_us;
  std::sort(l.begin(), l.end());
  auto pct = [&](double p) {
    if (l.empty()) return 0.0;
    const size_t rank = static_cast<size_t>(std::ceil(p * static_cast<double>(l.size())));
    return static_cast<double>(l[std::max<size_t>(rank, 1) - 1]) / 1000.0;
  };
  const double ideal = static_cast<double>(checks) * wall * 1000.0 / interval_ms;
  printf("checks %d, interval %d ms, measured %.1f s\n", checks, interval_ms, wall);
  if (silent > 0) {
    printf("silent checks %d (never answered, timeout %d ms): %lld probes\n", silent,
           interval_ms * 9 / 10, static_cast<long long>(collector.silent_probes));
  }
  printf("probes %zu of %.0f scheduled (ratio %.3f), failed %lld%s%s\n", l.size(), ideal,
         static_cast<double>(l.size()) / ideal, static_cast<long long>(collector.failures),
         collector.failures ? ", first: " : "", collector.first_failure.c_str());
  printf("lateness ms: p50 %.2f  p99 %.2f  max %.2f\n", pct(0.50), pct(0.99),
         l.empty() ? 0.0 : static_cast<double>(l.back()) / 1000.0);
  printf("checker CPU %.2f cores (%.1f s over %.1f s); server CPU (child) %.1f s\n", cpu / wall,
         cpu, wall, server_cpu);
  double load_after[1] = {0};
  getloadavg(load_after, 1);
  printf("checker CPU per probe %.1f us -> %.2f cores at %d probes/s; machine: %u cores, "
         "load average %.1f before, %.1f after\n",
         l.empty() ? 0.0 : cpu / static_cast<double>(l.size()) * 1e6,
         l.empty() ? 0.0 : cpu / static_cast<double>(l.size()) * checks * 1000.0 / interval_ms,
         checks * 1000 / interval_ms, std::thread::hardware_concurrency(), load_before[0],
         load_after[0]);
  printf("target: <= 1 core, p99 lateness <= 20 ms: %s\n",
         cpu / wall <= 1.0 && pct(0.99) <= 20.0 ? "MET" : "NOT MET");
  return 0;
}
