// HealthView: the DNS server's only window on health checks.
//
// The detection work (src/health) decides whether a check is healthy; the zone only
// asks. nullopt means the check is unknown (not configured, or no verdict yet); the
// zone treats unknown as healthy, so missing data never moves traffic by itself.
// Implementations must be safe to call from any thread.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace pilotlight::dns {

class HealthView {
 public:
  virtual ~HealthView() = default;
  virtual std::optional<bool> Healthy(std::string_view check) const = 0;
};

// A fixed map of verdicts: for tests, and for the CLI's health-state file once read.
class StaticHealthView final : public HealthView {
 public:
  StaticHealthView() = default;
  explicit StaticHealthView(std::map<std::string, bool, std::less<>> states)
      : states_(std::move(states)) {}
  void Set(std::string check, bool healthy) { states_[std::move(check)] = healthy; }
  std::optional<bool> Healthy(std::string_view check) const override {
    auto it = states_.find(check);
    if (it == states_.end()) return std::nullopt;
    return it->second;
  }
  const std::map<std::string, bool, std::less<>>& states() const { return states_; }

 private:
  std::map<std::string, bool, std::less<>> states_;
};

}  // namespace pilotlight::dns
