// The one adapter of yaml-cpp: reading an operator-written YAML file (a config,
// a price list, a zone file) within bounds, parsing it, and a node type the
// readers walk without seeing yaml-cpp.
//
// Bounds, the same for every file read through here: only regular files are
// read (a FIFO, a device or a socket is refused before a byte is read, so
// `/dev/zero` or a pipe cannot exhaust memory or hang the reader), at most
// kMaxYamlFileBytes, and the text must be UTF-8. Scalar lengths are bounded by
// the schema walk (config/schema_reader.h), which knows the field's name.
//
// Parsing counts documents with a bound (yaml-cpp 0.7 loops forever on some
// stray tokens at a document start) and keeps only the first. Every yaml-cpp
// exception stops in yaml_reader.cc. Nodes are lazy handles on the parsed tree:
// a self-referencing alias (`&a [*a]`) is only as deep as a walk goes, so a walk
// that descends only as deep as its schema cannot loop.
//
// Thread-safety: the functions keep no state; a YamlNode is an immutable handle
// that may be copied and read from one thread at a time (yaml-cpp's tree is not
// synchronised).
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config_error.h"
#include "core/status.h"

namespace pilotlight::config {

// A file larger than this is refused (a config is a few KiB; a price list or a
// zone file a few hundred).
inline constexpr size_t kMaxYamlFileBytes = 4 * 1024 * 1024;

// A position in the text as the parser reports it: 0-based, -1 when unknown.
struct YamlMark {
  int pos = -1;
  int line = -1;
  int column = -1;
};

// A node of the parsed tree; default-constructed, an undefined node (what a
// lookup of an absent key returns).
class YamlNode {
 public:
  enum class Type { kUndefined, kNull, kScalar, kSequence, kMap };

  YamlNode() = default;

  Type type() const;
  bool IsDefined() const { return type() != Type::kUndefined; }
  bool IsNull() const { return type() == Type::kNull; }
  bool IsScalar() const { return type() == Type::kScalar; }
  bool IsSequence() const { return type() == Type::kSequence; }
  bool IsMap() const { return type() == Type::kMap; }

  // The text of a scalar; empty for any other node.
  const std::string& Scalar() const;
  YamlMark Mark() const;
  // Elements of a sequence or entries of a mapping; 0 for any other node.
  size_t size() const;
  // A sequence's elements in order; empty for any other node.
  std::vector<YamlNode> Items() const;
  // A mapping's (key, value) entries in file order; empty for any other node.
  std::vector<std::pair<YamlNode, YamlNode>> Entries() const;
  // The value of `key` in a mapping; undefined when absent or not a mapping.
  YamlNode Get(std::string_view key) const;

  struct Impl;  // holds the yaml-cpp node (yaml_reader.cc)

 private:
  explicit YamlNode(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  friend struct Impl;
  std::shared_ptr<const Impl> impl_;
};

// The first document of a YAML text, or why the text is no YAML.
struct YamlDocument {
  // Set when the text cannot be read: invalid UTF-8, too large, a syntax error
  // or a stuck parser. field is empty, expected "valid YAML" (or "UTF-8 text",
  // "a text of at most 4 MiB"), found says what is wrong.
  std::optional<ConfigError> error;
  // The parser's own words for `error` ("end of map not found"), for readers
  // that word their errors as "file:line:col: message".
  std::string message;
  YamlNode root;      // the first document; null when there is none
  int documents = 0;  // documents in the text, counted up to 16
  YamlMark second;    // where the second document starts, when documents > 1
};

// Parses `text`; `file` is used in error locations.
YamlDocument ParseYaml(std::string_view text, const std::string& file);

// The bytes of a regular file of at most kMaxYamlFileBytes. On failure an
// IOError whose message says what was found, without the path (callers name the
// file): the OS's reason ("No such file or directory", "Is a directory"), "a
// FIFO, not a regular file (...)", or "more than 4 MiB (...)". The file is
// opened with O_NONBLOCK, so opening a FIFO nobody writes does not block.
Result<std::string> ReadYamlFile(const std::string& path);

}  // namespace pilotlight::config
