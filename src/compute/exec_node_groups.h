// ExecNodeGroups: node groups scaled by commands an operator configures, for
// platforms pilotlight does not run itself (kubectl scale, a cloud CLI).
//
// Each command is a /bin/sh command line in which {region}, {group} and {size}
// are replaced (values are single-quoted for the shell):
//   size_command       prints the group's current size (an integer) on stdout
//   scale_command      sets the size
//   ready_command      exits 0 when {size} instances are ready; polled until the deadline
//   can_scale_command  exits 0 when the group can be scaled now (optional: OK when empty)
// e.g. scale_command: "kubectl -n trading scale deployment/{group} --replicas={size}"
//      ready_command: "test \"$(kubectl -n trading get deployment/{group}
//                      -o jsonpath='{.status.readyReplicas}')\" -ge {size}"
// Used by one thread at a time.
#pragma once

#include <string>

#include "compute/node_group.h"

namespace pilotlight::compute {

struct ExecCommands {
  std::string size_command;
  std::string scale_command;
  std::string ready_command;
  std::string can_scale_command;
  Duration command_timeout = std::chrono::seconds(30);
  Duration poll_interval = std::chrono::seconds(1);
  std::string log_dir = "/tmp";  // each run's output is kept here
};

class ExecNodeGroups final : public NodeGroups {
 public:
  // Readiness polls on `clock` (the deadlines it is given are on it), which must
  // outlive this; the commands themselves run in real time.
  ExecNodeGroups(ExecCommands commands, Clock& clock)
      : commands_(std::move(commands)), clock_(clock) {}

  Result<int> Size(const std::string& region, const std::string& group) override;
  Status SetSize(const std::string& region, const std::string& group, int size) override;
  Result<GroupReadiness> Readiness(const std::string& region, const std::string& group,
                                   ReadyWhen when, MonoTime deadline) override;
  Status CanScale(const std::string& region, const std::string& group) override;

 private:
  ExecCommands commands_;
  Clock& clock_;
};

// `command` with {region}, {group} and {size} replaced by single-quoted values.
std::string ExpandCommand(const std::string& command, const std::string& region,
                          const std::string& group, int size);

// Runs `command` with /bin/sh -c; returns its stdout+stderr, or why it failed.
Result<std::string> RunShell(const std::string& command, Duration timeout,
                             const std::string& log_dir);

}  // namespace pilotlight::compute
