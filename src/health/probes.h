// Asynchronous probes: one HTTP, TCP, PostgreSQL or DNS probe on an event loop.
//
// StartProbe begins a probe on the caller's Boost.Asio io_context and returns at
// once; `done` is called exactly once, on the loop's thread, with what the probe
// found: nothing blocks the loop (libpq runs in its nonblocking mode with its
// socket watched by the loop; DNS is one UDP exchange built here). Every failure
// (unreachable host, timeout, a response that never ends, oversize headers, TLS
// spoken to a plain port, DNS garbage) becomes a failed ProbeResult whose detail
// says what happened. Used by HealthMonitor; the io_context type is only
// forward-declared so this header stays light.
//
// Caveat: a PostgreSQL or HTTP target given by host name (not address) is
// resolved by the resolver's background thread (HTTP/TCP/DNS) or by libpq's
// synchronous lookup (PostgreSQL); give addresses for PostgreSQL targets.
#pragma once

#include <functional>
#include <string>

#include "core/clock.h"
#include "health/check.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace pilotlight::health {

// Where one vantage point sends a check's probes.
struct ProbeTarget {
  std::string host;
  uint16_t port = 0;
  std::string source_address;  // empty: any
  std::string ToString() const;  // "127.0.1.1:5432"
};

ProbeTarget TargetFor(const CheckSpec& check, const VantageSpec& vantage);

using ProbeDone = std::function<void(ProbeResult)>;

// REQUIRES: spec outlives the probe (until `done` has run or io is destroyed);
// spec.kind is not kCalculated. The result's `at` and `latency` come from `clock`.
void StartProbe(boost::asio::io_context& io, const Clock& clock, const CheckSpec& spec,
                const ProbeTarget& target, ProbeDone done);

}  // namespace pilotlight::health
