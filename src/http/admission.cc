#include "http/admission.h"

#include <algorithm>

namespace pilotlight::http {

size_t PerClientLimit(const ClientBounds& b) {
  const size_t cap = std::max<size_t>(b.max_connections, 1);
  const size_t share = b.max_connections_per_client != 0 ? b.max_connections_per_client : cap / 4;
  return std::clamp<size_t>(share, 1, cap);
}

Status Validate(const ClientBounds& b, const std::string& who) {
  auto bad = [&](const std::string& field, const std::string& what) {
    return Status::InvalidArgument(who + ": " + field + " " + what);
  };
  if (b.max_connections == 0) return bad("max_connections", "must be at least 1");
  if (b.max_connections_per_client > b.max_connections) {
    return bad("max_connections_per_client",
               "(" + std::to_string(b.max_connections_per_client) +
                   ") must not exceed max_connections (" + std::to_string(b.max_connections) +
                   "); 0 means a quarter of it");
  }
  if (b.request_deadline <= Duration::zero()) return bad("request_deadline", "must be above 0");
  if (b.idle_timeout <= Duration::zero()) return bad("idle_timeout", "must be above 0");
  if (b.answer_deadline <= Duration::zero()) return bad("answer_deadline", "must be above 0");
  if (b.max_header_bytes == 0) return bad("max_header_bytes", "must be at least 1");
  return Status::OK();
}

const char* AdmissionName(Admission a) {
  switch (a) {
    case Admission::kAdmitted:
      return "admitted";
    case Admission::kServerFull:
      return "server full";
    case Admission::kClientShareUsed:
      return "client share used";
  }
  return "?";
}

Admission DecideAdmission(size_t open_total, size_t open_by_client, const ClientBounds& b) {
  // The share first: a client at its share is told so even when the server is
  // also full, so the server may make room among that client's own connections.
  if (open_by_client >= PerClientLimit(b)) return Admission::kClientShareUsed;
  if (open_total >= std::max<size_t>(b.max_connections, 1)) return Admission::kServerFull;
  return Admission::kAdmitted;
}

Admission ConnectionLedger::Admit(const std::string& client) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_client_.find(client);
  const Admission a = DecideAdmission(open_, it == by_client_.end() ? 0 : it->second, bounds_);
  if (a == Admission::kAdmitted) {
    ++open_;
    ++by_client_[client];
  }
  return a;
}

void ConnectionLedger::Add(const std::string& client) {
  std::lock_guard<std::mutex> lock(mu_);
  ++open_;
  ++by_client_[client];
}

void ConnectionLedger::Release(const std::string& client) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_client_.find(client);
  if (it == by_client_.end()) return;
  if (--it->second == 0) by_client_.erase(it);
  if (open_ > 0) --open_;
}

size_t ConnectionLedger::open() const {
  std::lock_guard<std::mutex> lock(mu_);
  return open_;
}

size_t ConnectionLedger::open_by(const std::string& client) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_client_.find(client);
  return it == by_client_.end() ? 0 : it->second;
}

}  // namespace pilotlight::http
