#include "data/sessions/hlc.h"

#include <cctype>
#include <cstdio>
#include <tuple>

namespace pilotlight::sessions {

std::string Hlc::ToString() const {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%013lld.%06d.", static_cast<long long>(physical_ms), logical);
  return buf + origin;
}

std::optional<Hlc> Hlc::Parse(const std::string& text) {
  if (text.size() < 22 || text[13] != '.' || text[20] != '.') return std::nullopt;
  for (size_t i = 0; i < 20; ++i) {
    if (i != 13 && !std::isdigit(static_cast<unsigned char>(text[i]))) return std::nullopt;
  }
  Hlc h;
  h.physical_ms = std::stoll(text.substr(0, 13));
  h.logical = std::stoi(text.substr(14, 6));
  h.origin = text.substr(21);
  return h;
}

bool Newer(const Hlc& a, const Hlc& b) {
  return std::tie(a.physical_ms, a.logical, a.origin) > std::tie(b.physical_ms, b.logical, b.origin);
}

}  // namespace pilotlight::sessions
