// The CPU time this process has used so far (user + system), for benchmarks
// that report CPU per operation. Thread-safe (getrusage).
#pragma once

#include <sys/resource.h>

namespace pilotlight::bench {

inline double ProcessCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

}  // namespace pilotlight::bench
