// Drill history: JSON lines, or the drills' own SQLite store (drill/history.h);
// nlohmann stays inside this file and report.cc.
#include "cost/history.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/duration.h"
#include "drill/history.h"
#include "sys/whole_file.h"

namespace pilotlight::cost {
namespace {

using config::ConfigError;

constexpr double kMaxSeconds = 365.0 * 24 * 3600;
constexpr size_t kMaxShownChars = 40;

std::string Shown(std::string_view text) {
  std::string out = "'";
  for (size_t i = 0; i < text.size(); ++i) {
    if (i == kMaxShownChars) {
      out += "...";
      break;
    }
    const auto c = static_cast<unsigned char>(text[i]);
    out += (c < 0x20 || c == 0x7f) ? '?' : static_cast<char>(c);
  }
  return out + "'";
}

// Reads one line; appends an error and returns nullopt when it is bad.
std::optional<DrillRecord> ParseLine(std::string_view line, const std::string& file, int number,
                                     std::vector<ConfigError>& errors) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(line);
  } catch (const nlohmann::json::parse_error& e) {
    const int column = static_cast<int>(std::min<size_t>(e.byte, line.size() + 1));
    errors.push_back({{file, number, std::max(column, 1)},
                      "",
                      "a JSON object {\"rto_seconds\": ..., \"rpo_seconds\": ..., \"at\": ...}",
                      "invalid JSON " + Shown(line)});
    return std::nullopt;
  } catch (const nlohmann::json::exception& e) {
    // E.g. a number beyond double's range: valid JSON, but not a duration.
    errors.push_back({{file, number, 1},
                      "",
                      "numbers a double can hold",
                      "'" + std::string(e.what()).substr(0, 80) + "'"});
    return std::nullopt;
  }
  if (!j.is_object()) {
    errors.push_back({{file, number, 1}, "", "a JSON object", Shown(line)});
    return std::nullopt;
  }
  DrillRecord r;
  r.line = number;
  bool ok = true;
  for (const auto& [key, value] : j.items()) {
    if (key != "rto_seconds" && key != "rpo_seconds" && key != "at") {
      errors.push_back({{file, number, 1},
                        key,
                        "only the keys rto_seconds, rpo_seconds, at",
                        "unknown key " + Shown(key)});
      ok = false;
    }
  }
  for (const char* key : {"rto_seconds", "rpo_seconds"}) {
    const auto it = j.find(key);
    if (it == j.end()) {
      errors.push_back(
          {{file, number, 1}, key, "a number of seconds", "no '" + std::string(key) + "' key"});
      ok = false;
      continue;
    }
    if (!it->is_number() || !std::isfinite(it->get<double>()) || it->get<double>() < 0 ||
        it->get<double>() > kMaxSeconds) {
      errors.push_back(
          {{file, number, 1}, key, "a number of seconds from 0 to 31536000", Shown(it->dump())});
      ok = false;
      continue;
    }
    (std::string_view(key) == "rto_seconds" ? r.rto_seconds : r.rpo_seconds) = it->get<double>();
  }
  const auto at = j.find("at");
  if (at == j.end() || !at->is_string() || at->get<std::string>().empty()) {
    errors.push_back({{file, number, 1},
                      "at",
                      "the drill's time as a string, e.g. "
                      "2026-11-26T00:17:34Z",
                      at == j.end() ? "no 'at' key" : Shown(at->dump())});
    ok = false;
  } else {
    r.at = at->get<std::string>();
  }
  if (!ok) return std::nullopt;
  return r;
}

}  // namespace

HistoryResult ParseHistory(std::string_view text, const std::string& file) {
  HistoryResult result;
  int number = 0;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    ++number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
    if (std::optional<DrillRecord> r = ParseLine(line, file, number, result.errors)) {
      result.drills.push_back(std::move(*r));
    }
  }
  if (!result.errors.empty()) result.drills.clear();
  return result;
}

namespace {

bool IsSqliteFile(const std::string& path) {
  static constexpr char kMagic[] = "SQLite format 3";  // and its NUL: 16 bytes
  char header[sizeof(kMagic)] = {};
  std::ifstream in(path, std::ios::binary);
  return in.read(header, sizeof(header)) && std::memcmp(header, kMagic, sizeof(kMagic)) == 0;
}

HistoryResult DrillsFromStore(const std::vector<drill::HistoryEntry>& newest_first) {
  HistoryResult result;
  for (auto it = newest_first.rbegin(); it != newest_first.rend(); ++it) {
    // Drills without a failover to measure (refused, no RTO) say nothing of recovery.
    if (!it->rto_seconds || !it->rpo_database) continue;
    result.drills.push_back({*it->rto_seconds, it->rpo_database->seconds,
                             FormatTime(it->started_at), static_cast<int>(it->id)});
  }
  return result;
}

}  // namespace

HistoryResult LoadHistoryFile(const std::string& path) {
  if (IsSqliteFile(path)) {
    HistoryResult r;
    Result<std::unique_ptr<drill::HistoryStore>> store =
        drill::HistoryStore::Open(path, /*create=*/false);
    if (!store.ok()) {
      r.errors.push_back({{path, 0, 0}, "", "a readable drill history", store.status().message()});
      return r;
    }
    Result<std::vector<drill::HistoryEntry>> entries = (*store)->List(0);
    if (!entries.ok()) {
      r.errors.push_back(
          {{path, 0, 0}, "", "a readable drill history", entries.status().message()});
      return r;
    }
    return DrillsFromStore(*entries);
  }
  Result<std::string> text = sys::ReadWholeFile(path);
  if (!text.ok()) {
    HistoryResult r;
    r.errors.push_back(
        {{path, 0, 0}, "", "a readable drill history file", text.status().message()});
    return r;
  }
  return ParseHistory(*text, path);
}

std::optional<MeasuredRecovery> Summarize(const std::vector<DrillRecord>& drills, int recent) {
  if (drills.empty()) return std::nullopt;
  MeasuredRecovery m;
  m.drills = static_cast<int>(drills.size());
  m.latest = drills.back();
  m.recent = std::min(std::max(recent, 1), m.drills);
  for (size_t i = drills.size() - static_cast<size_t>(m.recent); i < drills.size(); ++i) {
    m.worst_rto_seconds = std::max(m.worst_rto_seconds, drills[i].rto_seconds);
    m.worst_rpo_seconds = std::max(m.worst_rpo_seconds, drills[i].rpo_seconds);
  }
  return m;
}

}  // namespace pilotlight::cost
