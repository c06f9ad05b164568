// The DNS side of a failover, over the files `pilotlight dns serve` re-reads:
// switching a record to its secondary (or to weights) in the override file,
// asking whether it is already switched, whether the zone has a secondary to
// switch to (a readiness gate), and what the zone answers for the record now
// (for `pilotlight verify`), and what plain DNS servers must answer once it is
// switched (RecordChanges, for the publishers). Thread-compatible (reads and writes files).
#pragma once

#include <string>
#include <vector>

#include "controller/snapshot.h"
#include "controller/spec.h"
#include "core/clock.h"
#include "core/status.h"
#include "dns/update/publisher.h"

namespace pilotlight::controller {

// How the zone routes a record, for a failback that shifts traffic back.
struct RecordSetShape {
  std::string id;    // weighted sets
  std::string role;  // failover sets: "primary" | "secondary"; "" otherwise
  std::vector<std::string> values;
};
struct RecordShape {
  std::string policy;  // "failover" | "weighted" | "simple"
  std::vector<RecordSetShape> sets;
};
Result<RecordShape> DescribeRecord(const DnsTarget& dns, WallTime now);

// `to`: primary | secondary | auto | weights:ID=N,... (as `pilotlight dns set --to`).
Status SwitchRecord(const DnsTarget& dns, const std::string& to, WallTime now);
// True when the override file already routes the record as `to` says.
Result<bool> RecordRoutedAs(const DnsTarget& dns, const std::string& to, WallTime now);
// The readiness fact "the DNS secondary exists": the record fails over and has a
// secondary set, or is weighted with more than one set.
Fact DnsSecondaryExists(const DnsTarget& dns, WallTime now);
// The values the zone serves for the record right now (overrides applied; no
// health file: every check unknown, i.e. healthy).
Result<std::vector<std::string>> CurrentAnswers(const DnsTarget& dns, WallTime now);
// What every DNS server must answer for the record once it is routed as `to`:
// one change per record set of the name (its type and TTL, the values of every
// alternative the routing leaves a non-zero weight, with `routing` = `to`), as
// the embedded server would answer with no health file. A weighted record's
// intermediate shift (25 %) thus gives a plain server both regions' values.
Result<std::vector<dns::RecordSetChange>> RecordChanges(const DnsTarget& dns, const std::string& to,
                                                        WallTime now);

}  // namespace pilotlight::controller
