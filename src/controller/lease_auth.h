// Credentials of the write lease: only a holder of the lease secret may renew
// (or read) the lease, and only the controller's answers count. DESIGN.md safety
// rule 6: the write lease is a door that changes state, so it authenticates.
//
// The controller and the primary region's agent share a secret file (mode 0600
// or stricter; one key per line, at least 32 characters each). The FIRST key
// signs; EVERY key verifies, so a key is rotated without a gap (add the new key
// as a second line on the controller, switch the agent to it, drop the old one:
// docs/operations.md). Both sides re-read the file when it changes.
//
// A request carries
//   Authorization: PL-Lease-HMAC-SHA256 holder=primary,seq=N,ts=MS,mac=HEX
//   mac = HMAC-SHA256(key, "pilotlight-lease-v1\n" METHOD "\n" TARGET "\n" holder "\n"
//                          seq "\n" ts)
// where ts is the signer's wall clock (ms since the epoch) and seq grows with
// every request of that holder (LeaseSigner: max(last + 1, now in µs), so it
// still grows across a restart of the agent). The controller (LeaseService)
// refuses a bad MAC, a ts outside ±window of its clock, and a renewal whose seq
// is not above the last one it accepted from that holder (a replay).
// An answer to a request that passed the MAC carries, under the key that
// verified the request (so an agent that holds only the old key during a
// rotation still verifies its answers),
//   X-Pilotlight-Lease-Mac: HEX = HMAC-SHA256(key, "pilotlight-lease-answer-v1\n" holder "\n"
//                                             seq "\n" HTTP-STATUS "\n" BODY)
// so the agent never believes a grant (or a "fence now") that the controller did
// not give for that very request.
//
// The secret's bytes never appear in a message, a log line or an exception.
// Thread-safety: LeaseKeyring and LeaseSigner are thread-safe; the free
// functions are pure.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/status.h"

namespace pilotlight::controller {

inline constexpr char kLeaseAuthScheme[] = "PL-Lease-HMAC-SHA256";
inline constexpr char kLeaseAnswerMacHeader[] = "X-Pilotlight-Lease-Mac";
inline constexpr char kLeaseTarget[] = "/v1/lease";
// A key shorter than this is refused (the lab writes 64 hex characters).
inline constexpr size_t kLeaseMinKeyLength = 32;

// The shared secret, loaded from its file.
class LeaseKeyring {
 public:
  // Reads the secret file. Refused: an absent file (NotFound), one that the
  // group or others may read or write or that is not a regular file
  // (FailedPrecondition: "chmod 600 FILE"), one with no key or a key shorter
  // than kLeaseMinKeyLength (InvalidArgument). Messages name the file, never a key.
  static Result<std::shared_ptr<LeaseKeyring>> Open(const std::string& path);

  // Re-reads the file if it changed (inode, size or mtime). When the new content
  // is refused, the keys in use stay and the error says why.
  Status Refresh();

  // Hex HMAC-SHA256 of `message` under the first key ("" if it has none).
  std::string Sign(std::string_view message) const { return SignWith(0, message); }
  // ... under key `index` (the one Match found), "" if there is no such key.
  std::string SignWith(size_t index, std::string_view message) const;
  // The index of a key under which `mac_hex` is the HMAC of `message`; every
  // key is tried, each compared in constant time.
  std::optional<size_t> Match(std::string_view message, std::string_view mac_hex) const;
  bool Verify(std::string_view message, std::string_view mac_hex) const {
    return Match(message, mac_hex).has_value();
  }

  const std::string& path() const { return path_; }

  LeaseKeyring(const LeaseKeyring&) = delete;
  LeaseKeyring& operator=(const LeaseKeyring&) = delete;
  ~LeaseKeyring();

 private:
  struct FileId {
    dev_t dev = 0;
    ino_t ino = 0;
    off_t size = 0;
    int64_t mtime_ns = 0;
    bool operator==(const FileId& o) const {
      return dev == o.dev && ino == o.ino && size == o.size && mtime_ns == o.mtime_ns;
    }
  };
  explicit LeaseKeyring(std::string path) : path_(std::move(path)) {}
  static Status Read(const std::string& path, std::vector<std::string>* keys, FileId* id);

  const std::string path_;
  mutable std::mutex mu_;
  std::vector<std::string> keys_;
  FileId id_;
};

// Writes a new secret (32 random bytes as 64 hex characters) to `path` with
// mode 0600 unless the file exists; an existing file must pass Open's checks.
// Creates the parent directory. For the lab; production secrets are the
// operator's (docs/operations.md).
Status EnsureLeaseSecret(const std::string& path);

// What a request claims and proves.
struct LeaseCredential {
  std::string holder;
  uint64_t seq = 0;
  int64_t ts_ms = 0;  // the signer's wall clock, ms since the epoch
  std::string mac;    // hex
};

// The bytes a request's MAC covers.
std::string LeaseRequestMessage(std::string_view method, std::string_view target,
                                const LeaseCredential& c);
// The bytes an answer's MAC covers.
std::string LeaseAnswerMessage(const LeaseCredential& request, int http_status,
                               std::string_view body);
// The Authorization header's value, and back. Parse errors are InvalidArgument.
std::string FormatLeaseAuthorization(const LeaseCredential& c);
Result<LeaseCredential> ParseLeaseAuthorization(std::string_view header);

// Signs one holder's requests.
class LeaseSigner {
 public:
  LeaseSigner(std::shared_ptr<LeaseKeyring> keys, std::string holder, const Clock& clock);
  // A fresh credential for `method` on `target`.
  LeaseCredential Sign(std::string_view method, std::string_view target = kLeaseTarget);
  const LeaseKeyring& keys() const { return *keys_; }
  const std::string& holder() const { return holder_; }

 private:
  std::shared_ptr<LeaseKeyring> keys_;
  const std::string holder_;
  const Clock& clock_;
  std::mutex mu_;
  uint64_t last_seq_ = 0;
};

}  // namespace pilotlight::controller
