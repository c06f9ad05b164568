// What a promotion of the DR standby would lose, measured in WAL.
//
// Promoting a standby replays every WAL byte it has *received* (pg_wal holds it,
// paused replay or not), so what is at risk is the WAL the primary wrote that
// the standby never received: the newest primary position the controller knows
// (pg_current_wal_lsn(), read while the primary was reachable) minus the
// standby's received position (pg_last_wal_receive_lsn(), or its replay position
// if that is further). A time window says when those bytes were written: after
// the last moment the primary was known to be at or below the standby's
// position, up to the newest primary position known (and, when the primary is
// gone, possibly until it was found unreachable: writes in that tail cannot be
// counted in bytes by anyone).
//
// PrimaryWalHistory is what the controller remembers between cycles (and
// across processes, in its state directory): a short, thinned history of the
// primary's positions, so the window's start is known. Pure and thread-safe
// (values only, no I/O, no clock reads).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"

namespace pilotlight::pg {

// A WAL position (pg_lsn) as a byte offset.
using Lsn = uint64_t;

// "16/B374D848" -> 0x16B374D848; nullopt for anything else.
std::optional<Lsn> ParseLsn(std::string_view text);
std::string FormatLsn(Lsn lsn);

// The primary's WAL position when the controller read it.
struct PrimaryWalSample {
  Lsn lsn = 0;
  WallTime at;
};

struct PrimaryWalHistory {
  // Ascending in both lsn and time; an unchanged position keeps only its newest
  // time (the latest moment the primary was still there).
  std::vector<PrimaryWalSample> samples;
  // The first observation that found the primary unreachable after the newest
  // sample (unset while it answers): writes may exist up to then.
  std::optional<WallTime> unreachable_since;

  static constexpr size_t kMaxSamples = 512;

  // Records a position read now. A position behind the newest (another server
  // answers as the primary: a failback, a rebuilt primary) starts a new history.
  // Past kMaxSamples the older half is thinned (every second sample dropped), so
  // the history keeps its reach at a coarser grain.
  void Add(PrimaryWalSample sample);
  void MarkUnreachable(WallTime at) {
    if (!unreachable_since) unreachable_since = at;
  }
  const PrimaryWalSample* Newest() const { return samples.empty() ? nullptr : &samples.back(); }
};

// The standby's side, from ReplicationStatus.
struct StandbyWalPosition {
  std::optional<Lsn> received;  // pg_last_wal_receive_lsn(): null when no receiver ever ran
  std::optional<Lsn> replayed;  // pg_last_wal_replay_lsn()
  // The newest heartbeat row the standby replayed (primary's clock): every byte
  // it lacks was written after it; a fallback start of the window.
  std::optional<WallTime> heartbeat_at;
};

struct WalAtRisk {
  // Unknown without a primary position or a standby position (`unknown_why`).
  std::optional<int64_t> bytes;
  std::optional<Lsn> primary_lsn;  // the newest primary position known
  std::optional<WallTime> primary_lsn_at;
  std::optional<Lsn> standby_lsn;  // what the standby holds (received or replayed)
  bool primary_live = false;       // primary_lsn was read in this observation
  // The unreceived bytes were written after `from` and by `to` (= primary_lsn_at).
  // `from` is unknown when the history does not reach back that far and no
  // heartbeat is known.
  std::optional<WallTime> from;
  std::optional<WallTime> to;
  // The primary was found unreachable at this time: it may have written more
  // (not counted in bytes) between `to` and then.
  std::optional<WallTime> lost_by;
  std::string unknown_why;

  bool known() const { return bytes.has_value(); }
  // How long a span of writes is at risk: 0 when nothing is, else to - from,
  // plus the unobserved tail up to lost_by. Unknown when bytes > 0 and `from` is.
  std::optional<Duration> Seconds() const;
  // One sentence for operators: "65432 bytes of WAL not received by the standby
  // (standby at 0/3000060, primary at 0/3010000 at 12:00:01.200Z), written
  // 12:00:00.000Z to 12:00:01.200Z (1.2 s); ...".
  std::string ToString() const;
};

// `history`'s newest sample is the primary's position (read now when
// `primary_live`).
WalAtRisk EstimateWalAtRisk(const PrimaryWalHistory& history, bool primary_live,
                            const StandbyWalPosition& standby);

}  // namespace pilotlight::pg
