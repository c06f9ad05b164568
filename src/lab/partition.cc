#include "lab/partition.h"

#include <dirent.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "sys/process.h"

namespace pilotlight::lab {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

struct CgroupRoot {
  std::string path;  // where cgroup2 is mounted
  bool hybrid = false;  // not at /sys/fs/cgroup: nft needs a mount namespace
};

Result<CgroupRoot> FindCgroupRoot() {
  if (fs::exists("/sys/fs/cgroup/cgroup.controllers")) return CgroupRoot{"/sys/fs/cgroup", false};
  if (fs::exists("/sys/fs/cgroup/unified/cgroup.controllers")) {
    return CgroupRoot{"/sys/fs/cgroup/unified", true};
  }
  return Status::FailedPrecondition(
      "no cgroup v2 hierarchy at /sys/fs/cgroup or /sys/fs/cgroup/unified: the partition needs "
      "one to tell the region's traffic apart; mount cgroup2 there");
}

Status CheckName(const std::string& name) {
  if (name.empty() || name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_-") !=
                          std::string::npos) {
    return Status::InvalidArgument("partition name '" + name + "': use a-z, 0-9, _ and - only");
  }
  return Status::OK();
}

Status WriteText(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  out.flush();
  if (!out) return Status::IOError("cannot write " + path + ": " + std::strerror(errno));
  return Status::OK();
}

// Runs nft with `args` (after the binary), inside a mount namespace with the
// cgroup2 mount at /sys/fs/cgroup when the hierarchy is hybrid.
Status RunNft(const CgroupRoot& root, const std::string& args, const std::string& what) {
  Result<std::string> nft = sys::FindBinary({"/usr/sbin/nft", "/sbin/nft"}, "nftables");
  if (!nft.ok()) return nft.status();
  const std::string log = "/tmp/pilotlight-nft-" + std::to_string(getpid()) + ".log";
  std::error_code ec;
  fs::remove(log, ec);
  std::string command = *nft + " " + args;
  if (root.hybrid) command = "mount --bind " + root.path + " /sys/fs/cgroup && exec " + command;
  sys::SpawnSpec spec;
  spec.argv = {"/usr/bin/unshare", "-m", "/bin/sh", "-c", command};
  if (!root.hybrid) spec.argv = {"/bin/sh", "-c", "exec " + command};
  spec.log_file = log;
  Status st = sys::RunToCompletion(spec, 30s);
  std::ifstream in(log);
  std::stringstream output;
  output << in.rdbuf();
  fs::remove(log, ec);
  if (!st.ok()) {
    return Status::Unavailable(what + " failed (" + st.message() + "): " + output.str() +
                               " — the partition needs root and a kernel with nf_tables");
  }
  return Status::OK();
}

// Moves every live process of the given process groups into `procs_file`.
int MoveGroups(const std::vector<pid_t>& groups, const std::string& procs_file) {
  const std::set<pid_t> wanted(groups.begin(), groups.end());
  int moved = 0;
  DIR* dir = opendir("/proc");
  if (dir == nullptr) return 0;
  while (struct dirent* e = readdir(dir)) {
    char* end = nullptr;
    const long pid = std::strtol(e->d_name, &end, 10);
    if (*end != '\0' || pid <= 0) continue;
    const pid_t pgid = getpgid(static_cast<pid_t>(pid));
    if (pgid < 0 || wanted.count(pgid) == 0) continue;
    std::ofstream procs(procs_file);
    procs << pid << "\n";
    procs.flush();
    if (procs) ++moved;  // a process that exited meanwhile is simply not moved
  }
  closedir(dir);
  return moved;
}

}  // namespace

