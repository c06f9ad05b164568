#include "controller/state.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>
#include <memory>

#include "core/duration.h"
#include "sys/whole_file.h"

namespace pilotlight::controller {

DurableState StateFromRuns(const std::vector<runbook::RunRecord>& newest_first,
                           const std::string& failover_runbook,
                           const std::string& failback_runbook) {
  DurableState out;
  using Phase = decide::ControllerState::Phase;
  bool phase_decided = false;
  for (const runbook::RunRecord& run : newest_first) {
    const bool failover = run.runbook == failover_runbook;
    const bool failback = run.runbook == failback_runbook;
    if (!failover && !failback) continue;
    if (failover && !out.last_failover) out.last_failover = run;
    if (failback && !out.last_failback) out.last_failback = run;
    if (failover && run.outcome == "succeeded" && !out.state.last_failover_at) {
      out.state.last_failover_at = run.finished_at.value_or(run.started_at);
    }
    if (failback && run.outcome == "succeeded" && !out.state.last_failback_at) {
      out.state.last_failback_at = run.finished_at.value_or(run.started_at);
    }
    if (phase_decided) continue;
    if (failover && run.outcome.empty()) {
      out.state.phase = Phase::kFailingOver;
      out.summary = "failing over: run " + std::to_string(run.id) + " began " +
                    FormatTime(run.started_at) + " and has not finished";
      phase_decided = true;
    } else if (failover && run.outcome == "succeeded") {
      out.state.phase = Phase::kFailedOver;
      out.summary = "failed over by run " + std::to_string(run.id) + " at " +
                    FormatTime(run.finished_at.value_or(run.started_at));
      phase_decided = true;
    } else if (failback && run.outcome == "succeeded") {
      out.summary = "normal: failed back by run " + std::to_string(run.id) + " at " +
                    FormatTime(run.finished_at.value_or(run.started_at));
      out.failed_back = true;
      phase_decided = true;
    } else if (failover && run.outcome == "failed") {
      out.summary = "normal: the last failover run " + std::to_string(run.id) + " failed";
      phase_decided = true;  // an older success does not make a failed retry "failed over"
    }
  }
  if (out.summary.empty()) out.summary = "normal: no failover in the journal";
  return out;
}

Result<DurableState> LoadDurableState(runbook::Journal& journal,
                                      const std::string& failover_runbook,
                                      const std::string& failback_runbook) {
  Result<std::vector<runbook::RunRecord>> runs = journal.RecentRuns(200);
  if (!runs.ok()) return runs.status();
  return StateFromRuns(*runs, failover_runbook, failback_runbook);
}

const char* RequestName(Request r) {
  switch (r) {
    case Request::kApprove: return "approve";
  }
  return "?";
}

Status PostRequest(const std::string& dir, Request r, const std::string& note, WallTime at) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  return sys::WriteFileAtomically(dir + "/" + RequestName(r),
                                  FormatTime(at) + " " + note + "\n");
}

bool RequestPending(const std::string& dir, Request r) {
  return std::filesystem::exists(dir + "/" + RequestName(r));
}

void ClearRequest(const std::string& dir, Request r) {
  std::error_code ec;
  std::filesystem::remove(dir + "/" + RequestName(r), ec);
}

Result<std::unique_ptr<RunbookLock>> RunbookLock::TryAcquire(const std::string& path,
                                                             const std::string& who) {
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IOError("cannot open the runbook lock " + path);
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    char buf[256] = {0};
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    close(fd);
    std::string holder = n > 0 ? std::string(buf, n) : "another process";
    while (!holder.empty() && holder.back() == '\n') holder.pop_back();
    return Status::Unavailable("a runbook is being run by " + holder + " (lock " + path +
                               "); wait for it, or see `pilotlight history`");
  }
  const std::string text = who + " (pid " + std::to_string(getpid()) + ")\n";
  if (ftruncate(fd, 0) != 0 || pwrite(fd, text.data(), text.size(), 0) < 0) {
    // The lock is held; only the holder's name could not be recorded.
  }
  return std::unique_ptr<RunbookLock>(new RunbookLock(fd));
}

RunbookLock::~RunbookLock() {
  flock(fd_, LOCK_UN);
  close(fd_);
}

}  // namespace pilotlight::controller
