// Trade confirmations: one JSON object per trade in the region's
// "confirmations" bucket, the objects pilotlight's bucket replicator copies to DR.
//
// Why an outbox, and not "write the file, then answer": a trade and its
// confirmation must never disagree, and only one of them can be the book of
// record. pl_place_orders (schema.cc) inserts a confirmation_outbox row for each
// trade in the SAME transaction as the trade, so when an order is acknowledged
// its confirmations are as durable as the trade itself: committed, and streamed to
// the DR database with it. A file written before the answer would still leave two
// gaps an operator cannot close by hand: a crash between COMMIT and the file loses
// the confirmation of a committed trade whose client never got an answer (and
// its maker's), and a region lost before the bucket replicator ran loses objects
// the database kept. With the outbox, whichever instance runs next, here or in DR
// after a promotion, drains what is left; nothing depends on one process's
// memory.
//
// Each object is written atomically and idempotently: a temporary file in the
// bucket's staging directory (staging_dir()), fsync, rename to
// "trade-<trade_id zero-padded to 20>.json" in the bucket (the name is the trade
// id, so writing it twice leaves one object), then, once per batch, fsync of the
// bucket directory so the renames survive a power loss; only after that are the
// batch's outbox rows deleted, in one transaction. A crash anywhere in between
// writes the same objects again. The staging directory is inside the bucket's
// `.pilotlight` directory, which the bucket replicator neither lists nor watches,
// and on the bucket's own file system, so the rename is atomic: nobody sees half
// an object, and the replicator's change feed hears one event per object (the
// rename into the bucket) instead of four (create, close, and the rename's two
// halves), which had overflowed its inotify queue at 2,000 trades a second.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "data/postgres/pg_client.h"
#include "trader/order_store.h"

namespace pilotlight::trader {

// Renders and writes confirmation objects into one bucket directory.
// Thread-safe: no shared state beyond the directory.
class ConfirmationWriter {
 public:
  // An empty `dir` disables confirmations (the region has no such bucket).
  ConfirmationWriter(std::string dir, std::string region);

  // Writes one object (temp file, fsync, rename). The rename is durable only
  // after SyncDir().
  Status Write(const Execution& trade, const std::string& taker_account) const;
  // Writes several (trade, taker account) objects the same way, the files' data
  // flushed together so their fsyncs share journal commits. On error some objects
  // may be written (each whole) and no temporary file is left.
  Status WriteBatch(const std::vector<std::pair<Execution, std::string>>& trades) const;
  // fsyncs the bucket directory, making every rename before it durable.
  Status SyncDir() const;
  // Removes temporary files that writers killed mid-write left behind, in the
  // staging directory and (earlier releases staged there) the bucket itself:
  // those of a process that no longer runs on this host (the name carries the
  // pid), and any older than `max_age` (a pid may have been reused). Returns how
  // many it removed. Nobody reads them, so this is housekeeping, not correctness.
  Result<size_t> SweepAbandoned(Duration max_age) const;
  // The object's exact content (one JSON line).
  std::string Render(const Execution& trade, const std::string& taker_account) const;
  bool enabled() const { return !dir_.empty(); }
  const std::string& dir() const { return dir_; }
  // Where temporary files are written: "<dir>/.pilotlight/incoming", inside the
  // replicator's internal directory (objects::kInternalDir), see above.
  std::string staging_dir() const;

  // "trade-00000000000000000042.json"
  static std::string ObjectName(int64_t trade_id);

 private:
  std::string dir_;
  std::string region_;
};

// Drains the confirmation_outbox of one region's database into its bucket on a
// background thread with connections of its own. It wakes when Nudge() says an
// order traded (and waits kOutboxCoalesce for more, so that a batch carries many
// trades), and polls every kOutboxPollInterval for rows left by other or
// killed instances. Several drainers (instances) share the outbox safely: a batch
// is claimed with FOR UPDATE SKIP LOCKED. While the database refuses writes (a
// standby, fenced) it keeps polling and writes nothing. Thread-safe.
inline constexpr Duration kOutboxPollInterval = std::chrono::milliseconds(200);
// How long a nudged drainer waits for more trades before it claims a batch.
inline constexpr Duration kOutboxCoalesce = std::chrono::milliseconds(20);
inline constexpr int kOutboxBatch = 256;
// A drainer starting up removes temporary files older than this, or of writers
// that no longer run (SweepAbandoned).
inline constexpr Duration kAbandonedTempAge = std::chrono::minutes(10);
inline constexpr int kOutboxBatchesPerPass = 8;

class ConfirmationDrainer {
 public:
  ConfirmationDrainer(ConfirmationWriter writer, pg::Endpoint database);
  ~ConfirmationDrainer();  // stops after the pass in progress

  // An order has committed trades: drain now rather than at the next poll.
  void Nudge();
  // Waits until a pass that started after this call found the outbox empty, up to
  // `timeout`. Returns 0 then, else 1 (some rows may still be waiting; the next
  // instance to run drains them).
  size_t Flush(Duration timeout);
  bool enabled() const { return writer_.enabled(); }

  // One pass on `db`: claims up to `max_batches` batches, stopping early when the
  // outbox is empty; returns how many objects it wrote. `left` gets 0 when the
  // outbox was found empty, else 1 (more rows may be waiting). Before writing a
  // claimed batch it runs the durability barrier on `barrier` (another connection
  // to the same database: the claim's transaction is still open), since trades
  // commit asynchronously. Public for tests. Thread-compatible (one pair of
  // Connections per caller).
  static Result<size_t> DrainOnce(pg::Connection& db, pg::Connection& barrier,
                                  const ConfirmationWriter& writer, int max_batches, size_t* left);

 private:
  void Run();

  ConfirmationWriter writer_;
  pg::Endpoint database_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool nudged_ = false;
  bool flushing_ = false;   // Flush() waits: no coalescing delay
  bool full_pass_ = false;  // the last pass left rows: no coalescing delay
  bool stop_ = false;
  uint64_t passes_started_ = 0;
  uint64_t clean_pass_ = 0;  // the last pass (by start number) that left nothing
  size_t left_ = 0;
  std::thread thread_;
};

}  // namespace pilotlight::trader
