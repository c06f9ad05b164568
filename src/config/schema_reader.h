// Walking a parsed YAML tree (config/yaml_reader.h) along a schema: the base of
// the config loader's reader, the price list's and anything else that reads an
// operator-written YAML file the same way.
//
// A SchemaReader records a ConfigError (file:line:col, the field's path, what
// was expected and what was found) for every problem and carries on, so one run
// reports everything. Unknown keys are errors, with a did-you-mean; duplicate
// keys too. Every scalar the walk reads is bounded (kMaxScalarBytes); a value
// that quotes the file is shortened and its control bytes escaped, so a hostile
// file cannot flood or drive the operator's terminal.
//
// Thread-safety: a reader is single use and single threaded; the free helpers
// are pure.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config_error.h"
#include "config/yaml_reader.h"
#include "core/clock.h"
#include "core/status.h"

namespace pilotlight::config {

// Any scalar the walk reads: longer is an error naming the field.
inline constexpr size_t kMaxScalarBytes = 64 * 1024;
// Free-form names (a platform, a runbook step): longer is an error.
inline constexpr size_t kMaxNameBytes = 253;

// ---------------------------------------------------------------------------
// Pure helpers: no YAML here.

// `text` shortened to 40 characters, with control bytes escaped.
std::string Escape(std::string_view text);
std::string Quote(std::string_view text);  // "'" + Escape(text) + "'"
// The closest of `known` within edit distance 2 of `word`, or "".
std::string_view Suggest(std::string_view word, std::span<const std::string_view> known);
std::string JoinKeys(std::span<const std::string_view> keys);  // "a, b, c"
// A plain decimal integer, optionally negative; nullopt for anything else
// (including 1.5, 0x10, 1e3) and for values beyond +-10^18.
std::optional<int64_t> ParseInteger(std::string_view s);
// "expected a duration such as 5s, found 'x'" -> "a duration such as 5s".
std::string DurationExpectation(const Status& status);

// A name rule such as [a-z][a-z0-9-]{0,31}: a first character from `first`,
// then at most `max_rest` characters from `rest`. Classes are written like
// regex brackets without the brackets ("a-z0-9-"; a trailing '-' is literal).
struct NamePattern {
  std::string_view first;
  std::string_view rest;
  size_t max_rest;
  std::string_view what;  // "a region name matching [a-z][a-z0-9-]{0,31}"
};
bool Matches(std::string_view s, const NamePattern& p);

std::string Child(const std::string& path, std::string_view key);  // "a.b"
std::string Index(const std::string& path, size_t i);              // "a[1]"
// "regions[0] at line 6": how a later duplicate names the first holder.
std::string FirstHolder(const std::string& path, const SourceLocation& where);
// Parser marks are 0-based; ours are 1-based, 0 meaning unknown.
SourceLocation WhereIn(const std::string& file, const YamlMark& m);
// What a node is, for `found`: 'abc', null, a sequence, a mapping.
std::string Describe(const YamlNode& node);
bool IsEmptySection(const YamlNode& v);  // null, [] or {}
// By line and column; errors at one place keep their order.
void SortByLocation(std::vector<ConfigError>& errors);

// ---------------------------------------------------------------------------
// The schema walk.

// One entry of a mapping: the key, its value and the path naming it.
struct Field {
  std::string path;  // "regions[1].postgres.port"
  YamlNode key;
  YamlNode value;
};

// A mapping whose keys were checked: each entry is an allowed key, seen once.
struct Mapping {
  std::string path;
  YamlMark mark;
  std::vector<Field> fields;

  const Field* Find(std::string_view key) const;
};

class SchemaReader {
 public:
  explicit SchemaReader(std::string file) : file_(std::move(file)) {}

  std::vector<ConfigError> TakeErrors() { return std::move(errors_); }
  SourceLocation Where(const YamlMark& mark) const { return WhereIn(file_, mark); }
  void Report(const YamlMark& at, std::string field, std::string expected, std::string found) {
    Report(Where(at), std::move(field), std::move(expected), std::move(found));
  }
  void Report(SourceLocation where, std::string field, std::string expected, std::string found) {
    errors_.push_back({std::move(where), std::move(field), std::move(expected), std::move(found)});
  }

