// Name: a DNS domain name (RFC 1035 section 3.1), held in uncompressed wire form.
//
// The wire form is a sequence of length-prefixed labels ending with the empty root
// label, at most 255 bytes, each label at most 63 bytes. Comparisons ignore ASCII
// case, as DNS requires; the original case is kept for output. A Name is a plain
// value: thread-compatible. Pure code, no I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace pilotlight::dns {

inline constexpr size_t kMaxNameLength = 255;
inline constexpr size_t kMaxLabelLength = 63;

class Name {
 public:
  // The root name ".".
  Name() : wire_(1, '\0') {}

  // Parses presentation form: "api.example.com." (absolute). A name without the
  // trailing dot is relative to `origin` (when given; else it is taken as absolute),
  // "@" is the origin itself. Accepts \. \\ and \DDD escapes.
  static Result<Name> FromString(std::string_view text, const Name* origin = nullptr);

  // Takes uncompressed wire bytes; rejects anything that is not exactly one valid name.
  static Result<Name> FromWire(std::string_view wire);

  const std::string& wire() const { return wire_; }
  // Presentation form with a trailing dot, escaping dots, backslashes and
  // non-printable bytes inside labels.
  std::string ToString() const;

  bool IsRoot() const { return wire_.size() == 1; }
  size_t LabelCount() const;
  // The name without its first label. REQUIRES: !IsRoot().
  Name Parent() const;
  // Case-insensitive equality.
  bool operator==(const Name& other) const;
  // True when this name equals `zone` or lies below it.
  bool IsSubdomainOf(const Name& zone) const;
  // Wire form with ASCII letters lowered: a key for maps (length bytes are < 64, so
  // lowering the whole string never touches them).
  std::string CanonicalKey() const;

 private:
  explicit Name(std::string wire) : wire_(std::move(wire)) {}
  std::string wire_;
};

inline char AsciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

}  // namespace pilotlight::dns
