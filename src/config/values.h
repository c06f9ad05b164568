// The values a config holds that are more than a name or a number: addresses,
// host names, URLs, metrics, HTTP status ranges; and the wording of a failed
// lookup ("a topic defined under topics (ops, pager)"). Pure functions, private
// to src/config; thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "alarm/metrics.h"
#include "config/model.h"

namespace pilotlight::config {

// Dotted-quad IPv4, each part 0-255 written in decimal without leading zeros.
bool IsIpv4(std::string_view s);
bool IsIpv6(std::string_view s);
bool IsIpAddress(std::string_view s);
// An IP literal, or a host name of letters, digits and hyphens in dot-separated
// labels (RFC 1123). Digits and dots alone must form an IPv4 address.
bool IsHost(std::string_view s);
// "ADDRESS:PORT" with an IPv4 address or a bracketed IPv6 one; with
// `default_port`, the port may be left out. nullopt when malformed.
std::optional<ListenAddress> ParseHostPort(std::string_view text,
                                           std::optional<uint16_t> default_port);
// Why `url` is no webhook URL the notifier can post to ("" when it is one).
std::string WebhookUrlProblem(std::string_view url);
// "http://HOST:PORT" (no path, no TLS): one etcd endpoint of leader_election.etcd.
bool IsEtcdUrl(const std::string& url);
// A finite decimal number such as 1, -0.5 or 2.5e3; nullopt otherwise.
std::optional<double> ParseNumber(std::string_view s);
// A metric in Prometheus notation: name{label="value",...}. Why it is not one
// goes to `problem`.
std::optional<alarm::MetricKey> ParseMetric(std::string_view text, std::string& problem);
// "200-399" or "200": an HTTP status range within 100-599.
std::optional<std::pair<int, int>> ParseStatusRange(std::string_view s);
std::string Lower(std::string_view s);  // ASCII
// Whether `record` (relative to a zone's origin, or absolute) names a record
// set of one of `zones`.
bool RecordInZones(const std::string& record, const std::vector<dns::ZoneSpec>& zones);
// The first record names of `zones`, for an error: "api, trade, ...".
std::string ZoneRecordNames(const std::vector<dns::ZoneSpec>& zones);
// "the names under topics (ops, pager)", or that there are none, for a failed lookup.
std::string Known(std::string_view what, const std::map<std::string, std::string>& names);
// `expected`, with a did-you-mean for `word` among `names` when one is close.
std::string WithHint(std::string expected, std::string_view word,
                     const std::map<std::string, std::string>& names);

}  // namespace pilotlight::config
