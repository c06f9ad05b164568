#include "trader/confirmations.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>

#include "core/log.h"
#include "data/objects/replicator.h"  // kInternalDir
#include "trader/matching.h"
#include "trader/schema.h"

namespace pilotlight::trader {

namespace {

// A writer's temporary file for an object: ".<object>.<pid>.<n>.tmp", a dot
// file (nobody reads those; earlier releases staged in the bucket itself) that
// names the process writing it.
std::string TempFileName(const std::string& object, pid_t pid, uint64_t n) {
  return "." + object + "." + std::to_string(pid) + "." + std::to_string(n) + ".tmp";
}

// For a temporary file (a dot file ending in ".tmp"), the pid its TempFileName
// carries, 0 when it carries none that can be read; nullopt for any other file.
std::optional<pid_t> TempFileWriter(const std::string& file) {
  constexpr std::string_view kSuffix = ".tmp";
  if (file.size() < 6 || file[0] != '.' ||
      file.compare(file.size() - kSuffix.size(), kSuffix.size(), kSuffix) != 0) {
    return std::nullopt;
  }
  const std::string stem = file.substr(0, file.size() - kSuffix.size());
  const size_t counter_dot = stem.rfind('.');
  if (counter_dot == std::string::npos || counter_dot == 0) return 0;
  const size_t pid_dot = stem.rfind('.', counter_dot - 1);
  if (pid_dot == std::string::npos) return 0;
  long pid = 0;
  const char* first = stem.data() + pid_dot + 1;
  const char* last = stem.data() + counter_dot;
  if (std::from_chars(first, last, pid).ptr != last || pid <= 0) return 0;
  return static_cast<pid_t>(pid);
}

}  // namespace

ConfirmationWriter::ConfirmationWriter(std::string dir, std::string region)
    : dir_(std::move(dir)), region_(std::move(region)) {}

std::string ConfirmationWriter::staging_dir() const {
  return dir_ + "/" + objects::kInternalDir + "/incoming";
}

std::string ConfirmationWriter::ObjectName(int64_t trade_id) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "trade-%020lld.json", static_cast<long long>(trade_id));
  return buf;
}

std::string ConfirmationWriter::Render(const Execution& t, const std::string& taker_account) const {
  nlohmann::json j = {{"trade_id", t.trade_id},
                      {"symbol", t.symbol},
                      {"price", FormatPrice(t.price)},
                      {"qty", t.qty},
                      {"buy_order_id", t.buy_order_id},
                      {"sell_order_id", t.sell_order_id},
                      {"maker_order_id", t.maker_order_id},
                      {"taker_order_id", t.taker_order_id},
                      {"taker_account", taker_account},
                      {"executed_at", t.executed_at},
                      {"region", region_}};
  return j.dump() + "\n";
}

Status ConfirmationWriter::Write(const Execution& trade, const std::string& taker_account) const {
  return WriteBatch({{trade, taker_account}});
}

