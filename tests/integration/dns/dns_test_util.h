// Helpers for the DNS end-to-end tests: run dig and read what it printed.
#pragma once

#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "test_util.h"

namespace pilotlight::testing {

// Runs `dig @server -p port <args...>` (one try, 1 s timeout) and returns its stdout.
inline std::string Dig(const std::string& server, uint16_t port,
                       const std::vector<std::string>& args) {
  std::string cmd = "dig @" + server + " -p " + std::to_string(port) + " +time=1 +tries=1";
  for (const std::string& a : args) cmd += " " + Quote(a);
  cmd += " 2>&1";
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

// "NOERROR", "NXDOMAIN", ... from dig's header line, or "" when there was no answer.
inline std::string DigStatus(const std::string& out) {
  const size_t at = out.find("status: ");
  if (at == std::string::npos) return "";
  const size_t end = out.find(',', at);
  return out.substr(at + 8, end - at - 8);
}

// The lines of one section ("ANSWER", "AUTHORITY", ...) of dig's output.
inline std::vector<std::string> DigSection(const std::string& out, const std::string& section) {
  std::vector<std::string> lines;
  std::istringstream in(out);
  std::string line;
  bool inside = false;
  while (std::getline(in, line)) {
    if (line.rfind(";; " + section + " SECTION:", 0) == 0) {
      inside = true;
      continue;
    }
    if (inside && line.empty()) break;
    if (inside) lines.push_back(line);
  }
  return lines;
}

// The last whitespace-separated field of each line: the record data for A records.
inline std::vector<std::string> LastFields(const std::vector<std::string>& lines) {
  std::vector<std::string> out;
  for (const std::string& l : lines) {
    const size_t sp = l.find_last_of(" \t");
    out.push_back(sp == std::string::npos ? l : l.substr(sp + 1));
  }
  return out;
}

}  // namespace pilotlight::testing
