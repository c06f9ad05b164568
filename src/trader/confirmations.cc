#include "trader/confirmations.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

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

}  // namespace pilotlight::trader
