#include "compute/exec_node_groups.h"

#include <unistd.h>

#include <cstring>
#include <fstream>
#include <iterator>

#include "sys/process.h"

namespace pilotlight::compute {

namespace {

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string Trimmed(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

}  // namespace

std::string ExpandCommand(const std::string& command, const std::string& region,
                          const std::string& group, int size) {
  std::string out;
  for (size_t i = 0; i < command.size();) {
    auto at = [&](const char* word) { return command.compare(i, strlen(word), word) == 0; };
    if (at("{region}")) {
      out += ShellQuote(region);
      i += 8;
    } else if (at("{group}")) {
      out += ShellQuote(group);
      i += 7;
    } else if (at("{size}")) {
      out += std::to_string(size);
      i += 6;
    } else {
      out += command[i++];
    }
  }
  return out;
}

Result<std::string> RunShell(const std::string& command, Duration timeout,
                             const std::string& log_dir) {
  std::string path = log_dir + "/pilotlight-exec-XXXXXX";
  int fd = mkstemp(path.data());
  if (fd < 0) return Status::IOError("cannot create a log file in " + log_dir);
  close(fd);
  Status st = sys::RunToCompletion({{"/bin/sh", "-c", command}, path, std::nullopt}, timeout);
  std::ifstream in(path);
  std::string output((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  unlink(path.c_str());
  if (!st.ok()) {
    return st.Annotate("command `" + command + "`");
  }
  return output;
}

Result<int> ExecNodeGroups::Size(const std::string& region, const std::string& group) {
  if (commands_.size_command.empty()) {
    return Status::FailedPrecondition("no size_command configured for node group " + group);
  }
  Result<std::string> out = RunShell(ExpandCommand(commands_.size_command, region, group, 0),
                                     commands_.command_timeout, commands_.log_dir);
  if (!out.ok()) return out.status();
  const std::string text = Trimmed(*out);
  if (text.empty() || text.size() > 6 || text.find_first_not_of("0123456789") != std::string::npos) {
    return Status::InvalidArgument("size_command of node group " + group +
                                   " printed \"" + text.substr(0, 80) + "\", not a size");
  }
  return std::stoi(text);
}

Status ExecNodeGroups::SetSize(const std::string& region, const std::string& group, int size) {
  if (commands_.scale_command.empty()) {
    return Status::FailedPrecondition("no scale_command configured for node group " + group);
  }
  return RunShell(ExpandCommand(commands_.scale_command, region, group, size),
                  commands_.command_timeout, commands_.log_dir)
      .status();
}

Result<GroupReadiness> ExecNodeGroups::Readiness(const std::string& region,
                                                 const std::string& group, ReadyWhen,
                                                 MonoTime deadline) {
  Result<int> size = Size(region, group);
  if (!size.ok()) return size.status();
  GroupReadiness out;
  out.desired = *size;
  if (commands_.ready_command.empty()) {
    out.detail = "no ready_command configured: readiness unknown";
    return out;
  }
  Clock& clock = clock_;
  for (;;) {
    const Duration left = deadline - clock.Monotonic();
    Result<std::string> r =
        RunShell(ExpandCommand(commands_.ready_command, region, group, *size),
                 std::max<Duration>(std::min(commands_.command_timeout, left),
                                    std::chrono::milliseconds(100)),
                 commands_.log_dir);
    if (r.ok()) {
      for (int i = 1; i <= *size; ++i) out.up.push_back(group + "-" + std::to_string(i));
      out.detail.clear();
      return out;
    }
    out.detail = r.status().message();
    if (clock.Monotonic() + commands_.poll_interval >= deadline) return out;
    clock.SleepFor(commands_.poll_interval);  // polling a command, bounded
  }
}

Status ExecNodeGroups::CanScale(const std::string& region, const std::string& group) {
  if (commands_.scale_command.empty()) {
    return Status::FailedPrecondition("no scale_command configured for node group " + group);
  }
  if (commands_.can_scale_command.empty()) return Status::OK();
  return RunShell(ExpandCommand(commands_.can_scale_command, region, group, 0),
                  commands_.command_timeout, commands_.log_dir)
      .status();
}

}  // namespace pilotlight::compute
