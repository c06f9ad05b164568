#include "dns/wire/name.h"

#include <cstdio>

namespace pilotlight::dns {

Result<Name> Name::FromWire(std::string_view wire) {
  if (wire.empty() || wire.size() > kMaxNameLength) {
    return Status::InvalidArgument("domain name of " + std::to_string(wire.size()) +
                                   " bytes: expected 1 to 255");
  }
  size_t pos = 0;
  while (true) {
    if (pos >= wire.size()) return Status::InvalidArgument("domain name lacks the root label");
    const uint8_t len = static_cast<uint8_t>(wire[pos]);
    if (len > kMaxLabelLength) return Status::InvalidArgument("domain name label longer than 63");
    if (len == 0) break;
    pos += 1 + len;
  }
  if (pos + 1 != wire.size()) return Status::InvalidArgument("bytes after the root label");
  return Name(std::string(wire));
}

Result<Name> Name::FromString(std::string_view text, const Name* origin) {
  if (text == "@") {
    if (origin == nullptr) return Status::InvalidArgument("\"@\" used without an origin");
    return *origin;
  }
  if (text.empty()) return Status::InvalidArgument("empty domain name");
  if (text == ".") return Name();
  std::string wire;
  std::string label;
  bool absolute = false;
  auto flush = [&](bool allow_empty) -> Status {
    if (label.empty() && !allow_empty) {
      return Status::InvalidArgument("empty label in domain name \"" + std::string(text) + "\"");
    }
    if (label.size() > kMaxLabelLength) {
      return Status::InvalidArgument("label longer than 63 bytes in \"" + std::string(text) + "\"");
    }
    wire.push_back(static_cast<char>(label.size()));
    wire += label;
    label.clear();
    return Status::OK();
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\\') {
      if (i + 1 >= text.size()) return Status::InvalidArgument("dangling backslash in name");
      if (i + 3 < text.size() && isdigit(static_cast<unsigned char>(text[i + 1])) &&
          isdigit(static_cast<unsigned char>(text[i + 2])) &&
          isdigit(static_cast<unsigned char>(text[i + 3]))) {
        const int v = (text[i + 1] - '0') * 100 + (text[i + 2] - '0') * 10 + (text[i + 3] - '0');
        if (v > 255) return Status::InvalidArgument("\\DDD escape above 255 in name");
        label.push_back(static_cast<char>(v));
        i += 3;
      } else {
        label.push_back(text[++i]);
      }
    } else if (c == '.') {
      if (i + 1 == text.size()) absolute = true;
      PL_RETURN_IF_ERROR(flush(false));
    } else {
      label.push_back(c);
    }
  }
  if (!absolute) PL_RETURN_IF_ERROR(flush(false));
  if (!absolute && origin != nullptr) {
    wire += origin->wire_;
  } else {
    wire.push_back('\0');
  }
  if (wire.size() > kMaxNameLength) {
    return Status::InvalidArgument("domain name \"" + std::string(text) + "\" longer than 255");
  }
  return Name(std::move(wire));
}

std::string Name::ToString() const {
  if (IsRoot()) return ".";
  std::string out;
  size_t pos = 0;
  while (static_cast<uint8_t>(wire_[pos]) != 0) {
    const size_t len = static_cast<uint8_t>(wire_[pos]);
    for (size_t i = pos + 1; i <= pos + len; ++i) {
      const unsigned char c = static_cast<unsigned char>(wire_[i]);
      if (c == '.' || c == '\\' || c == '"' || c == ';' || c == '(' || c == ')') {
        out.push_back('\\');
        out.push_back(static_cast<char>(c));
      } else if (c <= 32 || c >= 127) {
        char buf[5];
        snprintf(buf, sizeof buf, "\\%03u", c);
        out += buf;
      } else {
        out.push_back(static_cast<char>(c));
      }
    }
    out.push_back('.');
    pos += 1 + len;
  }
  return out;
}

size_t Name::LabelCount() const {
  size_t n = 0;
  for (size_t pos = 0; static_cast<uint8_t>(wire_[pos]) != 0;
       pos += 1 + static_cast<uint8_t>(wire_[pos])) {
    ++n;
  }
  return n;
}

Name Name::Parent() const {
  if (IsRoot()) return *this;
  return Name(wire_.substr(1 + static_cast<uint8_t>(wire_[0])));
}

bool Name::operator==(const Name& other) const {
  if (wire_.size() != other.wire_.size()) return false;
  for (size_t i = 0; i < wire_.size(); ++i) {
    if (AsciiLower(wire_[i]) != AsciiLower(other.wire_[i])) return false;
  }
  return true;
}

bool Name::IsSubdomainOf(const Name& zone) const {
  if (zone.wire_.size() > wire_.size()) return false;
  size_t pos = 0;
  while (wire_.size() - pos > zone.wire_.size()) pos += 1 + static_cast<uint8_t>(wire_[pos]);
  if (wire_.size() - pos != zone.wire_.size()) return false;  // not on a label boundary
  for (size_t i = 0; i < zone.wire_.size(); ++i) {
    if (AsciiLower(wire_[pos + i]) != AsciiLower(zone.wire_[i])) return false;
  }
  return true;
}

std::string Name::CanonicalKey() const {
  std::string key = wire_;
  for (char& c : key) c = AsciiLower(c);
  return key;
}

}  // namespace pilotlight::dns
