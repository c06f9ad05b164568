// Trade confirmations: one JSON object per trade in the region's
// "confirmations" bucket, the objects pilotlight's bucket replicator copies to DR.
//
// Each object is written atomically: a dot-prefixed temporary file in the bucket,
// fsync, then rename to "trade-<trade_id zero-padded to 20>.json", so a reader or
// a replicator never sees half an object (they skip dot files). Thread-safe: no
// shared state beyond the directory.
#pragma once

#include <string>

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

}  // namespace pilotlight::trader
