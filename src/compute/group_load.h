// Group load: how many requests per second a node group serves, the metric the
// auto-scaler (compute/autoscale.h) sizes a group by.
//
// Instances of a lab region share one address (SO_REUSEPORT), so no one
// instance can be scraped over HTTP. Instead each `pilotlight trader serve`
// publishes its running total of served requests with a timestamp in
// "<lab>/<region>/<instance>.requests" (trader::ServedCount), and
// RequestRateWindow turns those counter samples into a rate the way
// Prometheus' rate() does: per instance, the increase over the samples of the
// last `window` divided by the time they span, a counter that went down being a
// restart (the new value is the increase since). Instances whose newest sample
// left the window (stopped, scaled in) count for nothing.
//
// GroupLoadSource is the interface the controller reads: LabGroupLoad (the
// files above) or ExecGroupLoad (an operator's command that prints the group's
// requests per second, `controller.compute.exec.requests_command`).
//
// Thread-safety: RequestRateWindow is a plain value (thread-compatible); the
// sources are used by one thread at a time (the controller's).
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "core/clock.h"
#include "core/status.h"

namespace pilotlight::compute {

// A group's load as the controller reads it.
struct GroupLoad {
  double requests_per_second = 0;
  int instances_reporting = 0;  // instances with a sample in the window
  std::string source;           // where it came from, for status
};

// Counter samples of a group's instances → the group's request rate. Pure: time
// comes from the samples and from `now` in Rate().
class RequestRateWindow {
 public:
  explicit RequestRateWindow(Duration window) : window_(window) {}

  // A reading of `instance`'s running total, stamped by the instance. Readings
  // older than the instance's newest are ignored (a file read twice is one sample).
  void Add(const std::string& instance, uint64_t total, WallTime at);
  // The sum over instances of their rate over [now - window, now]. An instance
  // with a single sample in the window has no rate yet (counts 0, but reports).
  GroupLoad Rate(WallTime now);

 private:
  Duration window_;
  std::map<std::string, std::deque<std::pair<WallTime, uint64_t>>> samples_;
};

class GroupLoadSource {
 public:
  virtual ~GroupLoadSource() = default;
  virtual Result<GroupLoad> Load(const std::string& region, const std::string& group,
                                 WallTime now) = 0;
};

// The lab's instances: reads "<lab_dir>/<region>/<group>-<N>.requests" for every N
// present (scaled-in instances' files age out of the window). Keeps a window per
// group between calls, so it must be asked every few seconds to have a rate.
class LabGroupLoad final : public GroupLoadSource {
 public:
  explicit LabGroupLoad(std::string lab_dir, Duration window = std::chrono::seconds(10))
      : lab_dir_(std::move(lab_dir)), window_(window) {}
  Result<GroupLoad> Load(const std::string& region, const std::string& group,
                         WallTime now) override;

 private:
  std::string lab_dir_;
  Duration window_;
  std::map<std::pair<std::string, std::string>, RequestRateWindow> windows_;
};

// The exec provider: `command` ({region} {group} substituted, single-quoted)
// prints the group's requests per second (a non-negative number) on stdout.
class ExecGroupLoad final : public GroupLoadSource {
 public:
  ExecGroupLoad(std::string command, Duration timeout, std::string log_dir)
      : command_(std::move(command)), timeout_(timeout), log_dir_(std::move(log_dir)) {}
  Result<GroupLoad> Load(const std::string& region, const std::string& group,
                         WallTime now) override;

 private:
  std::string command_;
  Duration timeout_;
  std::string log_dir_;
};

// The requests_command's output as a rate; InvalidArgument naming the config
// field (controller.compute.exec.requests_command) when it is not a number.
Result<double> ParseRequestsPerSecond(const std::string& output, const std::string& region,
                                      const std::string& group);

}  // namespace pilotlight::compute
