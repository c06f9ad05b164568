// Trade confirmations: one JSON object per trade in the region's
// "confirmations" bucket, the objects pilotlight's bucket replicator copies to DR.
//
// Each object is written atomically: a dot-prefixed temporary file in the bucket,
// fsync, then rename to "trade-<trade_id zero-padded to 20>.json", so a reader or
// a replicator never sees half an object (they skip dot files). Thread-safe: no
// shared state beyond the directory.
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include "core/clock.h"
#include "core/status.h"
#include "trader/order_store.h"

namespace pilotlight::trader {

class ConfirmationWriter {
 public:
  // An empty `dir` disables confirmations (the region has no such bucket).
  ConfirmationWriter(std::string dir, std::string region);

  Status Write(const Execution& trade, const std::string& taker_account) const;
  bool enabled() const { return !dir_.empty(); }
  const std::string& dir() const { return dir_; }

  // "trade-00000000000000000042.json"
  static std::string ObjectName(int64_t trade_id);

 private:
  std::string dir_;
  std::string region_;
};

// Writes confirmations on a background thread, so creating and fsyncing one file
// per trade stays off the order's latency path: the trade itself is already
// durable in PostgreSQL when it is queued. Flush() waits for the queue to empty
// (the service calls it while draining); the destructor flushes too. Thread-safe.
class ConfirmationQueue {
 public:
  explicit ConfirmationQueue(ConfirmationWriter writer);
  ~ConfirmationQueue();

  void Enqueue(const Execution& trade, const std::string& taker_account);
  // Waits until every queued confirmation is written, up to `timeout`; returns
  // how many are still queued.
  size_t Flush(Duration timeout);
  bool enabled() const { return writer_.enabled(); }

 private:
  void Run();

  ConfirmationWriter writer_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<Execution, std::string>> queue_;
  size_t in_flight_ = 0;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace pilotlight::trader