Status ConfirmationWriter::WriteBatch(
    const std::vector<std::pair<Execution, std::string>>& trades) const {
  if (dir_.empty() || trades.empty()) return Status::OK();
  static std::atomic<uint64_t> counter{0};
  struct Pending {
    std::string tmp;
    std::string final_path;
    int fd = -1;
  };
  const std::string staging = staging_dir();
  // The staging directory, made on first use inside the bucket, which must exist
  // (a missing bucket is the operator's to fix, not ours to create).
  for (const std::string& d : {dir_ + "/" + objects::kInternalDir, staging}) {
    if (mkdir(d.c_str(), 0755) != 0 && errno != EEXIST) {
      return Status::IOError("cannot create " + d + ": " + std::strerror(errno) +
                             "; check that the confirmations bucket exists and is writable");
    }
  }
  std::vector<Pending> files;
  files.reserve(trades.size());
  // Whatever fails, no temporary file stays behind.
  auto abandon = [&](Status st) {
    for (Pending& f : files) {
      if (f.fd >= 0) close(f.fd);
      if (!f.tmp.empty()) unlink(f.tmp.c_str());
    }
    return st;
  };
  // 1. Every temporary file written, and its writeback started, so that the
  //    fsyncs below share the file system's journal commits instead of paying one
  //    each (they are what a confirmation costs).
  for (const auto& [trade, account] : trades) {
    const std::string body = Render(trade, account);
    const std::string name = ObjectName(trade.trade_id);
    Pending& f = files.emplace_back();
    f.tmp = staging + "/" + TempFileName(name, getpid(), counter.fetch_add(1));
    f.final_path = dir_ + "/" + name;
    f.fd = open(f.tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (f.fd < 0) {
      const std::string err = std::strerror(errno);
      f.tmp.clear();
      return abandon(Status::IOError("cannot create a confirmation in " + staging + ": " + err +
                                     "; check that the confirmations bucket exists and is "
                                     "writable"));
    }
    size_t done = 0;
    while (done < body.size()) {
      ssize_t n = write(f.fd, body.data() + done, body.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0)
        return abandon(Status::IOError("cannot write " + f.tmp + ": " + std::strerror(errno)));
      done += static_cast<size_t>(n);
    }
    (void)sync_file_range(f.fd, 0, 0, SYNC_FILE_RANGE_WRITE);  // a hint; fsync decides
  }
  // 2. Each file durable before it gets its name: a reader never sees half an object.
  for (Pending& f : files) {
    if (fsync(f.fd) != 0) {
      return abandon(Status::IOError("cannot fsync " + f.tmp + ": " + std::strerror(errno)));
    }
    close(f.fd);
    f.fd = -1;
  }
  // 3. The names (durable once SyncDir() has run).
  for (size_t i = 0; i < files.size(); ++i) {
    if (rename(files[i].tmp.c_str(), files[i].final_path.c_str()) != 0) {
      const std::string err = std::strerror(errno);
      Status st = Status::IOError("cannot rename " + files[i].tmp + " to " + files[i].final_path +
                                  ": " + err);
      files.erase(files.begin(), files.begin() + static_cast<std::ptrdiff_t>(i));
      return abandon(st);
    }
  }
  return Status::OK();
}

Status ConfirmationWriter::SyncDir() const {
  if (dir_.empty()) return Status::OK();
  int fd = open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return Status::IOError("cannot open the confirmations bucket " + dir_ + ": " +
                           std::strerror(errno));
  }
  const int rc = fsync(fd);
  const int err = errno;
  close(fd);
  if (rc != 0) {
    return Status::IOError("cannot fsync the confirmations bucket " + dir_ + ": " +
                           std::strerror(err));
  }
  return Status::OK();
}

Result<size_t> ConfirmationWriter::SweepAbandoned(Duration max_age) const {
  if (dir_.empty()) return size_t{0};
  namespace fs = std::filesystem;
  const auto now = fs::file_time_type::clock::now();
  size_t removed = 0;
  for (const std::string& dir : {staging_dir(), dir_}) {
    std::error_code ec;
    fs::directory_iterator it(dir, ec);
    if (ec == std::errc::no_such_file_or_directory && dir != dir_) continue;  // nothing staged yet
    if (ec) return Status::IOError("cannot list " + dir + ": " + ec.message());
    for (; it != fs::directory_iterator(); it.increment(ec)) {
      if (ec) break;
      const std::optional<pid_t> writer = TempFileWriter(it->path().filename().string());
      if (!writer) continue;
      const bool writer_gone = *writer > 0 && kill(*writer, 0) != 0 && errno == ESRCH;
      std::error_code tec;
      const auto written = fs::last_write_time(it->path(), tec);
      const bool old = !tec && now - written > max_age;
      if ((writer_gone || old) && fs::remove(it->path(), tec)) ++removed;
    }
  }
  return removed;
}

