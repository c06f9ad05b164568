// The runbook step kinds a failback needs beyond the failover's (actions.h),
// over the real adapters:
//
//   rejoin            region (the server to turn into a standby), from (the
//                     primary it streams from; default: the other region).
//                     pg::Rejoin (pg_rewind, else pg_basebackup) on the region's
//                     data directory (ControllerSpec::local_databases).
//                     Done when `from` shows it streaming.
//   sync_objects      from, to: one checksummed pass of every shared bucket from
//                     `from` to `to` (objects::BucketReplicator, checkpoint in the
//                     data/rpo layout). Run again, it copies only what changed.
//   validate_standby  region (the standby), from (its primary): waits until it
//                     streams and its replay lag is under
//                     replication.max_lag_on_failover.
//   switchover        from (the writable region, fenced), to (the standby,
//                     promoted): fence `from` read-only, wait until `to` has
//                     replayed `from`'s last WAL position (zero data loss), promote
//                     `to`, verify it writes. Done when `to` writes and `from`
//                     refuses writes.
//   dns_shift         record, to (a region), steps ("25,50,100"), pause ("2s"):
//                     a weighted record gets the region's share in those steps,
//                     a pause between; a failover record is pointed at the
//                     region's role (primary or secondary) at once. Each
//                     step goes to every DNS publisher (the override file and
//                     each dns.publishers server) and waits until all of them
//                     answer it (controller/dns_publishers.h).
//
// Every action is idempotent (AlreadyDone looks for its effect first), and none
// reads the system clock except through the Clock of the Adapters. Used by the
// thread running the runbook only.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "controller/actions.h"
#include "controller/dns_publishers.h"
#include "controller/dns_switch.h"
#include "runbook/executor.h"

namespace pilotlight::controller {

std::map<std::string, std::unique_ptr<runbook::StepAction>> MakeFailbackActions(
    const Adapters& adapters);

// "25,50,100" -> {25, 50, 100}: increasing percentages ending at 100. Pure.
Result<std::vector<int>> ParseShiftSteps(const std::string& text);

// The weights of a weighted record's sets when `share` percent goes to the sets
// whose values contain one of `region_values` and the rest is split evenly over
// the others: "weights:a=25,b=75". Pure.
Result<std::string> WeightsFor(const std::vector<RecordSetShape>& sets,
                               const std::vector<std::string>& region_values, int share);

}  // namespace pilotlight::controller
