// The controller's durable state, and the operator's requests to it.
//
// Nothing about a failover lives only in the controller's memory: its phase and
// the time of the last failover are derived from the runbook journal at every
// cycle (an unfinished failover run: failing over; the newest failover run
// succeeded: failed over, at its finish time), so a restarted controller resumes
// the run and never fails over twice. Operator requests (`pilotlight approve`)
// are files in the state directory, consumed when a run starts. RunbookLock
// keeps two pilotlight processes (the controller, a manual `pilotlight
// failover`) from running runbooks on one journal at once.
//
// StateFromRuns is pure; the rest touch files. Thread-compatible.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "decide/decision.h"
#include "runbook/journal.h"

namespace pilotlight::controller {

struct DurableState {
  decide::ControllerState state;
  std::optional<runbook::RunRecord> last_failover;  // the newest run of the failover runbook
  std::optional<runbook::RunRecord> last_failback;  // the newest run of the failback runbook
  // The phase is normal because a failback run succeeded after the last
  // failover: the write lease may be granted to the primary region again.
  bool failed_back = false;
  std::string summary;  // "failed over by run 3 at 2026-...", for status
};

// `newest_first` as Journal::RecentRuns returns them. A run of `failback_runbook`
// that succeeded after the last failover returns the phase to normal.
DurableState StateFromRuns(const std::vector<runbook::RunRecord>& newest_first,
                           const std::string& failover_runbook,
                           const std::string& failback_runbook = "failback");

Result<DurableState> LoadDurableState(runbook::Journal& journal,
                                      const std::string& failover_runbook,
                                      const std::string& failback_runbook = "failback");

// Operator requests: "approve" (run the pending failover plan).
enum class Request { kApprove };
const char* RequestName(Request r);
Status PostRequest(const std::string& requests_dir, Request r, const std::string& note,
                   WallTime at);
bool RequestPending(const std::string& requests_dir, Request r);
void ClearRequest(const std::string& requests_dir, Request r);

// An exclusive lock (flock) on a file, held until destroyed or the process dies.
class RunbookLock {
 public:
  // Acquired: the lock; NotAvailable (Unavailable) naming the holder's pid otherwise.
  static Result<std::unique_ptr<RunbookLock>> TryAcquire(const std::string& path,
                                                         const std::string& who);
  ~RunbookLock();
  RunbookLock(const RunbookLock&) = delete;
  RunbookLock& operator=(const RunbookLock&) = delete;

 private:
  explicit RunbookLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace pilotlight::controller