namespace {

int64_t Int(const std::optional<std::string>& v) {
  int64_t out = 0;
  if (v) std::from_chars(v->data(), v->data() + v->size(), out);
  return out;
}

// The rows of a claimed batch: locked (so no other drainer takes them) until
// this transaction ends; rows of trades still being committed are not visible.
// The claim comes first, materialized, and its few trade ids are then looked up
// by key (`= ANY (array)` is an index condition whatever the statistics say). As
// one join the planner read all of `trades` on every claim, by a merge join from
// its first row or a hash join over a sequential scan: 5-11 ms per claim, a fifth
// of a core at 500 orders/s, growing with the table.
constexpr char kClaimSql[] =
    "WITH c AS MATERIALIZED (SELECT trade_id, taker_account FROM confirmation_outbox "
    "ORDER BY trade_id LIMIT $1::int FOR UPDATE SKIP LOCKED), "
    "t AS MATERIALIZED (SELECT * FROM trades WHERE trade_id = ANY (ARRAY(SELECT trade_id "
    "FROM c))) "
    "SELECT c.trade_id, c.taker_account, t.symbol, t.price::text AS price, t.qty, "
    "t.maker_order_id, t.taker_order_id, t.buy_order_id, t.sell_order_id, "
    "to_char(t.executed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') "
    "AS executed_at "
    "FROM c JOIN t ON t.trade_id = c.trade_id ORDER BY c.trade_id";

}  // namespace

Result<size_t> ConfirmationDrainer::DrainOnce(pg::Connection& db, pg::Connection& barrier,
                                              const ConfirmationWriter& writer, int max_batches,
                                              size_t* left) {
  size_t written = 0;
  *left = 1;  // unknown until a claim comes back short
  for (int b = 0; b < max_batches; ++b) {
    // The deletion need not wait for the disk: lost in a crash, its rows come back
    // and the same objects are written again under the same names.
    PL_RETURN_IF_ERROR(db.Exec("BEGIN; SET LOCAL synchronous_commit = off"));
    Result<pg::Rows> batch = db.QueryPrepared(kClaimSql, {std::to_string(kOutboxBatch)});
    if (!batch.ok()) {
      (void)db.Exec("ROLLBACK");
      return batch.status();
    }
    if (!batch->empty()) {
      // Trades commit asynchronously (schema.cc): no object for a trade before its
      // commit is on disk. The barrier commits after this claim's snapshot was
      // taken, so its flush covers every trade the claim saw.
      Result<pg::Rows> durable = barrier.QueryPrepared(kDurabilityBarrierSql);
      if (!durable.ok()) {
        (void)db.Exec("ROLLBACK");
        return durable.status().Annotate("durability barrier before writing confirmations");
      }
    }
    std::string ids = "{";
    std::vector<std::pair<Execution, std::string>> trades;
    trades.reserve(batch->rows.size());
    for (size_t i = 0; i < batch->rows.size(); ++i) {
      Execution e;
      e.trade_id = Int(batch->Get(i, "trade_id"));
      e.symbol = batch->Get(i, "symbol").value_or("");
      e.price = ParsePrice(batch->Get(i, "price").value_or("")).value_or(0);
      e.qty = Int(batch->Get(i, "qty"));
      e.maker_order_id = Int(batch->Get(i, "maker_order_id"));
      e.taker_order_id = Int(batch->Get(i, "taker_order_id"));
      e.buy_order_id = Int(batch->Get(i, "buy_order_id"));
      e.sell_order_id = Int(batch->Get(i, "sell_order_id"));
      e.executed_at = batch->Get(i, "executed_at").value_or("");
      ids += (i ? "," : "") + std::to_string(e.trade_id);
      trades.emplace_back(std::move(e), batch->Get(i, "taker_account").value_or(""));
    }
    Status st = writer.WriteBatch(trades);
    if (!st.ok()) {
      (void)db.Exec("ROLLBACK");  // the rows stay: the next pass writes them again
      return st;
    }
    ids += "}";
    if (!batch->empty()) {
      Status synced = writer.SyncDir();
      if (!synced.ok()) {
        (void)db.Exec("ROLLBACK");
        return synced;
      }
      Result<pg::Rows> done = db.QueryPrepared(
          "DELETE FROM confirmation_outbox WHERE trade_id = ANY($1::bigint[])", {ids});
      if (!done.ok()) {
        (void)db.Exec("ROLLBACK");
        return done.status();
      }
    }
    PL_RETURN_IF_ERROR(db.Exec("COMMIT"));
    written += batch->rows.size();
    if (batch->rows.size() < static_cast<size_t>(kOutboxBatch)) {
      // Short batch: empty now, unless another drainer holds rows (SKIP LOCKED),
      // and those it will delete itself.
      *left = 0;
      return written;
    }
  }
  return written;  // more to do: the caller comes back
}

