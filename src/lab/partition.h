// A network partition of one lab region: the region's processes keep running
// and keep talking to each other, but nothing outside reaches them and they
// reach nothing outside (the other region, the third site). This is how the
// network-partition drill makes "the primary region is alive but cut off".
//
// On loopback every region shares one interface and most connections come
// from 127.0.0.1, so addresses alone cannot tell a region's traffic from
// anyone else's. Instead the region's processes (every member of each
// component's process group) are moved into a cgroup v2 group of their own,
// and an nftables table on the output hook
//   1. drops what the group's sockets send to the outside addresses,
//   2. accepts everything else the group's sockets send (their own region,
//      replies to 127.0.0.1 clients inside the region),
//   3. drops what any other socket sends to the region's address.
// Processes the region forks later (PostgreSQL backends) inherit the group.
// nft resolves a cgroup path under /sys/fs/cgroup; on a hybrid hierarchy
// (cgroup2 at /sys/fs/cgroup/unified) it runs in a mount namespace of its own
// where the cgroup2 mount is bound there.
//
// Needs root, nftables (`nft`) and a cgroup v2 hierarchy; every failure says
// which. Not thread-safe against itself for one name; different names are
// independent.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

#include "core/status.h"

namespace pilotlight::lab {

struct PartitionSpec {
  std::string name;                            // nft table and cgroup name: [a-z0-9_-]+
  std::string region_address;                  // what nobody outside may reach
  std::vector<std::string> outside_addresses;  // what the region may not reach
  std::vector<pid_t> process_groups;           // the region's components (pid = pgid)
};

// The nft ruleset text (pure; for tests and error messages).
std::string PartitionRuleset(const PartitionSpec& spec);

// Cuts the region off. Idempotent: a second call replaces the rules and moves
// processes that appeared since.
Status CutOff(const PartitionSpec& spec);

// Removes the rules and the group (its processes go back to the root group).
// Idempotent: healing what is not cut off is OK.
Status Heal(const std::string& name);

// Whether a partition of that name is in place (its group exists).
bool IsCutOff(const std::string& name);

// Runs `body` in a child process placed inside the partition (its traffic is
// the region's); returns the child's exit code (body's return value).
Result<int> RunInside(const std::string& name, const std::function<int()>& body);

}  // namespace pilotlight::lab
