// The write lease over HTTP: the controller's LeaseServer grants it, the primary
// region's agent keeps it with RunLeaseKeeper, fencing its own PostgreSQL when
// it cannot.
//
// Protocol (JSON over HTTP/1.1):
//   POST /v1/lease  {"holder": "primary"}
//     200 {"granted": true, "duration_ms": 6000, "epoch": 7}
//     409 {"granted": false, "reason": "...", "fence": bool}   no lease; "fence":
//         true when revoked for good (failed over): stop writes even without a lease
//   GET  /v1/lease  200 {"holder", "granting", "revoked", "expires_at", "reason"}
// Boost.Beast and nlohmann stay in lease_http.cc.
//
// LeaseService is the thread-safe owner of the LeaseGrantor: the server thread
// renews, the controller loop sets the policy and reads the expiry. Every grant
// is written to a state file (fsync, rename) before it is answered, so a
// restarted controller still waits out a lease granted by its predecessor.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "controller/lease.h"
#include "core/clock.h"
#include "core/status.h"
#include "data/postgres/failover.h"
#include "data/postgres/pg_client.h"

namespace pilotlight::controller {

class LeaseService {
 public:
  // `state_file` "" keeps no state (tests).
  LeaseService(LeaseGrantor grantor, const Clock& clock, std::string state_file);

  // Reads the state file (absent: nothing granted yet). A damaged file is an error.
  Status Load();
  LeaseAnswer Renew(const std::string& holder);
  void SetGranting(bool granting, const std::string& why);
  void Revoke(const std::string& why);
  // Several controllers (leader.h): renewals are answered only while `serving`
  // says this one leads; otherwise the server answers 503, which a keeper counts
  // as no answer (it keeps its lease until it ends, it does not fence at once)
  // while it finds the leader's lease.endpoint. Unset: always serves.
  void SetServingGate(std::function<bool()> serving);
  bool serving() const;
  void Rearm();
  std::optional<WallTime> ExpiresAt() const;
  bool granting() const;
  bool revoked() const;
  std::string holder() const;
  std::string refusal() const;

 private:
  mutable std::mutex mu_;
  LeaseGrantor grantor_;
  const Clock& clock_;
  std::string state_file_;
  std::function<bool()> serving_;
};

class LeaseServer {
 public:
  // Listens on address:port (0: any free port) and serves until Stop().
  static Result<std::unique_ptr<LeaseServer>> Start(const std::string& address, uint16_t port,
                                                    LeaseService& service);
  ~LeaseServer();
  uint16_t port() const;
  void Stop();

 private:
  struct Impl;
  explicit LeaseServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// One renewal request; Unavailable / Timeout when no answer came by `timeout`.
Result<LeaseAnswer> RequestRenewal(const std::string& address, uint16_t port,
                                   const std::string& holder, Duration timeout);

// "host:port" -> (host, port).
Result<std::pair<std::string, uint16_t>> ParseHostPort(const std::string& text);

struct LeaseKeeperOptions {
  std::string controller;  // "host:port" of the controller's lease server
  std::string holder;      // this region's name
  pg::Endpoint database;   // the region's application database (fenced on loss)
  Duration request_timeout = std::chrono::seconds(1);
  Duration fence_timeout = std::chrono::seconds(5);
  LeaseKeeper::Options keeper;
};

// What the keeper loop does to the database; the real one fences with
// pg::Fence(kReadOnly) and lifts it with pg::Unfence. Tests may count calls.
struct LeaseEffects {
  std::function<Status()> fence;
  std::function<Status()> unfence;
};
LeaseEffects PostgresLeaseEffects(const LeaseKeeperOptions& options, const Clock& clock);

// The agent's loop: renew every duration/3, fence the database when the lease is
// lost (refused, or not renewed `duration/6` before it ends), lift that fence
// when the lease is granted again. Runs until `stop` is set; logs each change of
// state. Call it from the agent's main thread or a thread of its own.
void RunLeaseKeeper(const LeaseKeeperOptions& options, const LeaseEffects& effects,
                    Clock& clock, const std::atomic<bool>& stop);

}  // namespace pilotlight::controller
