// LabNodeGroups: the lab's node groups (`pilotlight trader serve` instances of a
// region sharing the region's address and the group's port) behind NodeGroups.
//
// Scaling goes through lab::Lab::ScaleNodeGroup. Readiness asks the instances
// themselves: GET http://<region address>:<group port>/readyz over a fresh
// connection each time (SO_REUSEPORT spreads them over the instances), until
// every instance "<group>-1".."<group>-N" has answered (kAnswering) or answered
// 200 (kReady). Used by one thread at a time.
#pragma once

#include <memory>
#include <string>

#include "compute/node_group.h"
#include "config/model.h"

namespace pilotlight::lab {
class Lab;
}

namespace pilotlight::compute {

class LabNodeGroups final : public NodeGroups {
 public:
  // `lab_dir` is the lab's state directory; `self_exe` the pilotlight binary the
  // lab starts instances from. Readiness polls on `clock` (the deadlines it is
  // given are on it), which must outlive this.
  LabNodeGroups(config::Config config, std::string lab_dir, std::string self_exe, Clock& clock);
  ~LabNodeGroups() override;

  Result<int> Size(const std::string& region, const std::string& group) override;
  Status SetSize(const std::string& region, const std::string& group, int size) override;
  Result<GroupReadiness> Readiness(const std::string& region, const std::string& group,
                                   ReadyWhen when, MonoTime deadline) override;
  Status CanScale(const std::string& region, const std::string& group) override;

 private:
  Result<std::pair<const config::RegionSpec*, const config::NodeGroupSpec*>> Find(
      const std::string& region, const std::string& group) const;

  config::Config config_;
  std::string lab_dir_;
  std::string self_exe_;
  Clock& clock_;
  std::unique_ptr<lab::Lab> lab_;
};

}  // namespace pilotlight::compute