 protected:
  // An empty value (`key:`) gets its mark from the next token, often on the
  // next line; the key's own position is where the operator should look.
  static YamlMark At(const Field& f) { return f.value.IsNull() ? f.key.Mark() : f.value.Mark(); }

  // Checks that `node` is a mapping of allowed, unique, scalar keys. Bad
  // entries are reported and left out; nullopt when `node` is no mapping. An
  // empty `allowed` accepts any scalar key (`any_key` then says what a key is).
  std::optional<Mapping> AsMapping(const YamlNode& node, const YamlMark& at,
                                   const std::string& path, std::string_view what,
                                   std::span<const std::string_view> allowed,
                                   std::string_view any_key = {});
  // As AsMapping, for the value of a field.
  std::optional<Mapping> FieldMapping(const Field& f, std::string_view what,
                                      std::span<const std::string_view> allowed) {
    return AsMapping(f.value, At(f), f.path, what, allowed);
  }
  // Reports a missing required key; returns the field when present.
  const Field* Require(const Mapping& m, std::string_view key, std::string_view expected);

  // A scalar of at most kMaxScalarBytes.
  std::optional<std::string> ReadScalar(const Field& f, std::string_view expected);
  // A non-empty scalar of at most kMaxNameBytes; `expected` says what it names.
  std::optional<std::string> ReadFreeName(const Field& f, std::string_view expected);
  std::optional<std::string> ReadName(const Field& f, const NamePattern& pattern);
  std::optional<int64_t> ReadInteger(const Field& f, int64_t min, int64_t max,
                                     std::string_view expected);
  std::optional<uint16_t> ReadPort(const Field& f);
  // A duration in [min, max]; `expected` describes that range.
  std::optional<Duration> ReadDuration(const Field& f, Duration min, Duration max,
                                       std::string_view expected);
  std::optional<Duration> ReadPositiveDuration(const Field& f) {
    return ReadDuration(f, Duration(1), Duration::max(), "a duration greater than 0, e.g. 60s");
  }
  std::optional<bool> ReadBool(const Field& f);
  // The index of the value among `choices`; `what` names them ("a check type").
  std::optional<size_t> ReadChoice(const Field& f, std::span<const std::string_view> choices,
                                   std::string_view what);
  // The elements of a sequence field, each as a Field named path[i]; reports a
  // value that is no sequence.
  std::optional<std::vector<Field>> Elements(const Field& f, std::string_view what);
  // A sequence of names, or reports why not.
  std::vector<std::pair<std::string, Field>> ReadNames(const Field& f, const NamePattern& pattern,
                                                       std::string_view what);
  // Records `name` (of the item at `item_path`) in `holders`; reports a second use.
  void Define(std::map<std::string, std::string>& holders, const std::string& name,
              const std::string& item_path, const Field& f, std::string_view what);
  // Keys of `m` outside `allowed` and `also` do not apply to the item's `kind`.
  void RejectKeys(const Mapping& m, std::span<const std::string_view> allowed,
                  std::span<const std::string_view> also, const std::string& kind);

  std::string file_;
  std::vector<ConfigError> errors_;
};

// Parses `text` and, when it holds a document, hands the first to `walk` (which
// reads it with `reader`): every error, sorted by location. A text without a
// document is one error expecting `expected_when_empty`; more than one document
// is an error at the second; an exception from the walk (a bug, or memory
// exhausted) is an error expecting `internal_expected`, so callers fail closed.
std::vector<ConfigError> WalkYaml(std::string_view text, const std::string& file,
                                  std::string_view expected_when_empty,
                                  std::string_view internal_expected, SchemaReader& reader,
                                  const std::function<void(const YamlNode& root)>& walk);

}  // namespace pilotlight::config
