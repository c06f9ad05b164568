// The YAML adapter of the price file: the only file of src/cost that includes
// yaml-cpp.
//
// It follows config/loader.cc: yaml-cpp parses the text into a node tree, a
// PriceReader walks that tree along the schema, recording an error (with the
// field path and file:line:col) for every problem and carrying on. Every
// yaml-cpp exception stops here. The helpers below are small copies of the
// loader's (they are private to loader.cc); the walk only descends as deep as
// the schema, so self-referencing aliases cannot make it loop.
#include "cost/prices.h"
#include "sys/whole_file.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <exception>
#include <span>
#include <sstream>
#include <utility>


namespace pilotlight::cost {
namespace {

using config::ConfigError;
using config::SourceLocation;

constexpr std::string_view kTopKeys[] = {"source",    "currency",         "hours_per_month",
                                         "instances", "storage_gb_month", "transfer_gb",
                                         "dns_month"};
constexpr std::string_view kInstanceKeys[] = {"on_demand_hourly", "reserved_hourly"};
constexpr std::string_view kStorageKeys[] = {"database", "objects", "backups"};
constexpr std::string_view kTransferKeys[] = {"inter_region"};
constexpr std::string_view kDnsKeys[] = {"hosted_zone", "health_check"};

constexpr Micros kMaxPrice = 10'000 * kMicrosPerUnit;
constexpr int kMaxDecimals = 6;
constexpr size_t kMaxShownChars = 40;
constexpr int kMaxScannedDocuments = 16;
constexpr char kPriceExpected[] = "a price such as 0.096 (0 to 10000, at most 6 decimals)";
constexpr char kInstanceTypeExpected[] =
    "an instance type such as m5.large, matching [A-Za-z0-9][A-Za-z0-9._-]{0,63}";

// ---------------------------------------------------------------------------
// Pure helpers (as in config/loader.cc).

bool IsInstanceType(std::string_view s) {
  const auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (s.empty() || s.size() > 64 || !alnum(s[0])) return false;
  return std::all_of(s.begin() + 1, s.end(),
                     [&](char c) { return alnum(c) || c == '.' || c == '_' || c == '-'; });
}

// "0.096" -> 96'000. Plain decimals only: no sign, exponent or leading '.'.
std::optional<Micros> ParsePrice(std::string_view s) {
  const size_t dot = s.find('.');
  const std::string_view whole = s.substr(0, dot);
  const std::string_view fraction =
      dot == std::string_view::npos ? std::string_view() : s.substr(dot + 1);
  const auto digits = [](std::string_view d) {
    return std::all_of(d.begin(), d.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (whole.empty() || whole.size() > 6 || !digits(whole)) return std::nullopt;
  if (dot != std::string_view::npos && (fraction.empty() || !digits(fraction))) return std::nullopt;
  if (fraction.size() > static_cast<size_t>(kMaxDecimals)) return std::nullopt;
  Micros value = 0;
  for (char c : whole) value = value * 10 + (c - '0');
  value *= kMicrosPerUnit;
  Micros scale = kMicrosPerUnit;
  for (char c : fraction) {
    scale /= 10;
    value += (c - '0') * scale;
  }
  if (value > kMaxPrice) return std::nullopt;
  return value;
}

std::optional<int64_t> ParseInteger(std::string_view s) {
  if (s.empty() || s.size() > 9) return std::nullopt;
  int64_t value = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  return value;
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

// The closest of `known` within edit distance 2 of `word`, or "".
std::string_view Suggest(std::string_view word, std::span<const std::string_view> known) {
  std::string_view best;
  size_t best_distance = 3;
  for (std::string_view k : known) {
    const size_t gap = word.size() > k.size() ? word.size() - k.size() : k.size() - word.size();
    if (gap >= best_distance) continue;
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

// `text` shortened, with control bytes escaped.
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

// 96'000 -> "0.096": exact, without trailing zeros.
std::string FormatPrice(Micros price) {
  std::string fraction = std::to_string(price % kMicrosPerUnit);
  fraction.insert(0, 6 - fraction.size(), '0');
  while (!fraction.empty() && fraction.back() == '0') fraction.pop_back();
  return std::to_string(price / kMicrosPerUnit) + (fraction.empty() ? "" : "." + fraction);
}

// ---------------------------------------------------------------------------
// The schema walk.

struct Field {
  std::string path;  // "instances.m5.large.on_demand_hourly"
  YAML::Node key;
  YAML::Node value;
};

struct Mapping {
  std::string path;
  YAML::Mark mark;
  std::vector<Field> fields;

  const Field* Find(std::string_view key) const {
    for (const Field& f : fields) {
      if (f.key.Scalar() == key) return &f;
    }
    return nullptr;
  }
};

std::string Child(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

SourceLocation WhereIn(const std::string& file, const YAML::Mark& m) {
  if (m.line < 0 || m.column < 0) return {file, 0, 0};
  return {file, m.line + 1, m.column + 1};
}

std::string Describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      return Quote(node.Scalar());
    case YAML::NodeType::Sequence:
      return "a sequence";
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Null:
      return "null";
    case YAML::NodeType::Undefined:
      break;
  }
  return "nothing";
}

// Walks one price document, filling Prices and recording errors. Single use.
class PriceReader {
 public:
  explicit PriceReader(const std::string& file) : file_(file) {}

  Prices Read(const YAML::Node& root);
  std::vector<ConfigError> TakeErrors() { return std::move(errors_); }

  SourceLocation Where(const YAML::Mark& mark) const { return WhereIn(file_, mark); }
  void Report(const YAML::Mark& at, std::string field, std::string expected, std::string found) {
    errors_.push_back({Where(at), std::move(field), std::move(expected), std::move(found)});
  }

 private:
  static YAML::Mark At(const Field& f) { return f.value.IsNull() ? f.key.Mark() : f.value.Mark(); }

  // A mapping whose keys are all in `allowed` (when given) and unique; with no
  // `allowed`, any key is accepted (instance types), still once each.
  std::optional<Mapping> AsMapping(const YAML::Node& node, const YAML::Mark& at,
                                   const std::string& path, std::string_view what,
                                   std::span<const std::string_view> allowed);
  std::optional<Mapping> FieldMapping(const Field& f, std::span<const std::string_view> allowed) {
    const std::string what = "a mapping with the keys " + JoinKeys(allowed);
    return AsMapping(f.value, At(f), f.path, what, allowed);
  }
  const Field* Require(const Mapping& m, std::string_view key, std::string_view expected);
  std::optional<std::string> ReadScalar(const Field& f, std::string_view expected);
  std::optional<Micros> ReadPrice(const Field& f);
  // Reads each of `keys` from `m` as a required price into its target.
  void ReadPrices(const Mapping& m, std::span<const std::pair<std::string_view, Micros*>> keys);
  void ReadInstances(const Field& f, Prices& out);

  std::string file_;
  std::vector<ConfigError> errors_;
};

std::optional<Mapping> PriceReader::AsMapping(const YAML::Node& node, const YAML::Mark& at,
                                              const std::string& path, std::string_view what,
                                              std::span<const std::string_view> allowed) {
  if (!node.IsMap()) {
    Report(at, path, std::string(what), Describe(node));
    return std::nullopt;
  }
  Mapping m{path, node.Mark(), {}};
  for (auto it = node.begin(); it != node.end(); ++it) {
    const YAML::Node key = it->first;
    const YAML::Node value = it->second;
    if (!key.IsScalar()) {
      Report(key.Mark(), path,
             allowed.empty() ? std::string(kInstanceTypeExpected) + " as a key"
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

const Field* PriceReader::Require(const Mapping& m, std::string_view key,
                                  std::string_view expected) {
  const Field* f = m.Find(key);
  if (f == nullptr) {
    Report(m.mark, Child(m.path, key), std::string(expected), "no '" + std::string(key) + "' key");
  }
  return f;
}

std::optional<std::string> PriceReader::ReadScalar(const Field& f, std::string_view expected) {
  if (!f.value.IsScalar()) {
    Report(At(f), f.path, std::string(expected), Describe(f.value));
    return std::nullopt;
  }
  return f.value.Scalar();
}

std::optional<Micros> PriceReader::ReadPrice(const Field& f) {
  const std::optional<std::string> text = ReadScalar(f, kPriceExpected);
  if (!text) return std::nullopt;
  const std::optional<Micros> price = ParsePrice(*text);
  if (!price) Report(At(f), f.path, kPriceExpected, Quote(*text));
  return price;
}

void PriceReader::ReadPrices(const Mapping& m,
                             std::span<const std::pair<std::string_view, Micros*>> keys) {
  for (const auto& [key, target] : keys) {
    if (const Field* f = Require(m, key, kPriceExpected)) {
      if (std::optional<Micros> price = ReadPrice(*f)) *target = *price;
    }
  }
}

void PriceReader::ReadInstances(const Field& f, Prices& out) {
  const std::optional<Mapping> m =
      AsMapping(f.value, At(f), f.path,
                "a mapping from instance type to {on_demand_hourly, reserved_hourly}", {});
  if (!m) return;
  for (const Field& entry : m->fields) {
    const std::string& type = entry.key.Scalar();
    if (!IsInstanceType(type)) {
      Report(entry.key.Mark(), entry.path, kInstanceTypeExpected, Quote(type));
      continue;
    }
    const std::optional<Mapping> rates = FieldMapping(entry, kInstanceKeys);
    if (!rates) continue;
    InstancePrice price;
    price.where = Where(entry.key.Mark());
    bool on_demand_ok = false;
    if (const Field* o = Require(*rates, "on_demand_hourly", kPriceExpected)) {
      if (std::optional<Micros> p = ReadPrice(*o)) {
        price.on_demand_hourly = *p;
        on_demand_ok = true;
      }
    }
    price.reserved_hourly = price.on_demand_hourly;
    if (const Field* r = rates->Find("reserved_hourly")) {
      if (std::optional<Micros> p = ReadPrice(*r)) {
        // A reservation dearer than on demand is a typo, not a deal.
        if (on_demand_ok && *p > price.on_demand_hourly) {
          Report(At(*r), r->path,
                 "at most on_demand_hourly (" + FormatPrice(price.on_demand_hourly) + ")",
                 Quote(r->value.Scalar()));
        } else {
          price.reserved_hourly = *p;
        }
      }
    }
    out.instances.emplace(type, price);
  }
}

Prices PriceReader::Read(const YAML::Node& root) {
  Prices prices;
  prices.file = file_;
  const std::optional<Mapping> top =
      AsMapping(root, root.Mark(), "", "a mapping with the keys " + JoinKeys(kTopKeys), kTopKeys);
  if (!top) return prices;

  constexpr char kSource[] = "a non-empty note saying where these prices come from";
  if (const Field* f = Require(*top, "source", kSource)) {
    if (std::optional<std::string> s = ReadScalar(*f, kSource)) {
      if (s->empty()) {
        Report(At(*f), f->path, kSource, "''");
      } else {
        prices.source = std::move(*s);
      }
    }
  }
  constexpr char kCurrency[] = "a currency code of three capital letters such as USD";
  if (const Field* f = Require(*top, "currency", kCurrency)) {
    if (std::optional<std::string> c = ReadScalar(*f, kCurrency)) {
      if (c->size() == 3 &&
          std::all_of(c->begin(), c->end(), [](char ch) { return ch >= 'A' && ch <= 'Z'; })) {
        prices.currency = std::move(*c);
      } else {
        Report(At(*f), f->path, kCurrency, Quote(*c));
      }
    }
  }
  if (const Field* f = top->Find("hours_per_month")) {
    constexpr char kHours[] = "an integer 672-744 (hours in a month; 730 on average)";
    if (std::optional<std::string> text = ReadScalar(*f, kHours)) {
      const std::optional<int64_t> hours = ParseInteger(*text);
      if (hours && *hours >= 672 && *hours <= 744) {
        prices.hours_per_month = static_cast<int>(*hours);
      } else {
        Report(At(*f), f->path, kHours, Quote(*text));
      }
    }
  }
  if (const Field* f = Require(*top, "instances", "a mapping from instance type to rates")) {
    ReadInstances(*f, prices);
  }
  if (const Field* f =
          Require(*top, "storage_gb_month", "a mapping with the keys " + JoinKeys(kStorageKeys))) {
    if (const std::optional<Mapping> m = FieldMapping(*f, kStorageKeys)) {
      const std::pair<std::string_view, Micros*> keys[] = {
          {"database", &prices.database_storage_gb_month},
          {"objects", &prices.object_storage_gb_month},
          {"backups", &prices.backup_storage_gb_month},
      };
      ReadPrices(*m, keys);
    }
  }
  if (const Field* f =
          Require(*top, "transfer_gb", "a mapping with the key " + JoinKeys(kTransferKeys))) {
    if (const std::optional<Mapping> m = FieldMapping(*f, kTransferKeys)) {
      const std::pair<std::string_view, Micros*> keys[] = {
          {"inter_region", &prices.inter_region_transfer_gb}};
      ReadPrices(*m, keys);
    }
  }
  if (const Field* f =
          Require(*top, "dns_month", "a mapping with the keys " + JoinKeys(kDnsKeys))) {
    if (const std::optional<Mapping> m = FieldMapping(*f, kDnsKeys)) {
      const std::pair<std::string_view, Micros*> keys[] = {
          {"hosted_zone", &prices.hosted_zone_month},
          {"health_check", &prices.health_check_month},
      };
      ReadPrices(*m, keys);
    }
  }
  return prices;
}

PricesResult Failure(ConfigError error) {
  PricesResult result;
  result.errors.push_back(std::move(error));
  return result;
}

// Records where each document starts and ignores everything else.
class DocumentStarts final : public YAML::EventHandler {
 public:
  YAML::Mark start;

  void OnDocumentStart(const YAML::Mark& mark) override { start = mark; }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

struct DocumentScan {
  int documents = 0;
  YAML::Mark second;
  std::optional<YAML::Mark> stuck;
};

// As in config/loader.cc: counts documents with a bound, because yaml-cpp 0.7
// can loop forever on a stray ',' at a document start. Throws YAML::Exception.
DocumentScan ScanDocuments(const std::string& text) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  DocumentScan scan;
  std::optional<int> previous_start;
  for (int i = 0; i < kMaxScannedDocuments; ++i) {
    DocumentStarts handler;
    if (!parser.HandleNextDocument(handler)) break;
    if (previous_start == handler.start.pos) {
      scan.stuck = handler.start;
      break;
    }
    previous_start = handler.start.pos;
    if (++scan.documents == 2) scan.second = handler.start;
  }
  return scan;
}

}  // namespace

PricesResult ParsePrices(std::string_view yaml_text, const std::string& file) {
  const std::string text(yaml_text);
  DocumentScan scan;
  YAML::Node root;
  try {
    scan = ScanDocuments(text);
    if (scan.stuck) {
      const size_t pos = static_cast<size_t>(std::max(scan.stuck->pos, 0));
      const std::string token = pos < text.size() ? Quote(text.substr(pos, 1)) : "a token";
      return Failure(
          {WhereIn(file, *scan.stuck), "", "valid YAML", "a syntax error: unexpected " + token});
    }
    if (scan.documents == 0) {
      return Failure(
          {{file, 1, 1}, "", "a price file with the keys " + JoinKeys(kTopKeys), "an empty file"});
    }
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return Failure({WhereIn(file, e.mark), "", "valid YAML", "a syntax error: " + e.msg});
  } catch (const std::exception& e) {
    return Failure({{file, 1, 1}, "", "valid YAML", std::string("a parser failure: ") + e.what()});
  }

  PricesResult result;
  try {
    PriceReader reader(file);
    if (scan.documents > 1) {
      reader.Report(scan.second, "", "a single YAML document", "a second document");
    }
    Prices prices = reader.Read(root);
    result.errors = reader.TakeErrors();
    if (result.errors.empty()) result.prices = std::move(prices);
  } catch (const std::exception& e) {
    result.prices.reset();
    result.errors.push_back({{file, 0, 0},
                             "",
                             "a price file the reader can read",
                             std::string("an internal error: ") + e.what()});
  }
  std::stable_sort(
      result.errors.begin(), result.errors.end(), [](const ConfigError& a, const ConfigError& b) {
        return std::pair(a.where.line, a.where.column) < std::pair(b.where.line, b.where.column);
      });
  return result;
}

PricesResult LoadPricesFile(const std::string& path) {
  Result<std::string> text = sys::ReadWholeFile(path);
  if (!text.ok()) {
    return Failure({{path, 0, 0}, "", "a readable price file", text.status().message()});
  }
  return ParsePrices(*text, path);
}

std::string FormatMoney(Micros amount) {
  const bool negative = amount < 0;
  // Magnitudes stay far below INT64_MAX (prices and quantities are bounded).
  const int64_t magnitude = negative ? -amount : amount;
  const int64_t cents = (magnitude + kMicrosPerUnit / 200) / (kMicrosPerUnit / 100);
  std::string whole = std::to_string(cents / 100);
  for (int i = static_cast<int>(whole.size()) - 3; i > 0; i -= 3) whole.insert(i, ",");
  const int64_t rest = cents % 100;
  std::string out = negative && cents != 0 ? "-" : "";
  out += whole + "." + (rest < 10 ? "0" : "") + std::to_string(rest);
  return out;
}

double ToUnits(Micros amount) {
  return static_cast<double>(amount) / static_cast<double>(kMicrosPerUnit);
}

}  // namespace pilotlight::cost
