#include "config/values.h"

#include <arpa/inet.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "config/schema_reader.h"
#include "dns/wire/name.h"

namespace pilotlight::config {

// Dotted-quad IPv4, each part 0-255 written in decimal without leading zeros.
bool IsIpv4(std::string_view s) {
  int parts = 0;
  size_t i = 0;
  while (true) {
    const size_t start = i;
    int value = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9' && i - start < 3) {
      value = value * 10 + (s[i] - '0');
      ++i;
    }
    const size_t len = i - start;
    if (len == 0 || value > 255 || (len > 1 && s[start] == '0')) return false;
    ++parts;
    if (i == s.size()) return parts == 4;
    if (s[i] != '.' || parts == 4) return false;
    ++i;
  }
}

bool IsIpv6(std::string_view s) {
  if (s.find(':') == std::string_view::npos || s.size() > 45) return false;
  in6_addr a;
  return inet_pton(AF_INET6, std::string(s).c_str(), &a) == 1;
}

bool IsIpAddress(std::string_view s) { return IsIpv4(s) || IsIpv6(s); }

// An IP literal, or a host name of letters, digits and hyphens in dot-separated
// labels (RFC 1123). Digits and dots alone must form an IPv4 address.
bool IsHost(std::string_view s) {
  if (IsIpAddress(s)) return true;
  if (s.empty() || s.size() > 253) return false;
  if (s.find_first_not_of("0123456789.") == std::string_view::npos) return false;
  size_t label = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '.') {
      if (label == 0 || s[i - 1] == '-') return false;
      label = 0;
      continue;
    }
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && !(c == '-' && label > 0)) return false;
    if (++label > 63) return false;
  }
  return label == 0 || s.back() != '-';
}

// "ADDRESS:PORT" with an IPv4 address or a bracketed IPv6 one; with
// `default_port`, the port may be left out. nullopt when malformed.
std::optional<ListenAddress> ParseHostPort(std::string_view text,
                                           std::optional<uint16_t> default_port) {
  ListenAddress out;
  std::string_view address = text;
  std::string_view port;
  bool has_port = false;
  if (!text.empty() && text[0] == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    address = text.substr(1, close - 1);
    if (!IsIpv6(address)) return std::nullopt;
    const std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest[0] != ':') return std::nullopt;
      port = rest.substr(1);
      has_port = true;
    }
  } else {
    const size_t colon = text.rfind(':');
    if (colon != std::string_view::npos) {
      address = text.substr(0, colon);
      port = text.substr(colon + 1);
      has_port = true;
    }
    if (!IsIpv4(address)) return std::nullopt;
  }
  out.address = std::string(address);
  if (!has_port) {
    if (!default_port) return std::nullopt;
    out.port = *default_port;
    return out;
  }
  const std::optional<int64_t> p = ParseInteger(port);
  if (!p || *p < 1 || *p > 65535 || port[0] == '-') return std::nullopt;
  out.port = static_cast<uint16_t>(*p);
  return out;
}

// Why `url` is no webhook URL the notifier can post to ("" when it is one):
// http://HOST[:PORT][/PATH], as notify::Notifier accepts.
std::string WebhookUrlProblem(std::string_view url) {
  const bool https = url.substr(0, 8) == "https://";
  const std::string_view kScheme = https ? "https://" : "http://";
  if (url.substr(0, kScheme.size()) != kScheme) return "an http:// or https:// URL";
  std::string_view rest = url.substr(kScheme.size());
  rest = rest.substr(0, rest.find('/'));
  if (rest.empty()) return "an http:// URL with a host";
  if (rest.find_first_of(" \t\r\n") != std::string_view::npos)
    return "an http:// URL without spaces";
  std::optional<ListenAddress> hp;
  if (rest[0] == '[') {
    hp = ParseHostPort(rest, 80);
  } else {
    const size_t colon = rest.rfind(':');
    const std::string_view host = rest.substr(0, colon);
    if (!IsHost(host)) return "an http:// URL with a valid host";
    if (colon != std::string_view::npos) {
      const std::optional<int64_t> p = ParseInteger(rest.substr(colon + 1));
      if (!p || *p < 1 || *p > 65535 || rest[colon + 1] == '-') {
        return "an http:// URL with a port 1-65535";
      }
    }
    return "";
  }
  return hp ? "" : "an http:// URL with a valid host and port";
}

// A finite decimal number such as 1, -0.5 or 2.5e3; nullopt otherwise.
std::optional<double> ParseNumber(std::string_view s) {
  if (s.empty() || s.size() > 64 ||
      s.find_first_not_of("0123456789+-.eE") != std::string_view::npos) {
    return std::nullopt;
  }
  const std::string text(s);
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || errno == ERANGE || !std::isfinite(v)) {
    return std::nullopt;
  }
  return v;
}

namespace {

bool IsMetricNameChar(char c, bool first) {
  const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  return letter || c == ':' || (!first && c >= '0' && c <= '9');
}

}  // namespace

