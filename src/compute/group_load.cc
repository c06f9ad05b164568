#include "compute/group_load.h"

#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "compute/exec_node_groups.h"
#include "sys/whole_file.h"
#include "trader/http_server.h"

namespace pilotlight::compute {

void RequestRateWindow::Add(const std::string& instance, uint64_t total, WallTime at) {
  auto& s = samples_[instance];
  if (!s.empty() && at <= s.back().first) return;
  s.emplace_back(at, total);
}

GroupLoad RequestRateWindow::Rate(WallTime now) {
  GroupLoad out;
  const WallTime from = now - window_;
  for (auto it = samples_.begin(); it != samples_.end();) {
    auto& s = it->second;
    while (!s.empty() && s.front().first < from) s.pop_front();
    if (s.empty()) {
      it = samples_.erase(it);
      continue;
    }
    ++out.instances_reporting;
    if (s.size() >= 2) {
      double increase = 0;
      for (size_t i = 1; i < s.size(); ++i) {
        const uint64_t before = s[i - 1].second;
        const uint64_t after = s[i].second;
        // A counter that went down restarted from zero: all of `after` is new.
        increase += static_cast<double>(after >= before ? after - before : after);
      }
      const double span = std::chrono::duration<double>(s.back().first - s.front().first).count();
      if (span > 0) out.requests_per_second += increase / span;
    }
    ++it;
  }
  return out;
}

Result<GroupLoad> LabGroupLoad::Load(const std::string& region, const std::string& group,
                                     WallTime now) {
  namespace fs = std::filesystem;
  const std::string dir = lab_dir_ + "/" + region;
  auto [slot, added] = windows_.try_emplace({region, group}, window_);
  RequestRateWindow& window = slot->second;
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) {
    return Status::Unavailable("cannot read the request counts of node group " + group + " in " +
                               dir + ": " + ec.message());
  }
  const std::string prefix = group + "-";
  const std::string suffix = ".requests";
  int files = 0;
  std::string unreadable;
  for (const fs::directory_entry& e : it) {
    const std::string name = e.path().filename().string();
    if (name.size() <= prefix.size() + suffix.size() || name.rfind(prefix, 0) != 0 ||
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) {
      continue;
    }
    const std::string number =
        name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
    if (number.find_first_not_of("0123456789") != std::string::npos) continue;
    Result<std::string> text = sys::ReadWholeFile(e.path().string());
    if (!text.ok()) continue;  // removed between listing and reading
    Result<trader::ServedCount> count = trader::ParseServedCount(*text);
    if (!count.ok()) {
      unreadable += (unreadable.empty() ? "" : "; ") + name + ": " + count.status().message();
      continue;
    }
    ++files;
    window.Add(name.substr(0, name.size() - suffix.size()), count->total, count->at);
  }
  GroupLoad load = window.Rate(now);
  load.source = "lab request counters (" + std::to_string(files) + " file(s) in " + dir + ")";
  if (!unreadable.empty()) load.source += "; skipped " + unreadable;
  return load;
}

Result<double> ParseRequestsPerSecond(const std::string& output, const std::string& region,
                                      const std::string& group) {
  const size_t b = output.find_first_not_of(" \t\r\n");
  const std::string text =
      b == std::string::npos ? "" : output.substr(b, output.find_last_not_of(" \t\r\n") - b + 1);
  char* end = nullptr;
  const double v = text.empty() ? 0 : std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(v) || v < 0) {
    return Status::InvalidArgument(
        "controller.compute.exec.requests_command printed \"" + text.substr(0, 80) +
        "\" for node group " + group + " of region " + region +
        ", not a number of requests per second; make it print one non-negative number "
        "(e.g. 412.5)");
  }
  return v;
}

Result<GroupLoad> ExecGroupLoad::Load(const std::string& region, const std::string& group,
                                      WallTime) {
  if (command_.empty()) {
    return Status::FailedPrecondition(
        "no controller.compute.exec.requests_command configured: the load of node group " + group +
        " is unknown, so it is not auto-scaled");
  }
  const std::string command = ExpandCommand(command_, region, group, 0);
  Result<std::string> out = RunShell(command, timeout_, log_dir_);
  if (!out.ok()) {
    return out.status().Annotate("controller.compute.exec.requests_command");
  }
  Result<double> rps = ParseRequestsPerSecond(*out, region, group);
  if (!rps.ok()) return rps.status();
  GroupLoad load;
  load.requests_per_second = *rps;
  load.source = "requests_command";
  return load;
}

}  // namespace pilotlight::compute
