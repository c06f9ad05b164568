// The write lease over HTTP: the controller's LeaseServer grants it, the primary
// region's agent keeps it with RunLeaseKeeper, fencing its own PostgreSQL when
// it cannot.
//
// Protocol (JSON over HTTP/1.1; every request signed, lease_auth.h):
//   POST /v1/lease  {"holder": "primary"}   Authorization: PL-Lease-HMAC-SHA256 ...
//     200 {"granted": true, "duration_ms": 6000, "epoch": 7}
//     409 {"granted": false, "reason": "...", "fence": bool}   no lease; "fence":
//         true when revoked for good (failed over): stop writes even without a lease
//   GET  /v1/lease  (signed the same way)
//     200 {"holder", "granting", "revoked", "expires_at", "reason"}
//   503 (signed) this controller does not lead, or cannot record a grant: no
//       answer, so the keeper keeps what it holds until it runs out
//   401 no credential, a malformed one, or a MAC that no key verifies;
//   403 a timestamp outside ±window of the controller's clock, or a renewal
//       whose sequence is not above the last one accepted from that holder.
//   Neither changes anything nor says anything about the lease. Every answer
//   to a request whose MAC verified carries X-Pilotlight-Lease-Mac; the agent
//   ignores an answer without a valid one (it counts as no answer).
// Boost.Beast and nlohmann stay in lease_http.cc.
//
// The server bounds what one client can hold (DESIGN.md rule 6, with the
// shared rules of http/client_bounds.h): at most max_connections sessions at
// once, and at most PerClientLimit of them from one client address; a new
// connection of an address at its share closes that address's OLDEST session
// still reading its request, and at the cap the oldest still reading of anyone
// (an idle or slow one: the agent's request arrives whole within milliseconds
// of its connect, so a flood of idle connections pushes out only its own); a
// whole request must arrive within request_deadline of the accept; headers or
// a body over 4 KiB get 431 / 413 before more is read; when the process runs
// out of descriptors the server closes the oldest reading session, or spends
// the few descriptors it keeps in reserve (the agent's connection and the write
// of its grant), rather than spin on accept.
//
// LeaseService is the thread-safe owner of the LeaseGrantor: the server thread
// renews, the controller loop sets the policy and reads the expiry. Every grant
// is written to a state file (fsync, rename) before it is answered, with the
// holder's last accepted sequence, so a restarted controller still waits out a
// lease granted by its predecessor and still refuses a replay of it.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "controller/lease.h"
#include "controller/lease_auth.h"
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
  // In-process renewal (tests, the controller's own bookkeeping): no credential.
  LeaseAnswer Renew(const std::string& holder);

  // A request from the network, with its credential.
  enum class Verdict {
    kAccepted,
    kBadMac,    // no key verifies the MAC (401)
    kStale,     // the timestamp is outside ±clock_window of this controller's clock (403)
    kReplayed,  // a renewal's sequence is not above the holder's last accepted one (403)
  };
  struct Checked {
    Verdict verdict = Verdict::kBadMac;
    std::string why;     // for the requester and the log; never a key
    LeaseAnswer answer;  // RenewSigned, when accepted
  };
  // Checks the MAC and the timestamp (a GET: reading needs the credential too,
  // but consumes no sequence number, as a replayed read changes nothing).
  Checked Authenticate(std::string_view method, const LeaseCredential& c,
                       const LeaseKeyring& keys) const;
  // Authenticate, then the sequence, then Renew(c.holder), atomically: a refused
  // credential changes nothing; an accepted one raises the holder's sequence
  // even when the lease is refused.
  Checked RenewSigned(const LeaseCredential& c, const LeaseKeyring& keys);
  // How far a credential's timestamp may be from this controller's clock
  // (default: the lease's duration). A renewal delayed up to this long is still
  // granted, counted from its arrival, so this bounds how much a captured and
  // delayed renewal can postpone a failover.
  void SetClockWindow(Duration window);
  // The highest sequence accepted from `holder` (0: none).
  uint64_t last_sequence(const std::string& holder) const;

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
  Duration clock_window_;
  std::map<std::string, uint64_t> last_seq_;  // per holder: the DR agent signs too
};

