// Hybrid logical clock stamps for last-writer-wins session replication.
//
// A stamp is "<physical ms, 13 digits>.<logical, 6 digits>.<origin region>":
// fixed width, so comparing the strings compares (physical, logical, origin) and
// two stamps from different regions are never equal. The clock itself runs
// inside Redis (global_table.cc's scripts read Redis TIME): a write takes
// max(now, last stamp seen, the overwritten value's stamp) and bumps the logical
// part on a tie; applying a remote change advances the local clock past it, so a
// later local write always wins over what it has seen. Pure; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace pilotlight::sessions {

struct Hlc {
  int64_t physical_ms = 0;
  int logical = 0;
  std::string origin;

  std::string ToString() const;
  // nullopt for anything that is not a well-formed stamp.
  static std::optional<Hlc> Parse(const std::string& text);
};

// The last-writer-wins order: true when `a` wins over `b`.
bool Newer(const Hlc& a, const Hlc& b);

}  // namespace pilotlight::sessions
