// Helpers for end-to-end tests: run the pilotlight binary. The test toolkit
// comes with it: ScratchDir, WaitFor (a condition with a deadline, never a sleep
// as synchronization), ClosedPort and PickPort (src/testing).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "testing/ports.h"
#include "testing/scratch_dir.h"
#include "testing/wait.h"

namespace pilotlight::testing {

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

inline std::string Quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "'\\''";
    else out += c;
  }
  return out + "'";
}

inline std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Runs the pilotlight binary with `args`, capturing stdout and stderr.
inline CommandResult RunPilotlight(const std::vector<std::string>& args) {
  std::string cmd = Quote(PILOTLIGHT_BIN);
  for (const std::string& a : args) cmd += " " + Quote(a);
  char err_path[] = "/tmp/pilotlight-test-stderr-XXXXXX";
  int fd = mkstemp(err_path);
  if (fd >= 0) close(fd);
  cmd += " 2>" + Quote(err_path);
  CommandResult r;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  int st = pclose(p);
  r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  r.err = ReadAll(err_path);
  unlink(err_path);
  return r;
}

}  // namespace pilotlight::testing
