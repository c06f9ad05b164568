// GroupCommit: gathers the requests that arrive while earlier ones are being
// executed, and executes them as one batch, the way PostgreSQL's own commits
// share one WAL flush.
//
// A caller of Run() queues its item. When fewer than `max_in_flight` batches are
// executing, it becomes the batch's leader at once: it takes the queue (its own
// item and every one queued before it, at most `max_batch`), executes them with
// the `execute` it brought (its own database connection, say), hands every member
// its outcome and, when items are still queued, wakes the first of them to lead
// the next batch. Otherwise it sleeps until a leader has its outcome, or until it
// is asked to lead. So a lone request is a batch of one and waits for nothing,
// and under load each batch holds what arrived while the previous ones executed:
// the batches grow with the load, which is what spreads a round trip, a commit
// and a WAL flush over many requests.
//
// `execute` gets the batch in queue order and must return exactly one outcome per
// item, in the same order (a short answer fills the rest with `missing`).
// Thread-safe; Run() blocks its caller until its item's outcome is known.
#pragma once

#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

namespace pilotlight::trader {

template <typename In, typename Out>
class GroupCommit {
 public:
  struct Stats {
    uint64_t batches = 0;
    uint64_t items = 0;
    size_t largest = 0;
  };

  GroupCommit(size_t max_in_flight, size_t max_batch, Out missing)
      : max_in_flight_(std::max<size_t>(1, max_in_flight)),
        max_batch_(std::max<size_t>(1, max_batch)),
        missing_(std::move(missing)) {}

  template <typename Execute>
  Out Run(In item, Execute&& execute) {
    Waiter me{std::move(item)};
    std::unique_lock<std::mutex> lock(mu_);
    queue_.push_back(&me);
    for (;;) {
      if (me.out) return std::move(*me.out);
      if (in_flight_ < max_in_flight_) {
        Lead(lock, me, execute);
        continue;  // our item was the queue's: it went in this batch or an earlier one
      }
      me.lead = false;
      me.cv.wait(lock, [&] { return me.out.has_value() || me.lead; });
    }
  }

  size_t max_in_flight() const { return max_in_flight_; }
  Stats stats() const {
    std::lock_guard<std::mutex> lock(mu_);
    return stats_;
  }
  // Items queued and not yet taken by a leader (for tests).
  size_t queued() const {
    std::lock_guard<std::mutex> lock(mu_);
    return queue_.size();
  }

 private:
  struct Waiter {
    explicit Waiter(In i) : item(std::move(i)) {}
    In item;
    std::optional<Out> out;
    bool lead = false;
    std::condition_variable cv;
  };

  // REQUIRES: `lock` holds mu_, in_flight_ < max_in_flight_, the queue is not empty.
  template <typename Execute>
  void Lead(std::unique_lock<std::mutex>& lock, Waiter& me, Execute& execute) {
    const size_t n = std::min(queue_.size(), max_batch_);
    std::vector<Waiter*> batch(queue_.begin(), queue_.begin() + static_cast<ptrdiff_t>(n));
    queue_.erase(queue_.begin(), queue_.begin() + static_cast<ptrdiff_t>(n));
    ++in_flight_;
    ++stats_.batches;
    stats_.items += n;
    stats_.largest = std::max(stats_.largest, n);
    lock.unlock();
    std::vector<In> items;
    items.reserve(n);
    for (Waiter* w : batch) items.push_back(w->item);
    std::vector<Out> outs = execute(items);
    lock.lock();
    --in_flight_;
    for (size_t i = 0; i < n; ++i) {
      batch[i]->out = i < outs.size() ? std::move(outs[i]) : missing_;
      if (batch[i] != &me) batch[i]->cv.notify_one();
    }
    if (!queue_.empty() && in_flight_ < max_in_flight_ && queue_.front() != &me) {
      queue_.front()->lead = true;
      queue_.front()->cv.notify_one();
    }
  }

  const size_t max_in_flight_;
  const size_t max_batch_;
  const Out missing_;
  mutable std::mutex mu_;
  std::deque<Waiter*> queue_;
  size_t in_flight_ = 0;
  Stats stats_;
};

}  // namespace pilotlight::trader