struct LeaseServerOptions {
  // Sessions at once (each holds one descriptor).
  size_t max_connections = 64;
  // Sessions of one client address at once; 0: a quarter of max_connections.
  size_t max_connections_per_client = 0;
  // From the accept to the whole request (header and body).
  Duration request_deadline = std::chrono::seconds(1);
  // Writing the answer.
  Duration answer_deadline = std::chrono::seconds(1);
};

class LeaseServer {
 public:
  // Listens on address:port (0: any free port) and serves until Stop(); only
  // requests signed with a key of `keys` (re-read when the file changes).
  static Result<std::unique_ptr<LeaseServer>> Start(const std::string& address, uint16_t port,
                                                    LeaseService& service,
                                                    std::shared_ptr<LeaseKeyring> keys,
                                                    LeaseServerOptions options = {});
  ~LeaseServer();
  uint16_t port() const;
  void Stop();

 private:
  struct Impl;
  explicit LeaseServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// One signed renewal request for signer.holder(); Unavailable / Timeout when
// no answer came by `timeout`, or when the answer is not the controller's (no
// valid answer MAC), or the controller refused the credential (401/403: a wrong
// key, a clock off by more than the window): none of these is a refusal of the
// lease, so the keeper keeps what it holds until it runs out.
Result<LeaseAnswer> RequestRenewal(const std::string& address, uint16_t port, LeaseSigner& signer,
                                   Duration timeout);
// The lease's state (GET), as the JSON the server sent, its answer MAC verified.
Result<std::string> RequestLeaseState(const std::string& address, uint16_t port,
                                      LeaseSigner& signer, Duration timeout);

// "host:port" -> (host, port).
Result<std::pair<std::string, uint16_t>> ParseHostPort(const std::string& text);

struct LeaseKeeperOptions {
  std::string controller;   // "host:port" of the controller's lease server
  std::string holder;       // this region's name
  std::string secret_file;  // the lease secret shared with the controller (lease_auth.h)
  pg::Endpoint database;    // the region's application database (fenced on loss)
  Duration request_timeout = std::chrono::seconds(1);
  Duration fence_timeout = std::chrono::seconds(5);
  // The server itself, when the keeper runs on its host (the region agent).
  // Then the SQL fence gets `sql_fence_budget` (well inside the lease's last
  // duration/6, when the keeper fences); a fence that failed or did not finish
  // by then (the server's slots are full, its backends are frozen) is replaced
  // by killing the server (pg::KillServer), so the lease's expiry means
  // "fenced" by construction. Without it, only the SQL fence.
  std::optional<pg::LocalServer> local_server;
  Duration sql_fence_budget = std::chrono::milliseconds(500);
  LeaseKeeper::Options keeper;
};

// What the keeper loop does to the database; the real one fences with
// pg::Fence(kReadOnly) (and, with a local server, kills it when that fails in
// its budget) and lifts it with pg::Unfence. Tests may count calls.
struct LeaseEffects {
  std::function<Status()> fence;
  std::function<Status()> unfence;
};
LeaseEffects PostgresLeaseEffects(const LeaseKeeperOptions& options, Clock& clock);

// The agent's loop: renew every duration/3, fence the database when the lease is
// lost (refused, or not renewed `duration/6` before it ends), lift that fence
// when the lease is granted again. Signs with the keys of options.secret_file
// (re-read when it changes; without a valid one nothing can be renewed, which
// counts as no answer). Runs until `stop` is set; logs each change of state.
// Call it from the agent's main thread or a thread of its own.
void RunLeaseKeeper(const LeaseKeeperOptions& options, const LeaseEffects& effects,
                    Clock& clock, const std::atomic<bool>& stop);

}  // namespace pilotlight::controller