// A metric in Prometheus notation: name{label="value",...}. Why it is not one
// goes to `problem`.
std::optional<alarm::MetricKey> ParseMetric(std::string_view text, std::string& problem) {
  size_t i = 0;
  while (i < text.size() && IsMetricNameChar(text[i], i == 0)) ++i;
  if (i == 0) {
    problem = "a metric name matching [a-zA-Z_:][a-zA-Z0-9_:]*";
    return std::nullopt;
  }
  const std::string name(text.substr(0, i));
  std::vector<std::pair<std::string, std::string>> labels;
  if (i == text.size()) return alarm::MetricKey(name, {});
  problem = "a metric such as name{label=\"value\"}";
  if (text[i] != '{' || text.back() != '}') return std::nullopt;
  ++i;
  while (i < text.size() && text[i] != '}') {
    const size_t start = i;
    while (i < text.size() && (text[i] == '_' || (text[i] >= 'a' && text[i] <= 'z') ||
                               (text[i] >= 'A' && text[i] <= 'Z') ||
                               (i > start && text[i] >= '0' && text[i] <= '9'))) {
      ++i;
    }
    if (i == start || i + 1 >= text.size() || text[i] != '=' || text[i + 1] != '"') {
      return std::nullopt;
    }
    const std::string label(text.substr(start, i - start));
    i += 2;
    std::string value;
    while (i < text.size() && text[i] != '"') {
      if (text[i] == '\\' && i + 1 < text.size()) {
        ++i;
        value += text[i] == 'n' ? '\n' : text[i];
      } else {
        value += text[i];
      }
      ++i;
    }
    if (i >= text.size()) return std::nullopt;
    ++i;  // the closing quote
    for (const auto& [k, v] : labels) {
      if (k == label) return std::nullopt;
    }
    labels.emplace_back(label, std::move(value));
    if (i < text.size() && text[i] == ',') ++i;
  }
  if (i + 1 != text.size()) return std::nullopt;
  problem.clear();
  return alarm::MetricKey(name, std::move(labels));
}

// "200-399" or "200": an HTTP status range within 100-599.
std::optional<std::pair<int, int>> ParseStatusRange(std::string_view s) {
  const size_t dash = s.find('-');
  const std::optional<int64_t> lo = ParseInteger(s.substr(0, dash));
  const std::optional<int64_t> hi =
      dash == std::string_view::npos ? lo : ParseInteger(s.substr(dash + 1));
  if (!lo || !hi || *lo < 100 || *hi > 599 || *lo > *hi || (dash == 0)) return std::nullopt;
  return std::make_pair(static_cast<int>(*lo), static_cast<int>(*hi));
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = dns::AsciiLower(c);
  return out;
}

// "the names under topics (ops, pager)", or that there are none, for a failed lookup.
std::string Known(std::string_view what, const std::map<std::string, std::string>& names) {
  if (names.empty()) return std::string(what) + " (none is defined)";
  std::string out = std::string(what) + " (";
  size_t n = 0;
  for (const auto& [name, holder] : names) {
    if (n++ == 5) {
      out += ", ...";
      break;
    }
    out += (n > 1 ? ", " : "") + name;
  }
  return out + ")";
}

// `expected`, with a did-you-mean for `word` among `names` when one is close.
std::string WithHint(std::string expected, std::string_view word,
                     const std::map<std::string, std::string>& names) {
  std::vector<std::string_view> known;
  for (const auto& [name, holder] : names) known.push_back(name);
  const std::string_view hint = Suggest(word, known);
  if (!hint.empty()) expected += " (did you mean '" + std::string(hint) + "'?)";
  return expected;
}

// Whether `record` (relative to a zone's origin, or absolute) names a record
// set of one of `zones`.
bool RecordInZones(const std::string& record, const std::vector<dns::ZoneSpec>& zones) {
  for (const dns::ZoneSpec& z : zones) {
    Result<dns::Name> origin = dns::Name::FromString(z.origin);
    if (!origin.ok()) continue;
    Result<dns::Name> want = dns::Name::FromString(record, &*origin);
    if (!want.ok()) continue;
    for (const dns::RrsetSpec& r : z.rrsets) {
      Result<dns::Name> have = dns::Name::FromString(r.name, &*origin);
      if (have.ok() && Lower(have->ToString()) == Lower(want->ToString())) return true;
    }
  }
  return false;
}

std::string ZoneRecordNames(const std::vector<dns::ZoneSpec>& zones) {
  std::string out;
  size_t n = 0;
  for (const dns::ZoneSpec& z : zones) {
    for (const dns::RrsetSpec& r : z.rrsets) {
      if (n++ == 5) return out + ", ...";
      out += (n > 1 ? ", " : "") + r.name;
    }
  }
  return out;
}

// "http://HOST:PORT" (no path, no TLS): one etcd endpoint of leader_election.etcd.
bool IsEtcdUrl(const std::string& url) {
  const std::string prefix = "http://";
  if (url.rfind(prefix, 0) != 0) return false;
  const std::string rest = url.substr(prefix.size());
  const size_t colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0 || rest.find('/') != std::string::npos) return false;
  const std::string port = rest.substr(colon + 1);
  if (port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string::npos) {
    return false;
  }
  const int n = std::stoi(port);
  return n > 0 && n <= 65535;
}

}  // namespace pilotlight::config
