#include "data/postgres/wal_at_risk.h"

#include <algorithm>
#include <cstdio>

#include "core/duration.h"

namespace pilotlight::pg {

std::optional<Lsn> ParseLsn(std::string_view text) {
  const size_t slash = text.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == text.size()) {
    return std::nullopt;
  }
  auto hex = [](std::string_view part) -> std::optional<uint64_t> {
    if (part.size() > 8) return std::nullopt;
    uint64_t v = 0;
    for (char c : part) {
      int d;
      if (c >= '0' && c <= '9')
        d = c - '0';
      else if (c >= 'a' && c <= 'f')
        d = c - 'a' + 10;
      else if (c >= 'A' && c <= 'F')
        d = c - 'A' + 10;
      else
        return std::nullopt;
      v = v * 16 + static_cast<uint64_t>(d);
    }
    return v;
  };
  std::optional<uint64_t> hi = hex(text.substr(0, slash));
  std::optional<uint64_t> lo = hex(text.substr(slash + 1));
  if (!hi || !lo) return std::nullopt;
  return (*hi << 32) | *lo;
}

std::string FormatLsn(Lsn lsn) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%X/%X", static_cast<unsigned>(lsn >> 32),
                static_cast<unsigned>(lsn & 0xffffffffu));
  return buf;
}

void PrimaryWalHistory::Add(PrimaryWalSample s) {
  unreachable_since.reset();
  if (!samples.empty() && (s.lsn < samples.back().lsn || s.at < samples.back().at)) {
    samples.clear();  // another primary, or the clock stepped back: start again
  }
  if (!samples.empty() && samples.back().lsn == s.lsn) {
    samples.back().at = s.at;
    return;
  }
  samples.push_back(s);
  if (samples.size() > kMaxSamples) {
    // Drop every second sample of the older half.
    const size_t half = samples.size() / 2;
    std::vector<PrimaryWalSample> kept;
    kept.reserve(samples.size());
    for (size_t i = 0; i < samples.size(); ++i) {
      if (i < half && i % 2 == 1) continue;
      kept.push_back(samples[i]);
    }
    samples = std::move(kept);
  }
}

std::optional<Duration> WalAtRisk::Seconds() const {
  if (!bytes) return std::nullopt;
  Duration span{0};
  if (*bytes > 0) {
    if (!from || !to) return std::nullopt;
    span = *to > *from ? *to - *from : Duration(0);
  }
  if (lost_by && to && *lost_by > *to) span += *lost_by - *to;
  return span;
}

namespace {

std::string Secs(Duration d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", ToSeconds(d));
  return buf;
}

}  // namespace

std::string WalAtRisk::ToString() const {
  if (!bytes) return "unknown: " + unknown_why;
  std::string out;
  const std::string where = "standby at " + FormatLsn(*standby_lsn) + ", primary at " +
                            FormatLsn(*primary_lsn) +
                            (primary_live ? " now" : " when last seen, " + FormatTime(*to));
  if (*bytes == 0) {
    out = "0 bytes of WAL: the standby has received all the primary's WAL (" + where + ")";
  } else {
    out = std::to_string(*bytes) + " bytes of WAL not received by the standby (" + where +
          "), written ";
    out += from ? "from " + FormatTime(*from) + " to " + FormatTime(*to) + " (" +
                      Secs(*to - *from) + ")"
                : "before " + FormatTime(*to) + " (start unknown: older than the history)";
  }
  if (lost_by && to && *lost_by > *to) {
    out += "; the primary may have written more, not counted, until it was found unreachable at " +
           FormatTime(*lost_by) + " (" + Secs(*lost_by - *to) + " later)";
  }
  return out;
}

WalAtRisk EstimateWalAtRisk(const PrimaryWalHistory& history, bool primary_live,
                            const StandbyWalPosition& standby) {
  WalAtRisk w;
  w.primary_live = primary_live;
  const PrimaryWalSample* newest = history.Newest();
  if (newest == nullptr) {
    w.unknown_why =
        "no primary WAL position is known to the controller (it never reached the "
        "primary, or its memory was lost)";
    return w;
  }
  w.primary_lsn = newest->lsn;
  w.primary_lsn_at = newest->at;
  w.to = newest->at;
  if (!primary_live) w.lost_by = history.unreachable_since;
  if (!standby.received && !standby.replayed) {
    w.unknown_why = "the standby reports no received or replayed WAL position";
    return w;
  }
  const Lsn have = std::max(standby.received.value_or(0), standby.replayed.value_or(0));
  w.standby_lsn = have;
  w.bytes = newest->lsn > have ? static_cast<int64_t>(newest->lsn - have) : 0;
  if (*w.bytes == 0) return w;
  // The last time the primary was at or below what the standby has: every byte
  // the standby lacks was written after it.
  for (auto it = history.samples.rbegin(); it != history.samples.rend(); ++it) {
    if (it->lsn <= have) {
      w.from = it->at;
      break;
    }
  }
  // The replayed heartbeat is a bound too (it lies at or below `have`).
  if (standby.heartbeat_at && (!w.from || *standby.heartbeat_at > *w.from) &&
      *standby.heartbeat_at <= *w.to) {
    w.from = standby.heartbeat_at;
  }
  return w;
}

}  // namespace pilotlight::pg
