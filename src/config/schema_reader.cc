#include "config/schema_reader.h"

#include <algorithm>
#include <exception>

#include "core/duration.h"

namespace pilotlight::config {
namespace {

constexpr size_t kMaxShownChars = 40;

bool InClass(char c, std::string_view cls) {
  for (size_t i = 0; i < cls.size(); ++i) {
    if (i + 2 < cls.size() && cls[i + 1] == '-') {
      if (c >= cls[i] && c <= cls[i + 2]) return true;
      i += 2;
    } else if (c == cls[i]) {
      return true;
    }
  }
  return false;
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

// ---------------------------------------------------------------------------
// Pure helpers.

bool Matches(std::string_view s, const NamePattern& p) {
  if (s.empty() || s.size() > p.max_rest + 1 || !InClass(s[0], p.first)) return false;
  return std::all_of(s.begin() + 1, s.end(), [&](char c) { return InClass(c, p.rest); });
}

std::optional<int64_t> ParseInteger(std::string_view s) {
  const bool negative = !s.empty() && s[0] == '-';
  if (negative) s.remove_prefix(1);
  if (s.empty() || s.size() > 18) return std::nullopt;
  int64_t value = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  return negative ? -value : value;
}

std::string_view Suggest(std::string_view word, std::span<const std::string_view> known) {
  std::string_view best;
  size_t best_distance = 3;
  for (std::string_view k : known) {
    const size_t gap = word.size() > k.size() ? word.size() - k.size() : k.size() - word.size();
    if (gap >= best_distance) continue;  // also keeps the work small for huge keys
    const size_t d = EditDistance(word, k);
    if (d < best_distance) {
      best = k;
      best_distance = d;
    }
  }
  return best;
}

std::string JoinKeys(std::span<const std::string_view> keys) {
  std::string out;
  for (std::string_view k : keys) {
    if (!out.empty()) out += ", ";
    out += k;
  }
  return out;
}

std::string Escape(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (i == kMaxShownChars) {
      out += "...";
      break;
    }
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string Quote(std::string_view text) { return "'" + Escape(text) + "'"; }

std::string DurationExpectation(const Status& status) {
  std::string_view message = status.message();
  constexpr std::string_view kExpected = "expected ";
  if (message.substr(0, kExpected.size()) == kExpected) {
    message.remove_prefix(kExpected.size());
    const size_t found = message.rfind(", found ");
    if (found != std::string_view::npos) message = message.substr(0, found);
    return std::string(message);
  }
  // "duration '60' needs a unit ..." -> "'60' needs a unit ...".
  constexpr std::string_view kSubject = "duration ";
  if (message.substr(0, kSubject.size()) == kSubject) message.remove_prefix(kSubject.size());
  return "a valid duration (" + std::string(message) + ")";
}

std::string Child(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

std::string Index(const std::string& path, size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

std::string FirstHolder(const std::string& path, const SourceLocation& where) {
  return path + " at line " + std::to_string(where.line);
}

SourceLocation WhereIn(const std::string& file, const YamlMark& m) {
  if (m.line < 0 || m.column < 0) return {file, 0, 0};
  return {file, m.line + 1, m.column + 1};
}

bool IsEmptySection(const YamlNode& v) {
  return v.IsNull() || ((v.IsSequence() || v.IsMap()) && v.size() == 0);
}

std::string Describe(const YamlNode& node) {
  switch (node.type()) {
    case YamlNode::Type::kScalar:
      return Quote(node.Scalar());
    case YamlNode::Type::kSequence:
      return "a sequence";
    case YamlNode::Type::kMap:
      return "a mapping";
    case YamlNode::Type::kNull:
      return "null";
    case YamlNode::Type::kUndefined:
      break;
  }
  return "nothing";
}

std::vector<ConfigError> WalkYaml(std::string_view text, const std::string& file,
                                  std::string_view expected_when_empty,
                                  std::string_view internal_expected, SchemaReader& reader,
                                  const std::function<void(const YamlNode& root)>& walk) {
  YamlDocument doc = ParseYaml(text, file);
  if (doc.error) return {std::move(*doc.error)};
  if (doc.documents == 0) {
    return {{{file, 1, 1}, "", std::string(expected_when_empty), "an empty file"}};
  }
  std::vector<ConfigError> errors;
  try {
    if (doc.documents > 1) {
      reader.Report(doc.second, "", "a single YAML document", "a second document");
    }
    walk(doc.root);
    errors = reader.TakeErrors();
  } catch (const std::exception& e) {
    errors = {{{file, 0, 0},
               "",
               std::string(internal_expected),
               std::string("an internal error: ") + e.what()}};
  }
  SortByLocation(errors);
  return errors;
}

void SortByLocation(std::vector<ConfigError>& errors) {
  std::stable_sort(errors.begin(), errors.end(), [](const ConfigError& a, const ConfigError& b) {
    return std::pair(a.where.line, a.where.column) < std::pair(b.where.line, b.where.column);
  });
}

// ---------------------------------------------------------------------------
// The schema walk.

const Field* Mapping::Find(std::string_view key) const {
  for (const Field& f : fields) {
    if (f.key.Scalar() == key) return &f;
  }
  return nullptr;
}

std::optional<Mapping> SchemaReader::AsMapping(const YamlNode& node, const YamlMark& at,
                                               const std::string& path, std::string_view what,
                                               std::span<const std::string_view> allowed,
                                               std::string_view any_key) {
  if (!node.IsMap()) {
    Report(at, path, std::string(what), Describe(node));
    return std::nullopt;
  }
  Mapping m{path, node.Mark(), {}};
  for (const auto& [key, value] : node.Entries()) {
    if (!key.IsScalar()) {
      Report(key.Mark(), path,
             allowed.empty() ? std::string(any_key) + " as a key"
                             : "a plain key such as '" + std::string(allowed.front()) + "'",
             Describe(key) + " as a key");
      continue;
    }
    const std::string& name = key.Scalar();
    if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      std::string expected = "one of the keys " + JoinKeys(allowed);
      const std::string_view hint = Suggest(name, allowed);
      if (!hint.empty()) expected += " (did you mean '" + std::string(hint) + "'?)";
      Report(key.Mark(), Child(path, Escape(name)), std::move(expected),
             "unknown key " + Quote(name));
      continue;
    }
    const std::string field_path = Child(path, Escape(name));
    if (const Field* first = m.Find(name)) {
      Report(key.Mark(), field_path,
             "each key at most once (first '" + Escape(name) + "' at line " +
                 std::to_string(Where(first->key.Mark()).line) + ")",
             "a second '" + Escape(name) + "'");
      continue;
    }
    m.fields.push_back({field_path, key, value});
  }
  return m;
}

const Field* SchemaReader::Require(const Mapping& m, std::string_view key,
                                   std::string_view expected) {
  const Field* f = m.Find(key);
  if (f == nullptr) {
    Report(m.mark, Child(m.path, key), std::string(expected), "no '" + std::string(key) + "' key");
  }
  return f;
}

std::optional<std::string> SchemaReader::ReadScalar(const Field& f, std::string_view expected) {
  if (!f.value.IsScalar()) {
    Report(At(f), f.path, std::string(expected), Describe(f.value));
    return std::nullopt;
  }
  if (f.value.Scalar().size() > kMaxScalarBytes) {
    Report(At(f), f.path,
           "a value of at most " + std::to_string(kMaxScalarBytes) + " bytes (" +
               std::string(expected) + ")",
           std::to_string(f.value.Scalar().size()) + " bytes");
    return std::nullopt;
  }
  return f.value.Scalar();
}

std::optional<std::string> SchemaReader::ReadFreeName(const Field& f, std::string_view expected) {
  std::optional<std::string> text = ReadScalar(f, expected);
  if (!text) return std::nullopt;
  if (text->empty()) {
    Report(At(f), f.path, std::string(expected), "''");
    return std::nullopt;
  }
  if (text->size() > kMaxNameBytes) {
    Report(At(f), f.path,
           std::string(expected) + " of at most " + std::to_string(kMaxNameBytes) + " bytes",
           "a name of " + std::to_string(text->size()) + " bytes");
    return std::nullopt;
  }
  return text;
}

std::optional<std::string> SchemaReader::ReadName(const Field& f, const NamePattern& pattern) {
  std::optional<std::string> text = ReadScalar(f, pattern.what);
  if (text && !Matches(*text, pattern)) {
    Report(At(f), f.path, std::string(pattern.what), Quote(*text));
    return std::nullopt;
  }
  return text;
}

std::optional<int64_t> SchemaReader::ReadInteger(const Field& f, int64_t min, int64_t max,
                                                 std::string_view expected) {
  std::optional<std::string> text = ReadScalar(f, expected);
  if (!text) return std::nullopt;
  const std::optional<int64_t> value = ParseInteger(*text);
  if (!value || *value < min || *value > max) {
    Report(At(f), f.path, std::string(expected), Quote(*text));
    return std::nullopt;
  }
  return value;
}

std::optional<uint16_t> SchemaReader::ReadPort(const Field& f) {
  const std::optional<int64_t> port = ReadInteger(f, 1, 65535, "an integer port 1-65535");
  if (!port) return std::nullopt;
  return static_cast<uint16_t>(*port);
}

std::optional<Duration> SchemaReader::ReadDuration(const Field& f, Duration min, Duration max,
                                                   std::string_view expected) {
  std::optional<std::string> text = ReadScalar(f, "a duration such as 500ms, 5s, 15m or 1h");
  if (!text) return std::nullopt;
  Result<Duration> d = ParseDuration(*text);
  if (!d.ok()) {
    Report(At(f), f.path, DurationExpectation(d.status()), Quote(*text));
    return std::nullopt;
  }
  if (*d < min || *d > max) {
    Report(At(f), f.path, std::string(expected), Quote(*text));
    return std::nullopt;
  }
  return *d;
}

std::optional<bool> SchemaReader::ReadBool(const Field& f) {
  std::optional<std::string> text = ReadScalar(f, "true or false");
  if (!text) return std::nullopt;
  if (*text == "true") return true;
  if (*text == "false") return false;
  Report(At(f), f.path, "true or false", Quote(*text));
  return std::nullopt;
}

std::optional<size_t> SchemaReader::ReadChoice(const Field& f,
                                               std::span<const std::string_view> choices,
                                               std::string_view what) {
  const std::string expected = std::string(what) + ": one of " + JoinKeys(choices);
  std::optional<std::string> text = ReadScalar(f, expected);
  if (!text) return std::nullopt;
  for (size_t i = 0; i < choices.size(); ++i) {
    if (choices[i] == *text) return i;
  }
  std::string with_hint = expected;
  const std::string_view hint = Suggest(*text, choices);
  if (!hint.empty()) with_hint += " (did you mean '" + std::string(hint) + "'?)";
  Report(At(f), f.path, std::move(with_hint), Quote(*text));
  return std::nullopt;
}

std::optional<std::vector<Field>> SchemaReader::Elements(const Field& f, std::string_view what) {
  if (!f.value.IsSequence()) {
    Report(At(f), f.path, std::string(what), Describe(f.value));
    return std::nullopt;
  }
  std::vector<Field> out;
  size_t i = 0;
  for (const YamlNode& item : f.value.Items()) {
    // A null element (`- `) is reported at the sequence, like an empty value at its key.
    out.push_back({Index(f.path, i++), item.IsNull() ? f.value : item, item});
  }
  return out;
}

std::vector<std::pair<std::string, Field>> SchemaReader::ReadNames(const Field& f,
                                                                   const NamePattern& pattern,
                                                                   std::string_view what) {
  std::vector<std::pair<std::string, Field>> out;
  const std::optional<std::vector<Field>> items = Elements(f, what);
  if (!items) return out;
  for (const Field& item : *items) {
    if (std::optional<std::string> name = ReadName(item, pattern)) out.emplace_back(*name, item);
  }
  return out;
}

void SchemaReader::Define(std::map<std::string, std::string>& holders, const std::string& name,
                          const std::string& item_path, const Field& f, std::string_view what) {
  auto [first, inserted] = holders.emplace(name, FirstHolder(item_path, Where(At(f))));
  if (!inserted) {
    Report(At(f), f.path,
           std::string(what) + " used once (" + first->second + " is '" + name + "')", Quote(name));
  }
}

void SchemaReader::RejectKeys(const Mapping& m, std::span<const std::string_view> allowed,
                              std::span<const std::string_view> also, const std::string& kind) {
  for (const Field& f : m.fields) {
    const std::string& key = f.key.Scalar();
    const auto in = [&key](std::span<const std::string_view> keys) {
      return std::find(keys.begin(), keys.end(), key) != keys.end();
    };
    if (in(allowed) || in(also)) continue;
    std::string keys = JoinKeys(allowed);
    if (!also.empty()) keys += ", " + JoinKeys(also);
    Report(f.key.Mark(), f.path, "a key of " + kind + ": " + keys,
           Quote(key) + ", which does not apply to " + kind);
  }
}

}  // namespace pilotlight::config
