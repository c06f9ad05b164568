// A Knot DNS server of a test's own: config, zone and TSIG key in a fresh temporary
// directory, listening on a port of the test's own (PickPort), stopped and deleted by Stop().
#pragma once

#include <signal.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "dns_test_util.h"
#include "sys/process.h"
#include "testing/scratch_dir.h"

namespace pilotlight::testing {

class KnotServer {
 public:
  static constexpr const char* kKeyName = "pilotlight-key";
  // 32 random bytes, base64; fixed so a failing run can be reproduced by hand.
  static constexpr const char* kSecret = "Gk2lTq6bmJpT3H0q9Jx8yN2r5m1hQn8cW0a7vE4sLdU=";

  // Starts knotd serving `zone_text` as zone `origin` (without the trailing dot).
  Status Start(const std::string& origin, const std::string& zone_text) {
    Result<std::string> knotd = sys::FindBinary({"/usr/sbin/knotd", "/usr/bin/knotd"}, "knot");
    if (!knotd.ok()) return knotd.status();
    scratch_.emplace("knot");
    dir_ = scratch_->path();
    std::filesystem::create_directories(dir_ + "/db");
    port_ = PickPort("127.0.0.1");
    std::ofstream(dir_ + "/" + origin + ".zone") << zone_text;
    std::ofstream(dir_ + "/knot.conf")
        << "server:\n"
           "    listen: 127.0.0.1@"
        << port_
        << "\n"
           "    rundir: "
        << dir_
        << "\n"
           "log:\n  - target: stderr\n    any: info\n"
           "database:\n    storage: "
        << dir_
        << "/db\n"
           "key:\n  - id: "
        << kKeyName << "\n    algorithm: hmac-sha256\n    secret: " << kSecret
        << "\n"
           "acl:\n  - id: update-acl\n    key: "
        << kKeyName
        << "\n    action: update\n"
           "template:\n  - id: default\n    storage: "
        << dir_
        << "\n    zonefile-sync: -1\n"
           "zone:\n  - domain: "
        << origin << "\n    file: " << origin
        << ".zone\n"
           "    acl: update-acl\n";
    sys::SpawnSpec spec;
    spec.argv = {*knotd, "-c", dir_ + "/knot.conf"};
    spec.log_file = dir_ + "/knotd.log";
    Result<pid_t> pid = sys::SpawnDaemon(spec);
    if (!pid.ok()) return pid.status();
    pid_ = *pid;
    if (!WaitFor(std::chrono::seconds(10), [&] {
          return DigStatus(Dig("127.0.0.1", port_, {origin + ".", "SOA"})) == "NOERROR";
        })) {
      return Status::Unavailable("knotd did not answer: " + ReadAll(spec.log_file));
    }
    return Status::OK();
  }

  void Stop() {
    if (pid_ > 0) {
      sys::SignalGroup(pid_, SIGTERM);
      int status = 0;
      waitpid(pid_, &status, 0);
      pid_ = -1;
    }
    scratch_.reset();
  }
  ~KnotServer() { Stop(); }

  uint16_t port() const { return port_; }
  std::string Log() const { return ReadAll(dir_ + "/knotd.log"); }

 private:
  std::optional<ScratchDir> scratch_;
  std::string dir_;
  uint16_t port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace pilotlight::testing
