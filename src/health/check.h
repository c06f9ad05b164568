// Health checks: what pilotlight probes, how often, and what a probe found.
//
// A CheckSpec describes one health check the way Route 53 does (HTTP, TCP,
// PostgreSQL, DNS, or a calculated check over other checks), plus the Envoy-style
// thresholds that keep one lost probe from flipping its state, and the vantage
// points it is probed from. ProbeResult is what one probe from one vantage point
// found. All types here are plain values: thread-compatible, cheap to copy. Pure:
// no I/O.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/status.h"

namespace pilotlight::health {

enum class ProbeKind { kHttp, kTcp, kPostgres, kDns, kCalculated };
const char* ProbeKindName(ProbeKind kind);  // "http" | "tcp" | "postgres" | "dns" | "calculated"

// kUnknown until a threshold has been reached for the first time.
enum class HealthStatus { kUnknown, kHealthy, kUnhealthy };
const char* HealthStatusName(HealthStatus status);  // "unknown" | "healthy" | "unhealthy"

// One place a check is probed from. In production each vantage point is a
// checker in another site; in process, a vantage point may override the target
// (host/port, e.g. to reach the service through another path) and the local
// address probes are sent from. `site` says where the checker runs (a region's
// name or the third site's): the controller counts one vote per site, and a
// probe agent (`pilotlight probe run --site S`) probes the vantage points of its
// own site only.
struct VantageSpec {
  std::string name;
  std::string host;            // empty: the check's host
  uint16_t port = 0;           // 0: the check's port
  std::string source_address;  // empty: any
  std::string site;            // empty: the site of whichever process probes it
};

struct CheckSpec {
  std::string name;
  ProbeKind kind = ProbeKind::kTcp;

  // Target (every kind but calculated). IPv4/IPv6 literal or a host name.
  std::string host;
  uint16_t port = 0;

  // HTTP: GET `path`; healthy when the status is in [status_min, status_max] and,
  // when body_contains is set, it appears in the first kHttpBodySearchBytes of the body.
  bool https = false;  // TLS without certificate verification (as Route 53 does)
  std::string path = "/";
  std::string host_header;  // empty: host
  int status_min = 200;
  int status_max = 399;
  std::string body_contains;

  // PostgreSQL: connect and run SELECT 1; with must_be_writable the server must
  // also be out of recovery and not default_transaction_read_only.
  std::string pg_user = "postgres";
  std::string pg_database = "postgres";
  // The password of pg_user (a 0600 file, read at each probe; empty: none) and
  // libpq's sslmode/sslrootcert (empty: disable, as the probe asks for no TLS).
  // The config fills them from the probed region (config::ApplySecretsDir).
  std::string pg_password_file;
  std::string pg_sslmode;
  std::string pg_sslrootcert;
  bool must_be_writable = false;

  // DNS: an A query for dns_name over UDP; healthy on NOERROR with an answer.
  std::string dns_name;

  // Schedule and thresholds.
  Duration interval = std::chrono::seconds(1);  // at least kMinInterval
  Duration timeout = std::chrono::seconds(1);   // whole probe; at most interval
  Duration connect_timeout = std::chrono::milliseconds(500);  // at most timeout
  Duration jitter = Duration::zero();  // each interval is lengthened by [0, jitter)
  int failure_threshold = 3;           // consecutive failures to become unhealthy
  int success_threshold = 2;           // consecutive successes to become healthy

  // Vantage points; none means one vantage point named "local".
  std::vector<VantageSpec> vantages;
  // How many vantage points must see the check unhealthy for it to be unhealthy;
  // 0 means a majority.
  int unhealthy_quorum = 0;

  // Calculated: healthy when at least min_healthy_children of `children` are
  // healthy (0 means all of them: AND; 1 is OR), then optionally inverted.
  std::vector<std::string> children;
  int min_healthy_children = 0;
  bool inverted = false;

  // Topics every transition of this check is published to.
  std::vector<std::string> topics;
};

constexpr Duration kMinInterval = std::chrono::milliseconds(100);
constexpr size_t kHttpBodySearchBytes = 5120;

// The vantage points a check is actually probed from ("local" when none are given).
std::vector<VantageSpec> EffectiveVantages(const CheckSpec& spec);
// The quorum actually used: unhealthy_quorum, or a majority of the vantage points.
int EffectiveQuorum(const CheckSpec& spec);

// Every problem with a set of checks at once (names, ranges, thresholds, unknown
// or cyclic children), each naming the check and the field.
Status ValidateChecks(const std::vector<CheckSpec>& specs);

// What one probe from one vantage point found.
//
// A refused connection or an error answer is the target's definitive failure. A
// timeout is ambiguous: the target may be gone, or our own checker may have been
// too starved of CPU (or stopped) to see its answer in time. A timeout of a probe
// that started late or whose timer fired late is therefore `late`: inconclusive,
// it neither advances the failure count nor resets it (IsLateProbe).
struct ProbeResult {
  bool ok = false;
  std::string detail;   // "HTTP 200", "connection refused", "timed out after 500ms"...
  Duration latency{};   // from start to result
  WallTime at{};        // when the result came
  Duration lateness{};  // scheduling lateness: actual start - scheduled start
  // Set when a timer ended the probe: the timer's length (the probe's timeout or
  // its connect_timeout). Unset for an answer or a definitive error.
  std::optional<Duration> timed_out_after;
  bool late = false;  // inconclusive: our checker was too late to judge (see above)
};

enum class ProbeVerdict { kHealthy, kFailed, kTimedOut, kLate };
ProbeVerdict VerdictOf(const ProbeResult& result);
const char* ProbeVerdictName(ProbeVerdict verdict);  // "healthy" | "failed" | "timed out" | "late"

// How late a probe may start (or its timer fire) before a timeout says more about
// our checker than about the target: max(100ms, timeout / 4).
Duration LateTolerance(const CheckSpec& spec);

// True when `result` timed out and either the probe started more than
// LateTolerance after it was due, or it took more than its timer + LateTolerance
// (the timer itself fired late: the checker was starved or the process stopped).
// Answers and definitive errors are never late: the target spoke.
bool IsLateProbe(const CheckSpec& spec, const ProbeResult& result);

}  // namespace pilotlight::health
