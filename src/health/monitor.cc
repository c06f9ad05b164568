#include "health/monitor.h"

#include <atomic>
#include <boost/asio.hpp>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

#include "core/duration.h"
#include "core/log.h"
#include "health/probes.h"

namespace pilotlight::health {

namespace asio = boost::asio;

struct HealthMonitor::Impl {
  struct Slot {
    size_t check;
    size_t vantage;
    VantageSpec vantage_spec;
    ProbeTarget target;
    std::unique_ptr<asio::steady_timer> timer;
    MonoTime due;
  };
  struct Periodic {
    Duration every;
    std::function<void()> task;
    std::unique_ptr<asio::steady_timer> timer;
    MonoTime due;
  };

  Impl(const Clock& c, HealthBook b, MonitorOptions o)
      : clock(c), book(std::move(b)), options(o), rng(o.seed != 0 ? o.seed : std::random_device{}()) {}

  Duration Uniform(Duration upto) {
    if (upto <= Duration::zero()) return Duration::zero();
    std::uniform_int_distribution<int64_t> d(0, upto.count() - 1);
    return Duration(d(rng));
  }

  void Arm(Slot& slot) {
    slot.timer->expires_after(slot.due - clock.Monotonic());
    slot.timer->async_wait([this, &slot](const boost::system::error_code& ec) {
      if (!ec && !stopping) Fire(slot);
    });
  }

  void Fire(Slot& slot) {
    const Duration lateness = clock.Monotonic() - slot.due;
    const CheckSpec& spec = book.specs()[slot.check];
    StartProbe(io, clock, spec, slot.target, [this, &slot, &spec, lateness](ProbeResult r) {
      r.lateness = lateness;
      r.late = IsLateProbe(spec, r);
      if (r.late) {
        r.detail += "; late (started " + FormatDuration(r.lateness) + " after it was due, took " +
                    FormatDuration(r.latency) + "): this checker was starved, inconclusive";
      }
      OnResult(slot, r);
    });
  }

  void OnResult(Slot& slot, const ProbeResult& r) {
    if (stopping) return;
    const CheckSpec& spec = book.specs()[slot.check];
    std::vector<CheckTransition> transitions;
    HealthStatus status;
    {
      std::lock_guard<std::mutex> lock(mu);
      transitions = book.Record(slot.check, slot.vantage, r, r.at);
      status = book.states()[slot.check].status;
    }
    for (const CheckTransition& t : transitions) {
      const std::string who = t.check + (t.vantage.empty() ? "" : " from " + t.vantage);
      const std::string line = "check " + who + ": " + HealthStatusName(t.from) + " -> " +
                               HealthStatusName(t.to) + ": " + t.reason;
      if (t.vantage.empty()) LogInfo(line);
      else LogDebug(line);
    }
    if (listener != nullptr) {
      listener->OnProbe(spec, slot.vantage_spec, r, status);
      if (!transitions.empty()) listener->OnTransitions(transitions);
    }
    slot.due += spec.interval + Uniform(spec.jitter);
    // Never try to catch up a backlog: a probe more than an interval late runs now.
    const MonoTime now = clock.Monotonic();
    if (slot.due + spec.interval < now) slot.due = now;
    Arm(slot);
  }

  void ArmPeriodic(Periodic& p) {
    p.timer->expires_after(p.due - clock.Monotonic());
    p.timer->async_wait([this, &p](const boost::system::error_code& ec) {
      if (ec || stopping) return;
      p.task();
      p.due += p.every;
      if (p.due < clock.Monotonic()) p.due = clock.Monotonic() + p.every;
      ArmPeriodic(p);
    });
  }

  const Clock& clock;
  asio::io_context io;  // declared before the timers that use it
  mutable std::mutex mu;
  HealthBook book;  // guarded by mu (written on the loop thread only)
  MonitorOptions options;
  std::mt19937_64 rng;
  HealthListener* listener = nullptr;
  std::vector<std::unique_ptr<Slot>> slots;
  std::vector<std::unique_ptr<Periodic>> periodic;
  std::thread thread;
  std::atomic<bool> stopping{false};
  bool started = false;
};

Result<std::unique_ptr<HealthMonitor>> HealthMonitor::Create(const Clock& clock,
                                                             std::vector<CheckSpec> specs,
                                                             MonitorOptions options) {
  Result<HealthBook> book = HealthBook::Create(std::move(specs), options.history_limit);
  if (!book.ok()) return book.status();
  auto impl = std::make_unique<Impl>(clock, std::move(*book), options);
  const auto& all = impl->book.specs();
  for (size_t c = 0; c < all.size(); ++c) {
    const std::vector<VantageSpec> vantages = EffectiveVantages(all[c]);
    for (size_t v = 0; v < vantages.size(); ++v) {
      auto slot = std::make_unique<Impl::Slot>();
      slot->check = c;
      slot->vantage = v;
      slot->vantage_spec = vantages[v];
      slot->target = TargetFor(all[c], vantages[v]);
      slot->timer = std::make_unique<asio::steady_timer>(impl->io);
      impl->slots.push_back(std::move(slot));
    }
  }
  return std::unique_ptr<HealthMonitor>(new HealthMonitor(std::move(impl)));
}

HealthMonitor::HealthMonitor(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HealthMonitor::~HealthMonitor() {
  Stop();
  // Timers go before the io_context they belong to; then abandoned probes are
  // destroyed with the io_context's pending handlers.
  impl_->slots.clear();
  impl_->periodic.clear();
}

void HealthMonitor::SetListener(HealthListener* listener) { impl_->listener = listener; }

void HealthMonitor::AddPeriodicTask(Duration every, std::function<void()> task) {
  auto p = std::make_unique<Impl::Periodic>();
  p->every = every;
  p->task = std::move(task);
  p->timer = std::make_unique<asio::steady_timer>(impl_->io);
  impl_->periodic.push_back(std::move(p));
}

Status HealthMonitor::Start() {
  if (impl_->started) return Status::FailedPrecondition("the health monitor is already started");
  impl_->started = true;
  const MonoTime now = impl_->clock.Monotonic();
  for (auto& slot : impl_->slots) {
    const CheckSpec& spec = impl_->book.specs()[slot->check];
    slot->due = now + (impl_->options.spread_first_probes ? impl_->Uniform(spec.interval)
                                                          : Duration::zero());
    impl_->Arm(*slot);
  }
  for (auto& p : impl_->periodic) {
    p->due = now + p->every;
    impl_->ArmPeriodic(*p);
  }
  impl_->thread = std::thread([this] {
    try {
      impl_->io.run();
    } catch (const std::exception& e) {
      LogError(std::string("health monitor loop stopped by an exception: ") + e.what());
    }
  });
  return Status::OK();
}

void HealthMonitor::Stop() {
  impl_->stopping = true;
  impl_->io.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

const std::vector<CheckSpec>& HealthMonitor::specs() const { return impl_->book.specs(); }

std::vector<CheckState> HealthMonitor::Snapshot() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->book.states();
}

std::vector<HealthStatus> HealthMonitor::Statuses() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::vector<HealthStatus> out;
  for (const CheckState& s : impl_->book.states()) out.push_back(s.status);
  return out;
}

std::vector<CheckTransition> HealthMonitor::History() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return {impl_->book.history().begin(), impl_->book.history().end()};
}

}  // namespace pilotlight::health