ConfirmationDrainer::ConfirmationDrainer(ConfirmationWriter writer, pg::Endpoint database)
    : writer_(std::move(writer)), database_(std::move(database)) {
  if (writer_.enabled()) thread_ = std::thread([this] { Run(); });
}

ConfirmationDrainer::~ConfirmationDrainer() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ConfirmationDrainer::Nudge() {
  if (!writer_.enabled()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    nudged_ = true;
  }
  cv_.notify_all();
}

size_t ConfirmationDrainer::Flush(Duration timeout) {
  if (!writer_.enabled()) return 0;
  std::unique_lock<std::mutex> lock(mu_);
  const uint64_t after = passes_started_;
  nudged_ = true;
  flushing_ = true;
  cv_.notify_all();
  const bool clean = cv_.wait_for(lock, timeout, [&] { return clean_pass_ > after; });
  return clean ? 0 : std::max<size_t>(left_, 1);
}

void ConfirmationDrainer::Run() {
  Result<size_t> swept = writer_.SweepAbandoned(kAbandonedTempAge);
  if (!swept.ok()) {
    LogWarn("trader: " + swept.status().ToString());
  } else if (*swept > 0) {
    LogInfo("trader: removed " + std::to_string(*swept) +
            " temporary confirmation file(s) left by a killed instance");
  }
  std::unique_ptr<pg::Connection> db;
  std::unique_ptr<pg::Connection> barrier;  // the claim's transaction stays open meanwhile
  std::string last_error;
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait_for(lock, kOutboxPollInterval, [&] { return nudged_ || stop_; });
    if (stop_) return;
    if (nudged_ && !flushing_ && !full_pass_) {
      // Let the trades of the next few orders join this batch: one claim, one
      // barrier, one directory fsync and one commit for all of them.
      cv_.wait_for(lock, kOutboxCoalesce, [&] { return flushing_ || stop_; });
      if (stop_) return;
    }
    nudged_ = false;
    flushing_ = false;
    full_pass_ = false;
    const uint64_t pass = ++passes_started_;
    lock.unlock();

    size_t left = 1;
    Status st = Status::OK();
    for (std::unique_ptr<pg::Connection>* c : {&db, &barrier}) {
      if (*c || !st.ok()) continue;
      Result<std::unique_ptr<pg::Connection>> opened = pg::Connection::Open(database_);
      if (opened.ok()) {
        *c = std::move(*opened);
      } else {
        st = opened.status();
      }
    }
    if (db && barrier) {
      Result<size_t> drained = DrainOnce(*db, *barrier, writer_, kOutboxBatchesPerPass, &left);
      if (!drained.ok()) {
        st = drained.status();
        // Reconnect on the next pass.
        if (!db->Exec("SELECT 1").ok()) db.reset();
        if (!barrier->Exec("SELECT 1").ok()) barrier.reset();
      }
    }
    // Say it once per change, not every poll (a standby refuses every pass).
    if (!st.ok() && st.message() != last_error) {
      LogWarn(
          "trader: confirmation outbox not drained (retrying every " +
          std::to_string(
              std::chrono::duration_cast<std::chrono::milliseconds>(kOutboxPollInterval).count()) +
          " ms): " + st.ToString());
    } else if (st.ok() && !last_error.empty()) {
      LogInfo("trader: confirmation outbox draining again");
    }
    last_error = st.ok() ? "" : st.message();

    lock.lock();
    if (st.ok() && left > 0) nudged_ = full_pass_ = true;  // go on at once, unless stopping
    left_ = left;
    if (st.ok() && left == 0) clean_pass_ = pass;
    cv_.notify_all();
  }
}

}  // namespace pilotlight::trader
