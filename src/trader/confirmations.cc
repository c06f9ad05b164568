#include "trader/confirmations.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

#include "core/log.h"

namespace pilotlight::trader {

ConfirmationWriter::ConfirmationWriter(std::string dir, std::string region)
    : dir_(std::move(dir)), region_(std::move(region)) {}

std::string ConfirmationWriter::ObjectName(int64_t trade_id) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "trade-%020lld.json", static_cast<long long>(trade_id));
  return buf;
}

Status ConfirmationWriter::Write(const Execution& t, const std::string& taker_account) const {
  if (dir_.empty()) return Status::OK();
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
  const std::string body = j.dump() + "\n";
  static std::atomic<uint64_t> counter{0};
  const std::string name = ObjectName(t.trade_id);
  const std::string tmp = dir_ + "/." + name + "." + std::to_string(getpid()) + "." +
                          std::to_string(counter.fetch_add(1)) + ".tmp";
  const std::string final_path = dir_ + "/" + name;
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return Status::IOError("cannot create " + tmp + ": " + std::strerror(errno) +
                           "; check that the confirmations bucket exists and is writable");
  }
  size_t done = 0;
  while (done < body.size()) {
    ssize_t n = write(fd, body.data() + done, body.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string err = std::strerror(errno);
      close(fd);
      unlink(tmp.c_str());
      return Status::IOError("cannot write " + tmp + ": " + err);
    }
    done += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0) {
    const std::string err = std::strerror(errno);
    close(fd);
    unlink(tmp.c_str());
    return Status::IOError("cannot fsync " + tmp + ": " + err);
  }
  close(fd);
  if (rename(tmp.c_str(), final_path.c_str()) != 0) {
    const std::string err = std::strerror(errno);
    unlink(tmp.c_str());
    return Status::IOError("cannot rename " + tmp + " to " + final_path + ": " + err);
  }
  return Status::OK();
}

namespace {
constexpr size_t kMaxQueued = 100'000;  // beyond this, orders wait for the disk
}  // namespace

ConfirmationQueue::ConfirmationQueue(ConfirmationWriter writer) : writer_(std::move(writer)) {
  if (writer_.enabled()) thread_ = std::thread([this] { Run(); });
}

ConfirmationQueue::~ConfirmationQueue() {
  Flush(std::chrono::seconds(30));
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ConfirmationQueue::Enqueue(const Execution& trade, const std::string& taker_account) {
  if (!writer_.enabled()) return;
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return queue_.size() < kMaxQueued || stop_; });
  queue_.emplace_back(trade, taker_account);
  cv_.notify_all();
}

size_t ConfirmationQueue::Flush(Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return queue_.empty() && in_flight_ == 0; });
  return queue_.size() + in_flight_;
}

void ConfirmationQueue::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return !queue_.empty() || stop_; });
    if (queue_.empty()) return;  // stopping, and nothing left
    auto [trade, account] = std::move(queue_.front());
    queue_.pop_front();
    in_flight_ = 1;
    cv_.notify_all();  // room for a blocked producer
    lock.unlock();
    Status st = writer_.Write(trade, account);
    if (!st.ok()) {
      LogWarn("trader: confirmation of trade " + std::to_string(trade.trade_id) +
              " not written: " + st.ToString());
    }
    lock.lock();
    in_flight_ = 0;
    cv_.notify_all();
  }
}

}  // namespace pilotlight::trader