std::string PartitionRuleset(const PartitionSpec& spec) {
  std::string outside;
  for (const std::string& a : spec.outside_addresses) {
    outside += (outside.empty() ? "" : ", ") + a;
  }
  std::string out = "add table inet " + spec.name + "\n" +
                    "delete table inet " + spec.name + "\n" +
                    "table inet " + spec.name + " {\n"
                    "  chain out {\n"
                    "    type filter hook output priority 0; policy accept;\n";
  const std::string mine = "socket cgroupv2 level 1 \"" + spec.name + "\"";
  if (!outside.empty()) out += "    " + mine + " ip daddr { " + outside + " } drop\n";
  out += "    " + mine + " accept\n"
         "    ip daddr " + spec.region_address + " drop\n"
         "  }\n"
         "}\n";
  return out;
}

Status CutOff(const PartitionSpec& spec) {
  PL_RETURN_IF_ERROR(CheckName(spec.name));
  Result<CgroupRoot> root = FindCgroupRoot();
  if (!root.ok()) return root.status();
  const std::string group = root->path + "/" + spec.name;
  std::error_code ec;
  fs::create_directories(group, ec);
  if (ec) return Status::IOError("cannot make the cgroup " + group + ": " + ec.message());
  // Processes first, so that no packet of theirs passes once the rules apply.
  MoveGroups(spec.process_groups, group + "/cgroup.procs");
  const std::string rules = "/tmp/pilotlight-partition-" + spec.name + ".nft";
  PL_RETURN_IF_ERROR(WriteText(rules, PartitionRuleset(spec)));
  Status st = RunNft(*root, "-f " + rules, "nft -f " + rules);
  fs::remove(rules, ec);
  PL_RETURN_IF_ERROR(st);
  // Anything forked while the rules were loading.
  MoveGroups(spec.process_groups, group + "/cgroup.procs");
  return Status::OK();
}

Status Heal(const std::string& name) {
  PL_RETURN_IF_ERROR(CheckName(name));
  Result<CgroupRoot> root = FindCgroupRoot();
  if (!root.ok()) return root.status();
  // Deleting a table that is not there fails; adding it first makes it idempotent.
  PL_RETURN_IF_ERROR(RunNft(*root, "add table inet " + name + " \\; delete table inet " + name,
                            "removing the nft table " + name));
  const std::string group = root->path + "/" + name;
  if (!fs::exists(group)) return Status::OK();
  std::ifstream procs(group + "/cgroup.procs");
  std::vector<pid_t> pids;
  for (pid_t pid; procs >> pid;) pids.push_back(pid);
  for (pid_t pid : pids) {
    std::ofstream back(root->path + "/cgroup.procs");
    back << pid << "\n";
  }
  if (rmdir(group.c_str()) != 0 && errno != ENOENT) {
    return Status::IOError("cannot remove the cgroup " + group + ": " + std::strerror(errno));
  }
  return Status::OK();
}

bool IsCutOff(const std::string& name) {
  if (!CheckName(name).ok()) return false;
  Result<CgroupRoot> root = FindCgroupRoot();
  return root.ok() && fs::exists(root->path + "/" + name);
}

Result<int> RunInside(const std::string& name, const std::function<int()>& body) {
  PL_RETURN_IF_ERROR(CheckName(name));
  Result<CgroupRoot> root = FindCgroupRoot();
  if (!root.ok()) return root.status();
  const std::string procs = root->path + "/" + name + "/cgroup.procs";
  if (!fs::exists(procs)) return Status::NotFound("no partition named " + name + " is cut off");
  const pid_t pid = fork();
  if (pid < 0) return Status::Internal(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    {
      std::ofstream self(procs);
      self << getpid() << "\n";
      self.flush();
      if (!self) _exit(125);
    }
    _exit(body());
  }
  int st = 0;
  while (waitpid(pid, &st, 0) < 0) {
    if (errno != EINTR) return Status::Internal(std::string("waitpid: ") + std::strerror(errno));
  }
  if (WIFEXITED(st) && WEXITSTATUS(st) == 125) {
    return Status::IOError("cannot move a process into " + procs);
  }
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

}  // namespace pilotlight::lab
