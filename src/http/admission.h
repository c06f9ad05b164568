// Admission of a new connection: the server-wide cap and the per-client share.
//
// DecideAdmission is pure (counts in, verdict out) so its table of cases is a
// unit test; ConnectionLedger keeps the counts by client address for a server
// and applies it. What a server does with a refusal is its own choice: the
// trader answers 503 and closes, the lease server pushes out that client's
// oldest session still reading (its agent's request arrives whole within
// milliseconds, so a flood from its own address pushes out only the flood).
//
// ConnectionLedger is thread-safe (the trader admits on its accept thread and
// releases on each connection's thread).
#pragma once

#include <cstddef>
#include <map>
#include <mutex>
#include <string>

#include "http/client_bounds.h"

namespace pilotlight::http {

enum class Admission {
  kAdmitted,
  kServerFull,       // max_connections are open
  kClientShareUsed,  // this client address holds PerClientLimit already
};
// "admitted", "server full", "client share used".
const char* AdmissionName(Admission a);

// `open_total`: connections open now; `open_by_client`: those of the new
// connection's address (both without the new one).
Admission DecideAdmission(size_t open_total, size_t open_by_client, const ClientBounds& bounds);

class ConnectionLedger {
 public:
  explicit ConnectionLedger(const ClientBounds& bounds) : bounds_(bounds) {}

  // Counts a connection of `client` when admitted; a refused one is not counted.
  Admission Admit(const std::string& client);
  // Forces the count (a server that made room itself, by closing another).
  void Add(const std::string& client);
  // REQUIRES: `client` was admitted (or added) and not released since.
  void Release(const std::string& client);

  size_t open() const;
  size_t open_by(const std::string& client) const;
  const ClientBounds& bounds() const { return bounds_; }

 private:
  const ClientBounds bounds_;
  mutable std::mutex mu_;
  size_t open_ = 0;
  std::map<std::string, size_t> by_client_;
};

}  // namespace pilotlight::http
